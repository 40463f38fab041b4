// Package strictjson reads one member out of JSON the way an authorization
// decision needs: keys match exactly (encoding/json matches struct fields
// case-insensitively) and a key given twice is an error (encoding/json
// keeps the last), so a body or metadata document that could be read two
// ways is never read either way.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

var (
	// ErrNotFound: a key of the path is not in its object.
	ErrNotFound = errors.New("strictjson: no such member")
	// ErrDuplicateKey: an object on the path has the key more than once.
	ErrDuplicateKey = errors.New("strictjson: duplicate key")
	// ErrNotObject: a value on the path is not a JSON object.
	ErrNotObject = errors.New("strictjson: not an object")
)

// Lookup returns the raw value at path (object keys, outermost first) in
// data, which must be one JSON value with nothing after it. An empty path
// returns data itself once it is checked to be one valid JSON value.
func Lookup(data []byte, path ...string) (json.RawMessage, error) {
	if len(path) == 0 {
		if !json.Valid(data) {
			return nil, errors.New("strictjson: invalid JSON")
		}
		return data, nil
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

// member returns the value of key in the object obj.
func member(obj []byte, key string) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, ErrNotObject
	}
	var found json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := tok.(string) // the decoder only gives strings as keys
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if k == key {
			if found != nil {
				return nil, ErrDuplicateKey
			}
			found = v
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("strictjson: data after the JSON value")
	}
	if found == nil {
		return nil, ErrNotFound
	}
	return found, nil
}
