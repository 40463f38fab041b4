package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

// reference is Lookup written with encoding/json's decoder: slower, and
// obviously right.
func reference(data []byte, path ...string) (json.RawMessage, error) {
	if !json.Valid(data) {
		return nil, ErrInvalid
	}
	cur := json.RawMessage(data)
	for _, key := range path {
		dec := json.NewDecoder(bytes.NewReader(cur))
		tok, _ := dec.Token()
		if d, ok := tok.(json.Delim); !ok || d != '{' {
			return nil, ErrNotObject
		}
		var found json.RawMessage
		folded := false
		for dec.More() {
			tok, _ := dec.Token()
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return nil, err
			}
			if tok.(string) == key {
				if found != nil {
					return nil, ErrDuplicateKey
				}
				found = v
			} else if strings.EqualFold(tok.(string), key) {
				folded = true
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, errors.New("trailing")
		}
		if found == nil {
			return nil, ErrNotFound
		}
		if folded {
			return nil, ErrDuplicateKey
		}
		cur = found
	}
	return cur, nil
}

func referenceContains(data []byte, s string) (bool, error) {
	var v []any
	if err := json.Unmarshal(data, &v); err != nil || v == nil {
		return false, ErrNotStrings
	}
	for _, e := range v {
		if _, ok := e.(string); !ok {
			return false, ErrNotStrings
		}
	}
	return slices.Contains(v, any(s)), nil
}

// FuzzLookup: the scanner finds what the decoder finds, and refuses what it
// refuses (duplicates, also under case folding, non-objects, missing keys).
func FuzzLookup(f *testing.F) {
	for _, s := range []string{
		`{"roles":["admin"]}`, `{"org":{"roles":["a","b"]},"x":[1,{"roles":2}]}`,
		`{"roles":1,"roles":2}`, `{"r\u006fles":["x"],"roles":[]}`, ` { "roles" : [ "a" , "b\"]" ] } `,
		`{"a":"}","roles":{"b":"]"}}`, `[]`, `null`, `{"allowed":true}`, `{"a":-1.5e3,"roles":true}`,
		`{"roles":[],"Roles":[]}`, `{"roles":[],"role\u017f":[]}`, `{"role\u017f":[]}`,
	} {
		f.Add([]byte(s), "roles", "b")
	}
	// Raw invalid UTF-8 decodes to U+FFFD: it does not equal itself.
	f.Add([]byte("{\"r\xffs\":[\"a\xff\"]}"), "r\xffs", "a\xff")
	f.Add([]byte(`{"rôles":["é"]}`), "rôles", "é")
	f.Fuzz(func(t *testing.T, data []byte, key, key2 string) {
		for _, path := range [][]string{{key}, {key, key2}} {
			got, err := Lookup(data, path...)
			want, werr := reference(data, path...)
			if (err == nil) != (werr == nil) {
				t.Fatalf("Lookup(%q, %q) = %q, %v; reference %q, %v", data, path, got, err, want, werr)
			}
			if err == nil && !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
				t.Fatalf("Lookup(%q, %q) = %q; reference %q", data, path, got, want)
			}
			if err == nil {
				c, cerr := ContainsString(got, key2)
				rc, rcerr := referenceContains(got, key2)
				if c != rc || (cerr == nil) != (rcerr == nil) {
					t.Fatalf("ContainsString(%q, %q) = %v, %v; reference %v, %v", got, key2, c, cerr, rc, rcerr)
				}
			}
		}
	})
}
