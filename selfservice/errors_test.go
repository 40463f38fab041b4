package selfservice_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/kratosauth/kratosauth/selfservice"
)

// TestZeroErrorsPrint: an exported error type's zero value (and nil
// pointer) prints without panicking, and unwraps to nothing.
func TestZeroErrorsPrint(t *testing.T) {
	for name, err := range map[string]error{
		"zero *Error":       &selfservice.Error{},
		"nil *Error":        (*selfservice.Error)(nil),
		"Error with status": &selfservice.Error{Status: 502, Kratos: &selfservice.KratosError{ID: "x"}},
	} {
		assert.NotPanics(t, func() { assert.NotEmpty(t, err.Error(), name) }, name)
		assert.False(t, errors.Is(err, selfservice.ErrUnavailable), name)
	}
	e := &selfservice.Error{Kind: selfservice.ErrNotFound, Cause: errors.New("cause")}
	assert.Equal(t, "selfservice: not found: cause", e.Error())
	assert.ErrorIs(t, e, selfservice.ErrNotFound)
}
