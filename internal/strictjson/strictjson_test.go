package strictjson

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		data string
		path []string
		want string // "" for an error
		err  error
	}{
		{`{"allowed":true}`, []string{"allowed"}, `true`, nil},
		{` {"a":{"b":["x"]}, "c":1} `, []string{"a", "b"}, `["x"]`, nil},
		{`{"a":null}`, []string{"a"}, `null`, nil},
		{`{"a":1}`, nil, `{"a":1}`, nil},
		{`{"a":1`, nil, "", nil},
		// Exact keys: encoding/json would take "Allowed" for "allowed".
		{`{"Allowed":true}`, []string{"allowed"}, "", ErrNotFound},
		// Twice the same key, even spelled with an escape: ambiguous.
		{`{"allowed":false,"allowed":true}`, []string{"allowed"}, "", ErrDuplicateKey},
		{`{"allowed":false,"\u0061llowed":true}`, []string{"allowed"}, "", ErrDuplicateKey},
		{`{"a":{"b":1,"b":2}}`, []string{"a", "b"}, "", ErrDuplicateKey},
		// A key of the path beside one equal to it under case folding (as
		// encoding/json matches keys): ambiguous too.
		{`{"allowed":true,"Allowed":false}`, []string{"allowed"}, "", ErrDuplicateKey},
		{`{"Allowed":false,"allowed":true}`, []string{"allowed"}, "", ErrDuplicateKey},
		{`{"ask":true,"as\u212a":false}`, []string{"ask"}, "", ErrDuplicateKey},
		{`{"a":{"b":1,"B":2}}`, []string{"a", "b"}, "", ErrDuplicateKey},
		// Only the keys of the path decide; other members are not read.
		{`{"x":1,"x":2,"a":3}`, []string{"a"}, `3`, nil},
		{`["allowed"]`, []string{"allowed"}, "", ErrNotObject},
		{`{"a":"b"}`, []string{"a", "b"}, "", ErrNotObject},
		{`{"allowed":true}{"allowed":false}`, []string{"allowed"}, "", nil},
		{`{"allowed":true} x`, []string{"allowed"}, "", nil},
		{`{"allowed":tru}`, []string{"allowed"}, "", nil},
		{``, []string{"allowed"}, "", nil},
		{`{}`, []string{"allowed"}, "", ErrNotFound},
	} {
		got, err := Lookup([]byte(tc.data), tc.path...)
		if tc.want != "" {
			require.NoError(t, err, tc.data)
			assert.Equal(t, tc.want, string(got), tc.data)
			continue
		}
		assert.Error(t, err, tc.data)
		if tc.err != nil {
			assert.ErrorIs(t, err, tc.err, tc.data)
		}
	}
}
