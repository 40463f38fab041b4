package kratosauth

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// entryNow is the clock of the entry tests: entries made by entryFor are
// fresh at entryNow for an hour.
var entryNow = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// entrySessions are the recorded whoami sessions of kratosauthtest/recorded plus
// variants that exercise every shape the encoding must keep apart: nil vs
// empty lists and raw JSON, lists longer than the decoder's inline
// storage, non-UTC offsets, optional fields set, no identity traits.
func entrySessions(tb testing.TB) map[string]*Session {
	tb.Helper()
	out := map[string]*Session{}
	add := func(name string, body []byte) {
		var s Session
		if err := json.Unmarshal(body, &s); err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		out[name] = &s
	}
	var base []byte
	for _, r := range recordedResponses(tb) {
		if r.status == 200 {
			add(r.name, r.body)
			base = r.body
		}
	}
	if base == nil {
		tb.Fatal("no recorded 200 whoami body")
	}
	mod := func(name string, fn func(map[string]any)) { add(name, modifyJSON(base, fn)) }
	identity := func(m map[string]any) map[string]any { return m["identity"].(map[string]any) }
	mod("nil lists and raw JSON", func(m map[string]any) {
		delete(m, "authentication_methods")
		delete(m, "devices")
		id := identity(m)
		delete(id, "traits")
		delete(id, "metadata_public")
		delete(id, "verifiable_addresses")
		delete(id, "recovery_addresses")
	})
	mod("empty lists and objects", func(m map[string]any) {
		m["authentication_methods"] = []any{}
		m["devices"] = []any{}
		id := identity(m)
		id["traits"] = map[string]any{}
		id["metadata_public"] = map[string]any{}
		id["verifiable_addresses"] = []any{}
		id["recovery_addresses"] = []any{}
	})
	mod("long lists", func(m map[string]any) {
		am := m["authentication_methods"].([]any)[0]
		m["authentication_methods"] = []any{am, am, am, map[string]any{"method": "oidc", "aal": "aal1", "completed_at": "2026-01-01T10:00:00+02:00", "provider": "github"}}
		dev := m["devices"].([]any)[0]
		m["devices"] = []any{dev, dev, map[string]any{"id": "x", "location": "Zürich, CH", "user_agent": strings.Repeat("Mozilla/5.0 ", 40)}}
		id := identity(m)
		va := id["verifiable_addresses"].([]any)[0]
		id["verifiable_addresses"] = []any{va, va, map[string]any{"id": "y", "value": "+41 79 000 00 00", "verified": true, "via": "sms", "status": "completed"}}
		ra := id["recovery_addresses"].([]any)[0]
		id["recovery_addresses"] = []any{ra, ra}
	})
	mod("offsets and metadata", func(m map[string]any) {
		m["expires_at"] = "2031-01-01T00:00:00.123456789+05:30"
		m["issued_at"] = "2026-01-01T00:00:00-07:00"
		m["authenticated_at"] = "0001-01-01T00:00:00Z"
		id := identity(m)
		id["metadata_public"] = map[string]any{"plan": "pro", "n": []any{1, 2.5, nil, true}}
		id["traits"] = map[string]any{"email": "a@example.com", "name": map[string]any{"first": "Ä", "last": "\u2028"}}
		id["created_at"] = "2026-06-01T12:00:00.5+01:00"
	})
	mod("inactive, no times", func(m map[string]any) {
		m["active"] = false
		delete(m, "expires_at")
		delete(m, "issued_at")
		delete(m, "authenticator_assurance_level")
	})
	return out
}

func entryFor(tb testing.TB, s *Session) []byte {
	tb.Helper()
	e, err := encodeEntry(s, entryNow.Add(time.Hour))
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func TestEntryRoundTrip(t *testing.T) {
	for name, s := range entrySessions(t) {
		t.Run(name, func(t *testing.T) {
			e := entryFor(t, s)
			got, ok := decodeEntry(e, entryNow)
			if !ok {
				t.Fatal("fresh entry is a miss")
			}
			if !reflect.DeepEqual(s, got) {
				t.Fatalf("round trip changed the session:\nwant %+v\n got %+v", s, got)
			}
			if jw, _ := json.Marshal(s); string(jw) != mustJSON(t, got) {
				t.Fatalf("round trip changed the JSON:\nwant %s\n got %s", jw, mustJSON(t, got))
			}
			// Appending to a decoded list never writes into the shared block.
			if len(got.AuthenticationMethods) > 0 {
				before := got.Identity.ID
				_ = append(got.AuthenticationMethods, AuthenticationMethod{Method: "x"})
				_ = append(got.Devices, Device{ID: "x"})
				if got.Identity.ID != before {
					t.Fatal("append overwrote the identity")
				}
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The recorded session takes less room in the cache than its JSON.
func TestEntryIsSmallerThanJSON(t *testing.T) {
	for name, s := range entrySessions(t) {
		if !strings.HasPrefix(name, "whoami_200") {
			continue
		}
		js, _ := json.Marshal(s)
		e := entryFor(t, s)
		t.Logf("%s: JSON %d bytes, entry %d bytes", name, len(js), len(e))
		if len(e) >= len(js) {
			t.Errorf("%s: entry %d bytes >= JSON %d bytes", name, len(e), len(js))
		}
	}
}

func TestEntryMisses(t *testing.T) {
	var s *Session
	for name, v := range entrySessions(t) {
		if strings.HasPrefix(name, "whoami_200_token") {
			s = v
		}
	}
	e := entryFor(t, s)
	if _, ok := decodeEntry(e, entryNow.Add(time.Hour)); ok {
		t.Error("entry at its deadline is a hit")
	}
	for i := range len(e) {
		if _, ok := decodeEntry(e[:i], entryNow); ok {
			t.Errorf("entry truncated to %d of %d bytes is a hit", i, len(e))
		}
	}
	if _, ok := decodeEntry(append(e[:len(e):len(e)], 0), entryNow); ok {
		t.Error("entry with a trailing byte is a hit")
	}
	wrongVersion := append([]byte(nil), e...)
	wrongVersion[entryHeaderLen] = entryVersion + 1
	if _, ok := decodeEntry(wrongVersion, entryNow); ok {
		t.Error("entry of another version is a hit")
	}
	// An entry of the previous format: deadline then the session's JSON.
	js, _ := json.Marshal(s)
	old := binary.BigEndian.AppendUint64(nil, uint64(entryNow.Add(time.Hour).UnixNano()))
	if _, ok := decodeEntry(append(old, js...), entryNow); ok {
		t.Error("JSON entry of the previous format is a hit")
	}
	noIdentity := *s
	noIdentity.Identity = nil
	if _, ok := decodeEntry(entryFor(t, &noIdentity), entryNow); ok {
		t.Error("session without identity is a hit")
	}
	// Every single-byte corruption is a miss or a well-formed session.
	for i := entryHeaderLen + 1; i < len(e); i++ {
		for _, b := range []byte{0x00, 0x01, 0x7f, 0x80, 0xff} {
			c := append([]byte(nil), e...)
			c[i] = b
			if got, ok := decodeEntry(c, entryNow); ok && got.Identity == nil {
				t.Fatalf("corrupt byte %d=%#x: hit without identity", i, b)
			}
		}
	}
}

func BenchmarkDecodeEntry(b *testing.B) {
	var s *Session
	for name, v := range entrySessions(b) {
		if strings.HasPrefix(name, "whoami_200_token") {
			s = v
		}
	}
	e := entryFor(b, s)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := decodeEntry(e, entryNow); !ok {
			b.Fatal("miss")
		}
	}
}

func BenchmarkDecodeEntryJSON(b *testing.B) {
	body := []byte(nil)
	for _, r := range recordedResponses(b) {
		if r.name == "whoami_200_token.meta.json" {
			body = r.body
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		var s Session
		if err := json.Unmarshal(body, &s); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDecodeEntry: any bytes from the cache are a miss or a session with
// an identity, never a panic; and a decoded session encodes to an entry
// that decodes to the same session.
func FuzzDecodeEntry(f *testing.F) {
	for _, s := range entrySessions(f) {
		f.Add(entryFor(f, s))
	}
	f.Add([]byte{})
	f.Add([]byte(strings.Repeat("\xff", 64)))
	f.Fuzz(func(t *testing.T, e []byte) {
		s, ok := decodeEntry(e, entryNow)
		if !ok {
			return
		}
		if s == nil || s.Identity == nil {
			t.Fatal("hit without session or identity")
		}
		reencoded := entryFor(t, s)
		again, ok := decodeEntry(reencoded, entryNow)
		if !ok {
			t.Fatal("re-encoded session is a miss")
		}
		// Compared as entries, not with reflect.DeepEqual: a time in a fixed
		// zone decodes with a fresh *time.Location each time, equal in value
		// but not in pointer.
		if !bytes.Equal(reencoded, entryFor(t, again)) {
			t.Fatalf("re-encoding changed the session:\n%+v\n%+v", s, again)
		}
	})
}

// TestEntryKeepsEveryField guards the hand-written codec: it fills every
// exported field of Session, recursively, with a distinct non-zero value and
// checks the round trip. A field added to Session (or to a type it holds)
// and not to entryWriter.session and entryReader.session fails it; a field
// of a kind the filler does not know fails it too, so the codec and this
// test are extended together.
func TestEntryKeepsEveryField(t *testing.T) {
	var f filler
	s := new(Session)
	f.fill(t, reflect.ValueOf(s).Elem(), "Session")
	e := entryFor(t, s)
	got, ok := decodeEntry(e, entryNow)
	if !ok {
		t.Fatal("fresh entry is a miss")
	}
	var diff func(want, got reflect.Value, path string)
	diff = func(want, got reflect.Value, path string) {
		switch want.Kind() {
		case reflect.Pointer:
			diff(want.Elem(), got.Elem(), path)
		case reflect.Struct:
			if want.Type() == reflect.TypeFor[time.Time]() {
				if !want.Interface().(time.Time).Equal(got.Interface().(time.Time)) {
					t.Errorf("%s: %v became %v", path, want, got)
				}
				return
			}
			for i := range want.NumField() {
				if want.Type().Field(i).IsExported() { // unexported fields are caches, not data
					diff(want.Field(i), got.Field(i), path+"."+want.Type().Field(i).Name)
				}
			}
		case reflect.Slice:
			if want.Type() == reflect.TypeFor[json.RawMessage]() {
				if !bytes.Equal(want.Bytes(), got.Bytes()) {
					t.Errorf("%s: %s became %s", path, want.Bytes(), got.Bytes())
				}
				return
			}
			if want.Len() != got.Len() {
				t.Errorf("%s: %d elements became %d", path, want.Len(), got.Len())
				return
			}
			for i := range want.Len() {
				diff(want.Index(i), got.Index(i), path+"["+string(rune('0'+i))+"]")
			}
		default:
			if want.Interface() != got.Interface() {
				t.Errorf("%s: %v became %v (a field the cache codec drops?)", path, want, got)
			}
		}
	}
	diff(reflect.ValueOf(s), reflect.ValueOf(got), "Session")
}

// filler gives every field it fills a value no other field has.
type filler struct{ n int }

func (f *filler) fill(t *testing.T, v reflect.Value, path string) {
	f.n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(path + "#" + strings.Repeat("x", f.n%3))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		f.fill(t, v.Elem(), path)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(entryNow.Add(time.Duration(f.n) * time.Minute).In(time.FixedZone("", f.n*60))))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				f.fill(t, v.Field(i), path+"."+v.Type().Field(i).Name)
			}
		}
	case reflect.Slice:
		if v.Type() == reflect.TypeFor[json.RawMessage]() {
			v.SetBytes([]byte(`{"field":"` + path + `"}`))
			return
		}
		// Three elements: more than the decoder's inline storage holds.
		v.Set(reflect.MakeSlice(v.Type(), 3, 3))
		for i := range 3 {
			f.fill(t, v.Index(i), path+"[]")
		}
	default:
		t.Fatalf("%s: the cache codec and this test know no %s field; extend both", path, v.Kind())
	}
}
