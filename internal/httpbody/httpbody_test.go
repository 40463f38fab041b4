package httpbody

import (
	"errors"
	"strings"
	"testing"
)

func TestReadCapped(t *testing.T) {
	for _, tc := range []struct {
		body    string
		max     int64
		tooLong bool
	}{
		{"", 4, false},
		{"abcd", 4, false},
		{"abcde", 4, true},
	} {
		got, err := ReadCapped(strings.NewReader(tc.body), tc.max)
		if tc.tooLong {
			if !errors.Is(err, ErrTooLarge) || got != nil {
				t.Errorf("%q cap %d: got %q, %v; want ErrTooLarge", tc.body, tc.max, got, err)
			}
			continue
		}
		if err != nil || string(got) != tc.body {
			t.Errorf("%q cap %d: got %q, %v", tc.body, tc.max, got, err)
		}
	}
}
