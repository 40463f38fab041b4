// Package httpbody reads response bodies from Kratos with a size cap, for
// the whoami client and the self-service client alike.
package httpbody

import (
	"errors"
	"fmt"
	"io"
)

// ErrTooLarge is returned by ReadCapped for a body over the cap.
var ErrTooLarge = errors.New("response body too large")

// ReadCapped reads at most max bytes of r and fails with ErrTooLarge if
// there are more, so a misbehaving upstream cannot make us buffer without
// bound.
func ReadCapped(r io.Reader, max int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > max {
		return nil, fmt.Errorf("%w (over %d bytes)", ErrTooLarge, max)
	}
	return body, nil
}
