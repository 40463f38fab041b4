package kratosauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// The allocations of a cache hit through the middleware are pinned: the
// request copy and the context value that carry the session to the handler,
// and nothing else (no key string, no Store copy, no decoding).
func TestCacheHitAllocations(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	a := newAuth(t, kratos.URL)
	user := kratos.Login()
	var served int
	h := a.RequireSession().Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served++ }))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Cookie", "theme=dark; "+user.Cookie.Name+"="+user.Cookie.Value+"; _ga=GA1.2.3")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r) // fills the cache
	require.Equal(t, http.StatusOK, w.Code)

	allocs := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) })
	require.Equal(t, 1, kratos.Calls())
	require.Equal(t, 102, served) // AllocsPerRun runs it once more to warm up
	require.LessOrEqual(t, allocs, 2.0, "a cache hit allocates more than the request copy and its context")
}

// The session a cache hit shares between requests is the one Kratos gave:
// the hot tier never answers for another credential or after a logout.
func TestHotTierFollowsTheStore(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	a := newAuth(t, kratos.URL)
	alice, bob := kratos.Login(), kratos.Login()
	who := func(c kratosauthtest.Credentials) string {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(c.Cookie)
		s, err := a.Authenticate(r)
		if err != nil {
			return err.Error()
		}
		return s.Identity.ID
	}
	for range 3 {
		require.Equal(t, alice.Session.Identity.ID, who(alice))
		require.Equal(t, bob.Session.Identity.ID, who(bob))
	}
	require.Equal(t, 2, kratos.Calls())

	kratos.Revoke(alice)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(alice.Cookie)
	a.Invalidate(r)
	_, err := a.Authenticate(r)
	require.ErrorIs(t, err, kratosauth.ErrInvalidSession)
	require.Equal(t, bob.Session.Identity.ID, who(bob))
	require.Equal(t, 3, kratos.Calls())
}

// Traits decodes a cached session's traits once per type: a handler that
// reads them on every request pays no JSON decoding after the first.
func TestTraitsOfACachedSessionDecodeOnce(t *testing.T) {
	kratos := kratosauthtest.NewServer(t)
	a := newAuth(t, kratos.URL)
	user := kratos.Login(kratosauthtest.WithTraits(map[string]any{"email": "ada@example.com", "name": map[string]string{"first": "Ada"}, "tags": []string{"x"}}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(user.Cookie)
	_, err := a.Authenticate(r) // cached now
	require.NoError(t, err)
	s, err := a.Authenticate(r) // the shared, cached session
	require.NoError(t, err)

	type plain struct {
		Email string `json:"email"`
		Name  struct {
			First string `json:"first"`
		} `json:"name"`
	}
	first, err := kratosauth.Traits[plain](s)
	require.NoError(t, err)
	require.Equal(t, "Ada", first.Name.First)
	allocs := testing.AllocsPerRun(50, func() {
		got, _ := kratosauth.Traits[plain](s)
		if got != first {
			t.Fatal("memoized traits changed")
		}
	})
	require.Zero(t, allocs, "Traits decoded again")

	// A type a caller could change through (a slice) is decoded every time.
	type withSlice struct {
		Tags []string `json:"tags"`
	}
	mine, err := kratosauth.Traits[withSlice](s)
	require.NoError(t, err)
	mine.Tags[0] = "changed"
	theirs, err := kratosauth.Traits[withSlice](s)
	require.NoError(t, err)
	require.Equal(t, []string{"x"}, theirs.Tags)

	// A copy of the session with other traits gets its own.
	cp, id := *s, *s.Identity
	id.Traits = []byte(`{"email":"bob@example.com"}`)
	cp.Identity = &id
	other, err := kratosauth.Traits[plain](&cp)
	require.NoError(t, err)
	require.Equal(t, "bob@example.com", other.Email)
}

func BenchmarkTraits(b *testing.B) {
	type traits struct {
		Email string `json:"email"`
	}
	for _, cached := range []bool{false, true} {
		name := map[bool]string{false: "decoded", true: "cached session"}[cached]
		b.Run(name, func(b *testing.B) {
			kratos := kratosauthtest.NewServer(b)
			a, err := kratosauth.New(kratos.URL)
			require.NoError(b, err)
			defer a.Close()
			user := kratos.Login()
			s := user.Session
			if cached {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.AddCookie(user.Cookie)
				s, err = a.Authenticate(r)
				require.NoError(b, err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := kratosauth.Traits[traits](s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
