package kratosauth

import (
	"errors"
	"fmt"
	"net/http"
)

// A Guard is the request policy of a group of routes: which requests reach
// the handler, and what the others are answered. It is the one
// implementation of that policy; the net/http, chi and gin adapters only
// translate it to their frameworks. Build Guards once, when routes are set
// up, with RequireSession, RequireAAL or LoadSession; they are immutable and
// safe for concurrent use.
type Guard struct {
	a        *Authenticator
	optional bool   // LoadSession: requests without a session go on without one
	aal      string // "" or the level sessions must satisfy, checked when built
}

// RequireSession returns the Guard of routes for signed-in users: requests
// without a valid session are refused by the ErrorHandler (by default a 303
// to login for browsers, a JSON 401 for API clients, 503 when Kratos is
// unavailable).
func (a *Authenticator) RequireSession() *Guard { return &Guard{a: a} }

// RequireAAL returns the Guard of routes that need a session at the given
// assurance level (AAL1 or AAL2): a valid session below it is refused with
// ErrAAL2Required (by default a 303 to Kratos' step-up login for browsers, a
// JSON 403 for API clients). Like http.ServeMux with a bad pattern, it
// panics for any other level, so a typo fails when the app starts instead of
// letting aal1 sessions through.
func (a *Authenticator) RequireAAL(aal string) *Guard {
	if aalRank(aal) == 0 {
		panic(fmt.Sprintf("kratosauth: unknown assurance level %q (want %q or %q)", aal, AAL1, AAL2))
	}
	return &Guard{a: a, aal: aal}
}

// LoadSession returns the Guard of routes open to everyone that change with
// the visitor: the session is attached when the request has a valid one,
// and the request goes on without one otherwise. It refuses only when it
// cannot tell a visitor from a signed-in user: Kratos unavailable (by
// default 503) or the request canceled.
func (a *Authenticator) LoadSession() *Guard { return &Guard{a: a, optional: true} }

// Check applies the guard to r. When r may go on, Check returns r with the
// session in its context (r itself for LoadSession without a session) and
// a nil error; if Kratos re-issued the session cookie, the Set-Cookie is
// already on w. Otherwise the response has been written with the
// ErrorHandler and the error says why: the handler must not run.
func (g *Guard) Check(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
	res, err := g.a.authenticate(r)
	if err == nil && g.aal != "" && !res.session.SatisfiesAAL(g.aal) {
		err = &Error{
			Kind:       ErrAAL2Required,
			Cause:      fmt.Errorf("session is at %q, route requires %q", res.session.AuthenticatorAssuranceLevel, g.aal),
			RedirectTo: g.a.stepUpURL(r, g.aal),
		}
		res.session = nil
	}
	if err != nil {
		if g.optional && !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrCanceled) {
			g.a.observe(r.Context(), authResult{cache: res.cache}, nil)
			return r, nil
		}
		g.a.observe(r.Context(), res, err)
		g.a.HandleError(w, r, err)
		return nil, err
	}
	g.a.observe(r.Context(), res, nil)
	for _, c := range res.setCookie {
		w.Header().Add("Set-Cookie", c)
	}
	return r.WithContext(NewContext(r.Context(), res.session)), nil
}

// Middleware returns g as net/http middleware; with chi, r.Use(g.Middleware).
func (g *Guard) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r, err := g.Check(w, r); err == nil {
			next.ServeHTTP(w, r)
		}
	})
}
