package kratosauth

import (
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"unsafe"
)

// Traits decodes the traits of the session's identity into T, typically a
// struct matching the identity schema. For a session served from the cache
// the decoded value is kept with the session, so that handlers reading
// traits on every request decode them once: when T holds no pointers,
// slices, maps or interfaces, a copy of it cannot change what others get.
func Traits[T any](s *Session) (T, error) {
	if s == nil || s.Identity == nil || len(s.Identity.Traits) == 0 {
		var zero T
		return zero, errors.New("kratosauth: session has no identity traits")
	}
	memo := s.traits
	if memo != nil && !isPlain(reflect.TypeFor[T]()) {
		memo = nil
	}
	if memo != nil {
		if v, ok := memo.get(reflect.TypeFor[T](), s.Identity.Traits); ok {
			return v.(T), nil
		}
	}
	return decodeTraits[T](s.Identity.Traits, memo)
}

// decodeTraits is Traits' slow path, apart so that its value, which goes
// into the memo, does not make the fast path allocate.
func decodeTraits[T any](raw json.RawMessage, memo *traitsMemo) (T, error) {
	var t T
	if err := json.Unmarshal(raw, &t); err != nil {
		return t, err
	}
	if memo != nil {
		memo.put(reflect.TypeFor[T](), raw, t)
	}
	return t, nil
}

// traitsMemo holds a session's decoded traits by type. Each value remembers
// the traits bytes it was decoded from, so a copy of the session with other
// traits never gets them.
type traitsMemo struct{ m sync.Map } // reflect.Type → memoTraits

type memoTraits struct {
	from  *byte
	len   int
	value any
}

func (m *traitsMemo) get(t reflect.Type, raw json.RawMessage) (any, bool) {
	v, ok := m.m.Load(t)
	if !ok {
		return nil, false
	}
	e := v.(memoTraits)
	return e.value, e.from == unsafe.SliceData(raw) && e.len == len(raw)
}

func (m *traitsMemo) put(t reflect.Type, raw json.RawMessage, v any) {
	m.m.Store(t, memoTraits{from: unsafe.SliceData(raw), len: len(raw), value: v})
}

// plainTypes caches isPlain's answers by type.
var plainTypes sync.Map // reflect.Type → bool

// isPlain reports whether values of t are copied whole by assignment: no
// pointers, slices, maps, interfaces, channels or functions inside.
func isPlain(t reflect.Type) bool {
	if v, ok := plainTypes.Load(t); ok {
		return v.(bool)
	}
	var plain func(t reflect.Type) bool
	plain = func(t reflect.Type) bool {
		switch t.Kind() {
		case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
			reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
			return true
		case reflect.Array:
			return plain(t.Elem())
		case reflect.Struct:
			for i := range t.NumField() {
				if !plain(t.Field(i).Type) {
					return false
				}
			}
			return true
		}
		return false
	}
	p := plain(t)
	plainTypes.Store(t, p)
	return p
}
