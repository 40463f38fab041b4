package kratosauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
)

// A Guard is the request policy of a group of routes: which requests reach
// the handler, and what the others are answered. It is the one
// implementation of that policy; the adapters (net/http, chi, gin, echo,
// gRPC, Connect) only translate it to their frameworks. Build Guards once,
// when routes are set up, with RequireSession, RequireAAL, LoadSession,
// Require or RequirePermission, and narrow them with Where and
// WherePermitted; they are immutable and safe for concurrent use.
//
// A request passes, in this order: authentication (Kratos), the assurance
// level, the predicates, then the permission checks; the first that fails
// decides the answer, so a refused session costs no permission check.
type Guard struct {
	a        *Authenticator
	optional bool         // LoadSession: requests without a session go on without one
	aal      string       // "" or the level sessions must satisfy, checked when built
	preds    []Predicate  // all must hold, else ErrForbidden
	perms    []permission // all must be allowed, else ErrForbidden
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
	mustAAL(aal)
	return &Guard{a: a, aal: aal}
}

// mustAAL panics for a level a route cannot require: the one check of
// RequireAAL and HasAAL.
func mustAAL(aal string) {
	if aalRank(aal) == 0 {
		panic(fmt.Sprintf("kratosauth: unknown assurance level %q (want %q or %q)", aal, AAL1, AAL2))
	}
}

// Require returns the Guard of routes for signed-in users whose session
// satisfies every one of preds: RequireSession().Where(preds...). A valid
// session that fails one is refused with ErrForbidden (by default a 403
// page for browsers, a JSON 403 otherwise), never sent to login.
func (a *Authenticator) Require(preds ...Predicate) *Guard {
	return a.RequireSession().Where(preds...)
}

// Where returns a copy of g that also requires every one of preds. It
// panics when preds is empty (use RequireSession for any signed-in user),
// has a zero Predicate, or g is a LoadSession guard (which lets visitors
// through: a rule on their session would be ambiguous).
func (g *Guard) Where(preds ...Predicate) *Guard {
	if len(preds) == 0 {
		panic("kratosauth: Where/Require needs at least one predicate; RequireSession admits any signed-in user")
	}
	mustBuilt("Where", preds)
	if g.optional {
		panic("kratosauth: Where on a LoadSession guard: rules need a session, use RequireSession")
	}
	out := *g
	out.preds = append(slices.Clip(g.preds), preds...)
	return &out
}

// An ObjectFunc names the object of a permission check from the request,
// for example a path value (kratoshttp.PathValue, kratoschi.URLParam,
// kratosgin.Param) or a fixed object (Object). An error or an empty
// object refuses the request with ErrForbidden without asking the
// permission service.
type ObjectFunc func(r *http.Request) (string, error)

// Object returns an ObjectFunc that always names object, for routes about
// one thing ("admins" of the Group namespace). It panics for "".
func Object(object string) ObjectFunc {
	if object == "" {
		panic("kratosauth: Object: empty object")
	}
	return func(*http.Request) (string, error) { return object, nil }
}

// A PermissionChecker answers permission questions in Ory Keto's model:
// may the identity subjectID have relation on namespace:object? It returns
// an error when it cannot tell, never false. *keto.Client
// (github.com/kratosauth/kratosauth/keto) is one; set it with
// WithPermissions.
type PermissionChecker interface {
	CheckPermission(ctx context.Context, namespace, object, relation, subjectID string) (allowed bool, err error)
}

// permission is one check of a Guard: relation on namespace:object(r).
type permission struct {
	namespace, relation string
	object              ObjectFunc
}

// RequirePermission returns the Guard of routes for signed-in users whom
// the permission service (WithPermissions) allows relation on
// namespace:object(r), the subject being the session's identity ID:
// RequireSession().WherePermitted(namespace, relation, object).
//
//	auth.RequirePermission("Group", "members", kratosauth.Object("admins"))
//
// Not allowed: ErrForbidden (403). The permission service unavailable,
// slow or answering nonsense: ErrUnavailable (503), never a 403 and never
// the handler.
func (a *Authenticator) RequirePermission(namespace, relation string, object ObjectFunc) *Guard {
	return a.RequireSession().WherePermitted(namespace, relation, object)
}

// WherePermitted returns a copy of g that also requires the permission
// service to allow relation on namespace:object(r) for the session's
// identity. It panics without WithPermissions, for an empty namespace or
// relation, a nil object, or a LoadSession guard.
func (g *Guard) WherePermitted(namespace, relation string, object ObjectFunc) *Guard {
	switch {
	case g.a.cfg.permissions == nil:
		panic("kratosauth: RequirePermission/WherePermitted needs WithPermissions")
	case namespace == "" || relation == "" || object == nil:
		panic(fmt.Sprintf("kratosauth: RequirePermission/WherePermitted: empty namespace (%q) or relation (%q), or nil object", namespace, relation))
	case g.optional:
		panic("kratosauth: WherePermitted on a LoadSession guard: permissions need a session, use RequireSession")
	}
	out := *g
	out.perms = append(slices.Clip(g.perms), permission{namespace: namespace, relation: relation, object: object})
	return &out
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
	r, setCookie, err := g.decide(r, g.optional)
	// A cookie Kratos re-issued (the session extended) reaches the browser
	// whatever this route decides, or the browser keeps the old expiry.
	for _, c := range setCookie {
		w.Header().Add("Set-Cookie", c)
	}
	if err != nil {
		g.a.HandleError(w, r, err) // for a refused session, r carries it: a forbidden page may name the user
		return nil, err
	}
	return r, nil
}

// Recheck applies the guard again to a long-lived request that Check
// admitted (a stream, a WebSocket): r carries the same credential, and
// admitted is the session Check attached (nil: none, under LoadSession).
// It returns nil when the request may go on, and otherwise the error
// Check would have returned; it writes no response. A request admitted
// with a session goes on only with that same session: under LoadSession
// too, a stream that began as a user does not go on as a visitor once the
// session is revoked.
func (g *Guard) Recheck(r *http.Request, admitted *Session) error {
	r, _, err := g.decide(r, g.optional && admitted == nil)
	if err != nil || admitted == nil {
		return err
	}
	if s, ok := SessionFromContext(r.Context()); !ok || s.ID != admitted.ID {
		return &Error{Kind: ErrInvalidSession, Cause: errNotTheAdmittedSession}
	}
	return nil
}

var errNotTheAdmittedSession = errors.New("the credential no longer names the session the request was admitted with")

// decide is the policy: authentication, the assurance level, then
// authorize; optional lets a request without a valid session through as a
// visitor's. It returns the request to go on with (r with the session, or
// r itself for a visitor) or to answer the refusal with, the session
// cookies Kratos re-issued, and the refusal. Every decision is observed.
func (g *Guard) decide(r *http.Request, optional bool) (*http.Request, []string, error) {
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
		if optional && !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrCanceled) {
			g.a.observe(r.Context(), authResult{cache: res.cache}, nil)
			return r, res.setCookie, nil
		}
		g.a.observe(r.Context(), res, err)
		return r, res.setCookie, err
	}
	r = r.WithContext(NewContext(r.Context(), res.session))
	if err := g.authorize(r, res.session); err != nil {
		g.a.observe(r.Context(), res, err) // the valid session, and why its request was refused
		return r, res.setCookie, err
	}
	g.a.observe(r.Context(), res, nil)
	return r, res.setCookie, nil
}

// authorize applies the predicates, then the permission checks.
func (g *Guard) authorize(r *http.Request, s *Session) error {
	for _, p := range g.preds {
		if !p.Test(s) {
			return &Error{Kind: ErrForbidden, Cause: fmt.Errorf("session does not satisfy %s", p)}
		}
	}
	for _, p := range g.perms {
		if err := g.a.permitted(r, s, p); err != nil {
			return err
		}
	}
	return nil
}

// errPermissionService marks causes that are the permission service's
// failures, so that logs and the 503 body name it instead of Kratos.
var errPermissionService = errors.New("permission service")

// permitted asks the permission service about p for s's identity.
func (a *Authenticator) permitted(r *http.Request, s *Session, p permission) error {
	object, err := p.object(r)
	if err != nil || object == "" {
		return &Error{Kind: ErrForbidden, Cause: fmt.Errorf("no object for %s#%s: %v", p.namespace, p.relation, err)}
	}
	allowed, err := a.cfg.permissions.CheckPermission(r.Context(), p.namespace, object, p.relation, s.Identity.ID)
	switch {
	case err != nil && r.Context().Err() != nil:
		return &Error{Kind: ErrCanceled, Cause: context.Cause(r.Context())}
	case err != nil:
		return &Error{Kind: ErrUnavailable, Cause: fmt.Errorf("%w: %w", errPermissionService, err)}
	case !allowed:
		return &Error{Kind: ErrForbidden, Cause: fmt.Errorf("%s:%s#%s not allowed for identity %s", p.namespace, object, p.relation, s.Identity.ID)}
	}
	return nil
}

// Middleware returns g as net/http middleware; with chi, r.Use(g.Middleware).
func (g *Guard) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r, err := g.Check(w, r); err == nil {
			next.ServeHTTP(w, r)
		}
	})
}
