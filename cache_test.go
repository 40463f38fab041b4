package kratosauth_test

import (
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/cache"
	"github.com/kratosauth/kratosauth/internal/kratosfake"
)

// recordingStore is a map Store that remembers what it was given.
type recordingStore struct {
	mu      sync.Mutex
	entries map[string][]byte
	ttls    map[string]time.Duration
}

func newRecordingStore() *recordingStore {
	return &recordingStore{entries: map[string][]byte{}, ttls: map[string]time.Duration{}}
}

func (s *recordingStore) Get(key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	if !ok {
		return nil, cache.ErrNotFound
	}
	return append([]byte(nil), e...), nil
}

func (s *recordingStore) Set(key string, e []byte, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[key] = append([]byte(nil), e...)
	s.ttls[key] = ttl
	return nil
}

func (s *recordingStore) Delete(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.entries, key)
	return nil
}

func (s *recordingStore) Close() error { return nil }

func (s *recordingStore) only(t *testing.T) (string, []byte, time.Duration) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Len(t, s.entries, 1)
	for k, e := range s.entries {
		return k, e, s.ttls[k]
	}
	return "", nil, 0
}

func TestCacheKeyIsAHashNeverTheCredential(t *testing.T) {
	store := newRecordingStore()
	fake := kratosfake.Always(t, kratosfake.OK())
	a := newAuth(t, fake.URL, kratosauth.WithCache(store))
	_, err := a.Authenticate(tokenRequest(token))
	require.NoError(t, err)

	key, entry, _ := store.only(t)
	assert.Len(t, key, 64)
	_, err = hex.DecodeString(key)
	assert.NoError(t, err, "key is a hex SHA-256")
	assert.NotContains(t, key, token)
	assert.NotContains(t, string(entry), token, "the entry never holds the credential")

	// The same value as a cookie is a different credential, a different key.
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Cookie", "ory_kratos_session="+token)
	_, err = a.Authenticate(r)
	require.NoError(t, err)
	assert.Len(t, store.entries, 2)
	assert.Equal(t, 2, fake.Calls())
}

func TestCacheLifetimeIsTheEarliestDeadline(t *testing.T) {
	cases := []struct {
		name      string
		ttl       time.Duration
		expiresIn time.Duration
		cacheFor  string
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
			resp := kratosfake.Response{Status: 200, Body: kratosfake.Fresh(kratosfake.SessionAAL1, tc.expiresIn), Header: http.Header{}}
			if tc.cacheFor != "" {
				resp.Header.Set("Ory-Session-Cache-For", tc.cacheFor)
			}
			fake := kratosfake.Always(t, resp)
			a := newAuth(t, fake.URL, kratosauth.WithCache(store), kratosauth.WithCacheTTL(tc.ttl))
			_, err := a.Authenticate(tokenRequest(token))
			require.NoError(t, err)
			if tc.want == 0 {
				assert.Empty(t, store.entries)
				return
			}
			_, _, ttl := store.only(t)
			assert.InDelta(t, tc.want.Seconds(), ttl.Seconds(), 1)
		})
	}
}

func TestCorruptOrForeignEntriesAreMisses(t *testing.T) {
	store := newRecordingStore()
	fake := kratosfake.Always(t, kratosfake.OK())
	a := newAuth(t, fake.URL, kratosauth.WithCache(store))
	_, err := a.Authenticate(tokenRequest(token))
	require.NoError(t, err)
	key, entry, _ := store.only(t)

	for name, bad := range map[string][]byte{
		"empty":     {},
		"truncated": entry[:len(entry)/2],
		"garbage":   []byte(strings.Repeat("\xff", 64)),
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, store.Set(key, bad, time.Minute))
			before := fake.Calls()
			s, err := a.Authenticate(tokenRequest(token))
			require.NoError(t, err)
			assert.NotNil(t, s.Identity)
			assert.Equal(t, before+1, fake.Calls(), "a bad entry is a miss, answered by Kratos")
		})
	}
}
