package kratosauth_test

import (
	"bytes"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/cache"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// recordingStore is a map cache.Store that remembers what it was given:
// the entries and their TTLs, and every key written, in order. Its fences
// are a counter's: enough for one process.
type recordingStore struct {
	mu      sync.Mutex
	entries map[string][]byte
	ttls    map[string]time.Duration
	keys    []string
	clock   int64
	fences  map[string]int64
}

func newRecordingStore() *recordingStore {
	return &recordingStore{entries: map[string][]byte{}, ttls: map[string]time.Duration{}, fences: map[string]int64{}}
}

func (s *recordingStore) Get(key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	if !ok {
		return nil, cache.ErrNotFound
	}
	return bytes.Clone(e), nil
}

func (s *recordingStore) Begin(string) (cache.Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock++
	return cache.Ticket{At: s.clock}, nil
}

func (s *recordingStore) Put(key string, e []byte, ttl time.Duration, t cache.Ticket, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.At <= s.fences[key] {
		return cache.ErrFenced
	}
	s.record(key, e, ttl)
	return nil
}

func (s *recordingStore) Revoke(key string, marker []byte, ttl, fence time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock++
	if fence > 0 {
		s.fences[key] = 1 << 62 // a fence in the future: longer than any test
	} else {
		s.fences[key] = max(s.fences[key], s.clock)
	}
	s.record(key, marker, ttl)
	return nil
}

func (s *recordingStore) record(key string, e []byte, ttl time.Duration) {
	s.entries[key] = bytes.Clone(e)
	s.ttls[key] = ttl
	s.keys = append(s.keys, key)
}

func (s *recordingStore) Close() error { return nil }

// overwrite puts e under key as something else than kratosauth would.
func (s *recordingStore) overwrite(key string, e []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[key] = e
}

// len is the number of session entries (refusal markers are not counted).
func (s *recordingStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.entries {
		if !isMarker(e) {
			n++
		}
	}
	return n
}

// isMarker tells a refusal marker (deadline, 0xff, reason) from a session.
func isMarker(e []byte) bool { return len(e) == 10 && e[8] == 0xff }

// only is the one entry, its key and TTL.
func (s *recordingStore) only(t *testing.T) (string, []byte, time.Duration) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k, e := range s.entries {
		if !isMarker(e) {
			keys = append(keys, k)
		}
	}
	require.Len(t, keys, 1)
	return keys[0], s.entries[keys[0]], s.ttls[keys[0]]
}

func TestCacheKeyIsAHashNeverTheCredential(t *testing.T) {
	store := newRecordingStore()
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	a := newAuth(t, kratos.URL, kratosauth.WithCache(store))
	_, err := a.Authenticate(tokenRequest(c.Token))
	require.NoError(t, err)

	key, entry, _ := store.only(t)
	assert.Len(t, key, 64)
	_, err = hex.DecodeString(key)
	assert.NoError(t, err, "key is a hex SHA-256")
	assert.NotContains(t, key, c.Token)
	assert.NotContains(t, string(entry), c.Token, "the entry never holds the credential")

	// The same value as a cookie is a different credential, a different
	// key: Kratos is asked, and refuses it.
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Cookie", "ory_kratos_session="+c.Token)
	_, err = a.Authenticate(r)
	require.ErrorIs(t, err, kratosauth.ErrInvalidSession)
	assert.Equal(t, 2, kratos.Calls())

	// The cookie is cached under a key of its own.
	r.Header.Set("Cookie", "ory_kratos_session="+c.Cookie.Value)
	_, err = a.Authenticate(r)
	require.NoError(t, err)
	assert.Equal(t, 2, store.len())
	assert.Equal(t, 3, kratos.Calls())
}

func TestCacheLifetimeIsTheEarliestDeadline(t *testing.T) {
	cases := []struct {
		name      string
		ttl       time.Duration
		expiresIn time.Duration
		cacheFor  string        // Ory-Session-Cache-For sent by Kratos
		want      time.Duration // 0: not cached
	}{
		{"configured TTL", time.Minute, time.Hour, "", time.Minute},
		{"session expires first", time.Minute, 20 * time.Second, "", 20 * time.Second},
		{"Ory-Session-Cache-For first", time.Minute, time.Hour, "10", 10 * time.Second},
		{"Ory-Session-Cache-For longer than TTL", time.Minute, time.Hour, "3600", time.Minute},
		{"Ory-Session-Cache-For zero", time.Minute, time.Hour, "0", 0},
		{"Ory-Session-Cache-For garbage is ignored", time.Minute, time.Hour, "soon", time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store := newRecordingStore()
			kratos := kratosauthtest.NewServer(t)
			c := kratos.Login(kratosauthtest.WithExpiry(time.Now().Add(tc.expiresIn)))
			switch secs, err := strconv.Atoi(tc.cacheFor); {
			case tc.cacheFor == "":
			case err == nil && secs > 0: // as Kratos sends it
				kratos.SetCacheFor(time.Duration(secs) * time.Second)
			default: // what Kratos never sends
				kratos.Fail(kratosauthtest.Raw(http.StatusOK, http.Header{"Ory-Session-Cache-For": {tc.cacheFor}},
					kratosauthtest.WhoamiBody(c.Session)))
			}
			a := newAuth(t, kratos.URL, kratosauth.WithCache(store), kratosauth.WithCacheTTL(tc.ttl))
			_, err := a.Authenticate(tokenRequest(c.Token))
			require.NoError(t, err)
			if tc.want == 0 {
				assert.Zero(t, store.len())
				return
			}
			_, _, ttl := store.only(t)
			assert.InDelta(t, tc.want.Seconds(), ttl.Seconds(), 1)
		})
	}
}

func TestCorruptOrForeignEntriesAreMisses(t *testing.T) {
	store := newRecordingStore()
	kratos := kratosauthtest.NewServer(t)
	c := kratos.Login()
	a := newAuth(t, kratos.URL, kratosauth.WithCache(store))
	_, err := a.Authenticate(tokenRequest(c.Token))
	require.NoError(t, err)
	key, entry, _ := store.only(t)

	for name, bad := range map[string][]byte{
		"empty":     {},
		"truncated": entry[:len(entry)/2],
		"garbage":   []byte(strings.Repeat("\xff", 64)),
	} {
		t.Run(name, func(t *testing.T) {
			store.overwrite(key, bad)
			before := kratos.Calls()
			s, err := a.Authenticate(tokenRequest(c.Token))
			require.NoError(t, err)
			assert.NotNil(t, s.Identity)
			assert.Equal(t, before+1, kratos.Calls(), "a bad entry is a miss, answered by Kratos")
		})
	}
}
