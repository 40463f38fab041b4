package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode"
)

// ErrShape: the value has a shape the Go type does not describe exactly,
// which encoding/json would read anyway: null for a type that cannot be
// nil, a member matching a struct field only under case folding, an array
// of another length than a Go array's.
var ErrShape = errors.New("strictjson: value does not fit the type exactly")

// Decode decodes data, one JSON value, into v (a non-nil pointer) with
// encoding/json, once it is sure that encoding/json reads it the one way
// an exact reader would. Refused, anywhere in data:
//
//   - an object with a key twice, or two keys equal under case folding
//     (ErrDuplicateKey), whatever the type: encoding/json keeps the last;
//   - null where v's type has no pointer, interface, or Unmarshaler
//     (ErrShape): encoding/json leaves the zero value;
//   - a member that matches a struct field's JSON name only under case
//     folding (ErrShape): encoding/json takes "Plan" for "plan";
//   - an array whose length is not a Go array's (ErrShape): encoding/json
//     drops or zero-fills elements.
//
// Members a struct has no field for are not read, as encoding/json does
// not read them. Below a type with its own UnmarshalJSON or UnmarshalText,
// only the first rule applies: the type decides the rest.
func Decode(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("strictjson: Decode needs a non-nil pointer")
	}
	if !json.Valid(data) {
		return ErrInvalid
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tree, err := parse(dec)
	if err != nil {
		return err
	}
	if err := fits(tree, rv.Type().Elem(), "$"); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// parse reads one value of a valid document as nil, bool, json.Number,
// string, []any or map[string]any, refusing keys equal under case folding.
// json.Valid has bounded the nesting depth.
func parse(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, ErrInvalid
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch d {
	case '{':
		m := map[string]any{}
		seen := map[string]string{} // folded key → key
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, ErrInvalid
			}
			k := kt.(string)
			f := foldKey(k)
			if prev, dup := seen[f]; dup {
				return nil, fmt.Errorf("%w: %q and %q", ErrDuplicateKey, prev, k)
			}
			seen[f] = k
			if m[k], err = parse(dec); err != nil {
				return nil, err
			}
		}
		_, err = dec.Token() // '}'
		return m, err
	case '[':
		a := []any{}
		for dec.More() {
			e, err := parse(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, e)
		}
		_, err = dec.Token() // ']'
		return a, err
	}
	return nil, ErrInvalid
}

// foldKey maps k to a form shared by every key equal to it under Unicode
// simple case folding (each rune to the least of its folding orbit), the
// equivalence by which encoding/json matches keys to struct fields.
func foldKey(k string) string {
	var b strings.Builder
	b.Grow(len(k))
	for _, r := range k {
		for {
			next := unicode.SimpleFold(r)
			if next <= r {
				r = next
				break
			}
			r = next
		}
		b.WriteRune(r)
	}
	return b.String()
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// fits reports, as ErrShape, where v (from parse) has a shape that t
// does not describe exactly. Type mismatches encoding/json itself refuses
// (a string for an int) are left to it.
func fits(v any, t reflect.Type, at string) error {
	if t.Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v == nil {
			return nil
		}
		return fits(v, t.Elem(), at)
	case reflect.Interface:
		return nil
	}
	if v == nil {
		return fmt.Errorf("%w: null at %s for %s", ErrShape, at, t)
	}
	if _, ok := v.(string); ok && (t.Implements(textUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler)) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil // encoding/json refuses it
		}
		fields := fieldsOf(t)
		for k, e := range m {
			f, ok := fields.exact[k]
			if !ok {
				if name, ok := fields.folded[foldKey(k)]; ok {
					return fmt.Errorf("%w: member %q at %s matches field %q only by case", ErrShape, k, at, name)
				}
				continue // not read
			}
			if f.quoted {
				continue // ",string": encoding/json reads the number inside the string
			}
			if err := fits(e, f.typ, at+"."+k); err != nil {
				return err
			}
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		for k, e := range m {
			if err := fits(e, t.Elem(), at+"."+k); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		a, ok := v.([]any)
		if !ok {
			return nil // a base64 string for []byte, or refused by encoding/json
		}
		if t.Kind() == reflect.Array && len(a) != t.Len() {
			return fmt.Errorf("%w: %d elements at %s for %s", ErrShape, len(a), at, t)
		}
		for i, e := range a {
			if err := fits(e, t.Elem(), fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

type field struct {
	typ    reflect.Type
	quoted bool // the ",string" option
}

type structFields struct {
	exact  map[string]field  // JSON name → field, as encoding/json resolves them
	folded map[string]string // foldKey(JSON name) → JSON name
}

var fieldCache sync.Map // reflect.Type → *structFields

// fieldsOf returns t's fields by JSON name with encoding/json's rules:
// exported fields, named by their json tag (when valid) or Go name, "-" skipped,
// untagged embedded structs' fields promoted; of fields sharing a name,
// the shallowest wins, among equally shallow ones the only tagged one, and
// otherwise none.
func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	type candidate struct {
		field
		depth  int
		tagged bool
	}
	byName := map[string][]candidate{}
	var walk func(t reflect.Type, depth int, visited map[reflect.Type]bool)
	walk = func(t reflect.Type, depth int, visited map[reflect.Type]bool) {
		if visited[t] {
			return
		}
		visited[t] = true
		for i := range t.NumField() {
			sf := t.Field(i)
			ft := sf.Type
			if sf.Anonymous && ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if !sf.IsExported() && !(sf.Anonymous && ft.Kind() == reflect.Struct) {
				continue
			}
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if !validTagName(name) {
				name = ""
			}
			if sf.Anonymous && name == "" && ft.Kind() == reflect.Struct {
				walk(ft, depth+1, visited)
				continue
			}
			if !sf.IsExported() {
				continue
			}
			tagged := name != ""
			if !tagged {
				name = sf.Name
			}
			quoted := false // ",string" counts for scalars only, as in encoding/json
			for o := range strings.SplitSeq(opts, ",") {
				quoted = quoted || o == "string" && isScalar(sf.Type)
			}
			byName[name] = append(byName[name], candidate{field{sf.Type, quoted}, depth, tagged})
		}
		delete(visited, t)
	}
	walk(t, 0, map[reflect.Type]bool{})

	fs := &structFields{exact: map[string]field{}, folded: map[string]string{}}
	for name, cs := range byName {
		minDepth := cs[0].depth
		for _, c := range cs {
			minDepth = min(minDepth, c.depth)
		}
		var top []candidate
		for _, c := range cs {
			if c.depth == minDepth {
				top = append(top, c)
			}
		}
		if len(top) > 1 {
			var tagged []candidate
			for _, c := range top {
				if c.tagged {
					tagged = append(tagged, c)
				}
			}
			top = tagged
		}
		if len(top) == 1 {
			fs.exact[name] = top[0].field
			fs.folded[foldKey(name)] = name
		}
	}
	f, _ := fieldCache.LoadOrStore(t, fs)
	return f.(*structFields)
}

// validTagName is encoding/json's isValidTag: a json tag name with other
// characters names the field by its Go name.
func validTagName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

func isScalar(t reflect.Type) bool {
	if t.Name() == "" && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return false
}
