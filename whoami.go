package kratosauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/kratosauth/kratosauth/internal/httpbody"
)

// whoami asks Kratos who the credential belongs to. It returns the session
// with the session cookie Kratos re-issued, if any, and how long Kratos
// allows it to be cached (-1: Kratos said nothing), or an *Error. The request
// is built from scratch: only the credential is sent, no other header of the
// user's request.
func (a *Authenticator) whoami(ctx context.Context, cred credential) (_ authResult, _ time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.whoamiURL, nil)
	if err != nil {
		return authResult{}, 0, &Error{Kind: ErrUnavailable, Cause: err}
	}
	req.Header["Accept"] = []string{"application/json"}
	cred.apply(req.Header)
	status := 0
	if o := a.cfg.observer; o != nil {
		var done func(int, error)
		ctx, done = o.WhoamiStarted(ctx, req)
		req = req.WithContext(ctx)
		defer func() { done(status, err) }()
	}

	resp, err := a.cfg.client.Do(req)
	if err != nil {
		return authResult{}, 0, &Error{Kind: ErrUnavailable, Cause: fmt.Errorf("whoami: %w", err)}
	}
	defer resp.Body.Close()
	status = resp.StatusCode

	body, err := httpbody.ReadCapped(resp.Body, a.cfg.maxResponseBytes)
	if err != nil {
		return authResult{}, 0, &Error{Kind: ErrUnavailable, Cause: fmt.Errorf("whoami: reading %d response: %w", resp.StatusCode, err)}
	}
	now := time.Now()
	s, cacheFor, err := parseWhoami(resp.StatusCode, resp.Header, body, now)
	if err != nil {
		return authResult{}, 0, err
	}
	if a.cfg.tokenizeAs == "" {
		s.Tokenized = "" // only a token the Authenticator asked for is sent on
	} else {
		if s.Tokenized == "" {
			return authResult{}, 0, &Error{Kind: ErrUnavailable, Cause: errors.New("whoami: no tokenized session in the answer to tokenize_as")}
		}
		cacheFor = tokenCacheFor(s.Tokenized, cacheFor, now)
	}
	res := authResult{session: s}
	if cred.cookies != "" { // Kratos refreshes cookies, never tokens
		res.setCookie = a.cfg.sessionSetCookies(resp.Header)
	}
	return res, cacheFor, nil
}

// sessionSetCookies returns Kratos' Set-Cookie lines for the session cookie,
// verbatim: Kratos re-issues it when the session was extended
// (ManagerHTTP.RefreshCookie), and only the middleware can pass it on to
// the browser. Any other cookie Kratos sets is not the app's to forward.
func (c *config) sessionSetCookies(h http.Header) []string {
	var out []string
	for _, line := range h["Set-Cookie"] {
		if ck, err := http.ParseSetCookie(line); err == nil && ck.Name == c.cookieName {
			out = append(out, line)
		}
	}
	return out
}

// kratosError is the error shape of Kratos' API, including the field of the
// aal2 error.
type kratosError struct {
	Error struct {
		ID     string `json:"id"`
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	} `json:"error"`
	RedirectBrowserTo string `json:"redirect_browser_to"`
}

// parseWhoami maps one whoami response to a session or an *Error. Only a
// well-formed, active, unexpired session is a success, and only Kratos'
// explicit 401 (or a 200 for an inactive or expired session) means
// "not logged in": everything unexpected is ErrUnavailable, so a broken or
// overloaded Kratos is never mistaken for a logout.
func parseWhoami(status int, h http.Header, body []byte, now time.Time) (*Session, time.Duration, error) {
	s, cacheFor, err := parseWhoamiAnswer(status, h, body, now)
	if e, ok := err.(*Error); ok && status != http.StatusOK {
		e.KratosErrorID = kratosErrorID(h, body)
	}
	return s, cacheFor, err
}

// kratosErrorID is the id of a Kratos error answer: the Ory-Error-Id header,
// which Kratos sends from v25.4.0 on, else the body's error.id (v1.3.1).
// Only a plain identifier is kept: it goes into logs.
func kratosErrorID(h http.Header, body []byte) string {
	id := h.Get("Ory-Error-Id")
	if id == "" {
		var ke kratosError
		if json.Unmarshal(body, &ke) == nil {
			id = ke.Error.ID
		}
	}
	if len(id) == 0 || len(id) > 64 {
		return ""
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return ""
		}
	}
	return id
}

// parseWhoamiAnswer is parseWhoami but for the error id.
func parseWhoamiAnswer(status int, h http.Header, body []byte, now time.Time) (*Session, time.Duration, error) {
	switch {
	case status == http.StatusOK:
		var s Session
		if err := json.Unmarshal(body, &s); err != nil {
			return nil, 0, &Error{Kind: ErrUnavailable, Cause: fmt.Errorf("whoami: decoding session: %w", err)}
		}
		if s.ID == "" || s.Identity == nil || s.Identity.ID == "" || s.ExpiresAt.IsZero() {
			return nil, 0, &Error{Kind: ErrUnavailable, Cause: errors.New("whoami: session without id, identity or expires_at")}
		}
		if !s.Active {
			return nil, 0, &Error{Kind: ErrInvalidSession, Cause: errors.New("whoami: session is not active")}
		}
		if !s.ExpiresAt.After(now) {
			return nil, 0, &Error{Kind: ErrInvalidSession, Cause: errors.New("whoami: session has expired")}
		}
		return &s, cacheFor(h.Get("Ory-Session-Cache-For")), nil

	case status == http.StatusUnauthorized:
		return nil, 0, &Error{Kind: ErrInvalidSession, Cause: errors.New("whoami: 401 no active session")}

	case status == http.StatusForbidden:
		var ke kratosError
		if json.Unmarshal(body, &ke) == nil && ke.Error.ID == "session_aal2_required" {
			return nil, 0, &Error{Kind: ErrAAL2Required, Cause: errors.New("whoami: 403 session_aal2_required"), RedirectTo: ke.RedirectBrowserTo}
		}
		return nil, 0, &Error{Kind: ErrUnavailable, Cause: errors.New("whoami: unexpected 403")}

	case status == http.StatusTooManyRequests:
		return nil, 0, &Error{Kind: ErrUnavailable, Cause: errors.New("whoami: 429 rate limited"), RetryAfter: retryAfter(h.Get("Retry-After"))}

	default:
		return nil, 0, &Error{Kind: ErrUnavailable, Cause: fmt.Errorf("whoami: unexpected status %d", status)}
	}
}

// cacheFor parses Ory-Session-Cache-For (seconds); -1 when absent or invalid.
func cacheFor(h string) time.Duration {
	if h == "" {
		return -1
	}
	secs, err := strconv.ParseInt(h, 10, 64)
	if err != nil || secs < 0 {
		return -1
	}
	return min(time.Duration(secs), (1<<63-1)/time.Second) * time.Second // no overflow
}
