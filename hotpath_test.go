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
