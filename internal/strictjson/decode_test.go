package strictjson

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type Inner struct {
	Kind string `json:"kind"`
}

type plan struct {
	Inner           // promoted: "kind"
	Name   string   `json:"name"`
	Seats  int      `json:"seats,omitempty"`
	Price  int      `json:"price,string"`
	Tags   []string `json:"tags"`
	Owner  *Inner   `json:"owner"`
	Since  time.Time
	Skip   string `json:"-"`
	hidden string //nolint:unused // never read by encoding/json
}

func TestDecode(t *testing.T) {
	ok := []string{
		`{"name":"pro","seats":3,"price":"12","tags":["a"],"kind":"k","owner":{"kind":"o"},"Since":"2026-12-03T00:00:00Z"}`,
		`{"name":"pro","owner":null,"tags":[]}`,
		`{"name":"pro","other":{"x":1},"Skip":"s","hidden":"h"}`, // members without a field are not read
		`{}`,
	}
	for _, data := range ok {
		var got, want plan
		require.NoError(t, Decode([]byte(data), &got), data)
		require.NoError(t, json.Unmarshal([]byte(data), &want))
		assert.Equal(t, want, got, data)
	}

	for _, tc := range []struct {
		data string
		err  error
	}{
		{`{"name":"free","name":"pro"}`, ErrDuplicateKey},
		{`{"name":"free","Name":"pro"}`, ErrDuplicateKey},
		{`{"name":"free","\u006eame":"pro"}`, ErrDuplicateKey},
		{`{"name":"pro","other":{"a":1,"A":2}}`, ErrDuplicateKey}, // not read, still ambiguous
		{`{"name":"pro","tags":[{"k":1,"K":2}]}`, ErrDuplicateKey},
		{`{"Name":"pro"}`, ErrShape},
		{`{"KIND":"k"}`, ErrShape},           // a promoted field too
		{`{"\u212aind":"k"}`, ErrShape},      // Kelvin sign
		{`{"owner":{"Kind":"o"}}`, ErrShape}, // behind a pointer
		{`{"name":null}`, ErrShape},
		{`{"tags":null}`, ErrShape},
		{`{"tags":["a",null]}`, ErrShape},
		{`{"name":1}`, nil}, // encoding/json's own type errors
		{`{"name":"pro"} {}`, ErrInvalid},
		{`{"name":"pro"`, ErrInvalid},
	} {
		var got plan
		err := Decode([]byte(tc.data), &got)
		assert.Error(t, err, tc.data)
		if tc.err != nil {
			assert.ErrorIs(t, err, tc.err, tc.data)
		}
	}

	var arr [2]int
	assert.ErrorIs(t, Decode([]byte(`[1]`), &arr), ErrShape)
	assert.ErrorIs(t, Decode([]byte(`[1,2,3]`), &arr), ErrShape)
	require.NoError(t, Decode([]byte(`[1,2]`), &arr))
	assert.Equal(t, [2]int{1, 2}, arr)

	var m map[string]any
	require.NoError(t, Decode([]byte(`{"a":null,"b":[null]}`), &m), "null where the type is an interface")
	assert.ErrorIs(t, Decode([]byte(`{"a":1,"A":1}`), &m), ErrDuplicateKey, "whatever the type")
	var raw json.RawMessage
	assert.ErrorIs(t, Decode([]byte(`{"a":1,"A":1}`), &raw), ErrDuplicateKey)

	assert.Error(t, Decode([]byte(`{}`), plan{}), "not a pointer")
	assert.Error(t, Decode([]byte(`{}`), (*plan)(nil)))
}

// Of fields sharing a JSON name, encoding/json keeps the shallowest, then
// the only tagged one, else none: fieldsOf agrees.
func TestFieldsOfFollowsEncodingJSON(t *testing.T) {
	type A struct{ X, Y, Z int }
	type B struct {
		X int
		Y int `json:"Y"`
	}
	type outer struct {
		A
		B
		Z int
	}
	data := []byte(`{"X":1,"Y":2,"Z":3}`)
	var got, want outer
	require.NoError(t, Decode(data, &got))
	require.NoError(t, json.Unmarshal(data, &want))
	assert.Equal(t, want, got)
	// A tag name encoding/json finds invalid names the field by its Go name.
	type oddTag struct {
		Odd int `json:"a\\b"`
	}
	var odd oddTag
	require.NoError(t, Decode([]byte(`{"Odd":1}`), &odd))
	assert.Equal(t, 1, odd.Odd)
	assert.ErrorIs(t, Decode([]byte(`{"odd":1}`), &odd), ErrShape)

	// ",string" on a slice is ignored by encoding/json: its elements are
	// checked as any others.
	type quotedSlice struct {
		Tags []string `json:"tags,string"`
	}
	var qs quotedSlice
	assert.ErrorIs(t, Decode([]byte(`{"tags":[null]}`), &qs), ErrShape)

	f := fieldsOf(reflect.TypeFor[outer]())
	assert.NotContains(t, f.exact, "X", "A.X and B.X: equally deep and untagged, neither")
	assert.Equal(t, reflect.TypeFor[int](), f.exact["Y"].typ)
	assert.Contains(t, f.exact, "Z")
}

// FuzzDecode: what Decode accepts into plan, encoding/json reads as an
// exact reader does: each field is the member of exactly its JSON name.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"name":"pro","seats":3}`, `{"name":"free","Name":"pro"}`, `{"Name":"pro"}`, `{"name":null}`,
		`{"kind":"k","owner":{"kind":"o"}}`, `{"\u212aind":"k"}`, `{"name":"a","n\u0061me":"b"}`, `{"seats":1.5}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got plan
		if Decode(data, &got) != nil {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var tree map[string]any
		if err := dec.Decode(&tree); err != nil {
			t.Fatalf("Decode accepted %q, which is not an object: %v", data, err)
		}
		for name, want := range map[string]string{"name": got.Name, "kind": got.Kind} {
			v, present := tree[name]
			if s, _ := v.(string); present && s != want || !present && want != "" {
				t.Fatalf("Decode(%q): %s = %q, the member of that exact name is %v", data, name, want, v)
			}
		}
		if v, present := tree["seats"]; present && v.(json.Number).String() != json.Number(fmtInt(got.Seats)).String() {
			t.Fatalf("Decode(%q): seats = %d, the member is %v", data, got.Seats, v)
		}
	})
}

func fmtInt(n int) string { b, _ := json.Marshal(n); return string(b) }
