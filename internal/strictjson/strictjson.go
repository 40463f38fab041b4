// Package strictjson reads JSON the way an authorization decision needs:
// keys match exactly (encoding/json matches struct fields
// case-insensitively) and a key given twice, or beside one equal to it
// under case folding, is an error (encoding/json keeps the last, whatever
// its case), so a body or metadata document that could be read two ways is
// never read either way. Lookup finds one member; Decode reads a whole
// value into a Go type.
//
// It runs on every request of a route with a metadata predicate, so it
// scans instead of decoding: after json.Valid, which allocates nothing,
// finding a member allocates nothing either (a key written with escapes
// is unquoted with encoding/json, the one exception).
package strictjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNotFound: a key of the path is not in its object.
	ErrNotFound = errors.New("strictjson: no such member")
	// ErrDuplicateKey: an object has a key more than once, or two keys
	// equal under case folding.
	ErrDuplicateKey = errors.New("strictjson: duplicate key")
	// ErrNotObject: a value on the path is not a JSON object.
	ErrNotObject = errors.New("strictjson: not an object")
	// ErrNotStrings: ContainsString was given something other than an array
	// of strings.
	ErrNotStrings = errors.New("strictjson: not an array of strings")
	// ErrInvalid: the data is not one JSON value.
	ErrInvalid = errors.New("strictjson: invalid JSON")
)

// Lookup returns the raw value at path (object keys, outermost first) in
// data, which must be one JSON value with nothing after it but spaces. An
// empty path returns data itself once it is checked to be valid.
func Lookup(data []byte, path ...string) (json.RawMessage, error) {
	if !json.Valid(data) {
		return nil, ErrInvalid
	}
	cur := data
	for _, key := range path {
		v, err := member(cur, key)
		if err != nil {
			return nil, fmt.Errorf("%w (key %q)", err, key)
		}
		cur = v
	}
	return cur, nil
}

// ContainsString reports whether data, a valid JSON array (from Lookup),
// has an element equal to s. Anything but an array of strings is an error:
// ["admin", 1] is not a list of roles that contains "admin".
func ContainsString(data []byte, s string) (bool, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return false, ErrNotStrings
	}
	found := false
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return false, nil
	}
	for i < len(data) {
		if data[i] != '"' {
			return false, ErrNotStrings
		}
		end := stringEnd(data, i)
		if end < 0 {
			return false, ErrInvalid
		}
		if !found && stringEquals(data[i:end], s) {
			found = true
		}
		i = skipSpace(data, end)
		if i < len(data) && data[i] == ',' {
			i = skipSpace(data, i+1)
			continue
		}
		if i < len(data) && data[i] == ']' {
			return found, nil
		}
		return false, ErrInvalid
	}
	return false, ErrInvalid
}

// member returns the value of key in obj, a valid JSON value. Another key
// equal to key under case folding makes it ambiguous (ErrDuplicateKey).
func member(obj []byte, key string) (json.RawMessage, error) {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, ErrNotObject
	}
	var found json.RawMessage
	folded := false
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return nil, ErrNotFound
	}
	for i < len(obj) && obj[i] == '"' {
		end := stringEnd(obj, i)
		if end < 0 {
			return nil, ErrInvalid
		}
		match := stringEquals(obj[i:end], key)
		if !match && !folded {
			folded = stringEqualsFold(obj[i:end], key)
		}
		i = skipSpace(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return nil, ErrInvalid
		}
		i = skipSpace(obj, i+1)
		vend := valueEnd(obj, i)
		if vend < 0 {
			return nil, ErrInvalid
		}
		if match {
			if found != nil {
				return nil, ErrDuplicateKey
			}
			found = obj[i:vend]
		}
		i = skipSpace(obj, vend)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
			continue
		}
		if i < len(obj) && obj[i] == '}' {
			if found == nil {
				return nil, ErrNotFound
			}
			if folded {
				return nil, ErrDuplicateKey
			}
			return found, nil
		}
		return nil, ErrInvalid
	}
	return nil, ErrInvalid
}

// stringEquals reports whether the JSON string lit (quotes included)
// stands for s, as encoding/json decodes it: escapes and bytes outside
// ASCII (invalid UTF-8 becomes U+FFFD) go through json.Unmarshal.
func stringEquals(lit []byte, s string) bool {
	raw := lit[1 : len(lit)-1]
	if plainASCII(raw) {
		return string(raw) == s
	}
	var u string
	return json.Unmarshal(lit, &u) == nil && u == s
}

// stringEqualsFold reports whether the JSON string lit stands for a string
// equal to s under Unicode simple case folding, the equivalence by which
// encoding/json matches a key to a struct field (foldName).
func stringEqualsFold(lit []byte, s string) bool {
	raw := lit[1 : len(lit)-1]
	if plainASCII(raw) && isASCII(s) {
		if len(raw) != len(s) {
			return false
		}
		for i, c := range raw {
			if lowerASCII(c) != lowerASCII(s[i]) {
				return false
			}
		}
		return true
	}
	var u string
	return json.Unmarshal(lit, &u) == nil && strings.EqualFold(u, s)
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func plainASCII(b []byte) bool {
	for _, c := range b {
		if c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the string starting at b[i] == '"',
// or -1.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// valueEnd returns the index after the value starting at b[i], or -1.
// Valid JSON is assumed (Lookup checked it): brackets are only counted.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end := stringEnd(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i // a number, true, false or null: up to the next delimiter
	for ; j < len(b); j++ {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return j
		}
	}
	return j
}
