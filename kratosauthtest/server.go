package kratosauthtest

import (
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kratosauth/kratosauth"
)

// Answers recorded from the real Kratos of each version the library is
// tested against (see recorded/README.md): recorded/ holds v1.3.1's,
// recorded/VERSION the later ones'. The fake answers with them, so apps are
// tested against Kratos' own shapes.
//
//go:embed recorded/whoami_200_token.json recorded/whoami_401_revoked.json recorded/whoami_403_aal2_required.json
//go:embed recorded/whoami_401_revoked.meta.json recorded/whoami_403_aal2_required.meta.json
//go:embed recorded/*/whoami_200_token.json recorded/*/whoami_401_revoked.json recorded/*/whoami_403_aal2_required.json
//go:embed recorded/*/whoami_401_revoked.meta.json recorded/*/whoami_403_aal2_required.meta.json
var recorded embed.FS

// DefaultKratosVersion is the version a Server answers as unless
// WithKratosVersion says otherwise.
const DefaultKratosVersion = "v1.3.1"

// recording is what a Server answers with, from one Kratos version.
type recording struct {
	body401, template200, template403AAL2 []byte
	// header401 and header403 are the error answers' headers besides
	// Cache-Control, Vary and Content-Type (Ory-Error-Id from v25.4.0).
	header401, header403 http.Header
}

// recordings are the versions' answers, by version.
var recordings = func() map[string]*recording {
	out := map[string]*recording{}
	dirs, _ := recorded.ReadDir("recorded")
	for _, d := range append([]fs.DirEntry{nil}, dirs...) {
		version, dir := DefaultKratosVersion, "recorded/"
		if d != nil {
			if !d.IsDir() {
				continue
			}
			version, dir = d.Name(), "recorded/"+d.Name()+"/"
		}
		out[version] = &recording{
			body401:         mustRecorded(dir + "whoami_401_revoked.json"),
			template200:     mustRecorded(dir + "whoami_200_token.json"),
			template403AAL2: mustRecorded(dir + "whoami_403_aal2_required.json"),
			header401:       recordedErrorHeader(dir + "whoami_401_revoked.meta.json"),
			header403:       recordedErrorHeader(dir + "whoami_403_aal2_required.meta.json"),
		}
	}
	return out
}()

func mustRecorded(name string) []byte {
	b, err := recorded.ReadFile(name)
	if err != nil {
		panic("kratosauthtest: " + err.Error())
	}
	return b
}

// recordedErrorHeader returns the recorded response headers that write does
// not set itself.
func recordedErrorHeader(name string) http.Header {
	var meta struct {
		Headers http.Header `json:"headers"`
	}
	if err := json.Unmarshal(mustRecorded(name), &meta); err != nil {
		panic("kratosauthtest: " + name + ": " + err.Error())
	}
	h := http.Header{}
	for k, v := range meta.Headers {
		switch k {
		case "Cache-Control", "Vary", "Content-Type":
		default:
			h[k] = v
		}
	}
	return h
}

// KratosVersions returns the versions a Server can answer as (see
// WithKratosVersion), sorted.
func KratosVersions() []string {
	out := make([]string, 0, len(recordings))
	for v := range recordings {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// A ServerOption configures NewServer.
type ServerOption func(*Server) error

// WithKratosVersion makes the Server answer as Kratos version (one of
// KratosVersions: "v1.3.1", "v25.4.0", "v26.2.0"): with the bodies and
// headers recorded from that version, for example Ory-Error-Id on errors
// and external_id in the identity from v25.4.0 on. An unknown version fails
// the test. Default: DefaultKratosVersion.
func WithKratosVersion(version string) ServerOption {
	return func(s *Server) error {
		r, ok := recordings[version]
		if !ok {
			return fmt.Errorf("kratosauthtest: WithKratosVersion: no recording of Kratos %q (have %s)", version, strings.Join(KratosVersions(), ", "))
		}
		s.rec, s.version = r, version
		return nil
	}
}

// Server is a fake Kratos public API on 127.0.0.1, for tests of apps that
// use kratosauth. Its GET /sessions/whoami reads credentials as Kratos does
// (a non-empty X-Session-Token, else the first ory_kratos_session cookie it
// issued, else Authorization: Bearer) and answers with the recorded Kratos'
// status codes, headers and bodies (WithKratosVersion); with ?tokenize_as= the session also
// has "tokenized", a JWT with Kratos' claims that is not signed (enough for
// an edge's tests: kratosauth.WithTokenizeAs, TokenTransport). Build it
// with NewServer; it is safe for concurrent use.
type Server struct {
	// URL is the base URL of the fake public API, for kratosauth.New.
	URL string

	srv   *httptest.Server
	calls atomic.Int64
	mux   *http.ServeMux

	mu         sync.Mutex
	sessions   map[string]*sessionSpec // by token
	cookies    map[string]issuedCookie // by value
	revoked    map[string]bool         // session IDs
	disabled   map[string]bool         // identity IDs
	fault      *Fault
	cacheFor   time.Duration
	cookieName string
	lastReq    *http.Request

	version string
	rec     *recording
}

// Credentials are what a signed-in client presents: the session token (for
// X-Session-Token or Authorization: Bearer) or the session cookie (for
// browsers), both for Session. Session is what whoami describes: read it,
// and change it only through the Server (Extend, Revoke, DisableIdentity).
type Credentials struct {
	Token   string
	Cookie  *http.Cookie
	Session *kratosauth.Session
}

// NewServer starts a fake Kratos that is closed when the test ends.
func NewServer(t testing.TB, opts ...ServerOption) *Server {
	t.Helper()
	s := &Server{
		version:    DefaultKratosVersion,
		rec:        recordings[DefaultKratosVersion],
		mux:        http.NewServeMux(),
		sessions:   map[string]*sessionSpec{},
		cookies:    map[string]issuedCookie{},
		revoked:    map[string]bool{},
		disabled:   map[string]bool{},
		cookieName: kratosauth.DefaultCookieName,
	}
	for _, opt := range opts {
		if opt == nil {
			t.Fatal("kratosauthtest: NewServer: nil ServerOption")
		}
		if err := opt(s); err != nil {
			t.Fatal(err)
		}
	}
	s.mux.HandleFunc("GET /sessions/whoami", s.whoami)
	s.srv = httptest.NewServer(s.mux)
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// Close shuts the server down; NewServer arranges it for the end of the test.
func (s *Server) Close() { s.srv.Close() }

// Login creates a session, as a sign-in would, and returns its credentials.
func (s *Server) Login(opts ...SessionOption) Credentials {
	sp := newSpec(opts)
	token := "ory_st_" + randomText("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 32)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[token] = sp
	return Credentials{Token: token, Cookie: s.issueCookie(token, sp.s.ExpiresAt), Session: sp.s}
}

// issuedCookie is what a Kratos session cookie holds: the session token
// and the expiry it was issued with.
type issuedCookie struct {
	token   string
	expires time.Time
}

// issueCookie makes a new session cookie for token; s.mu is held.
func (s *Server) issueCookie(token string, expires time.Time) *http.Cookie {
	// Kratos' cookies are ~430 characters of base64url (securecookie).
	value := "MT" + randomText("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 426)
	s.cookies[value] = issuedCookie{token: token, expires: expires}
	return &http.Cookie{Name: s.cookieName, Value: value, Path: "/", Expires: expires,
		MaxAge: int(time.Until(expires).Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// Revoke ends the session of c, as a logout or an admin revocation does.
func (s *Server) Revoke(c Credentials) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[c.Session.ID] = true
}

// DisableIdentity sets an identity inactive: whoami refuses all its sessions.
func (s *Server) DisableIdentity(identityID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.disabled[identityID] = true
}

// Extend moves the session's expiry to now + d, as an admin's
// PATCH /admin/sessions/{id}/extend does; the next whoami with its old
// cookie gets the cookie again with the new expiry (Set-Cookie), as Kratos'
// whoami does.
func (s *Server) Extend(c Credentials, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := s.sessions[c.Token]
	sp.s.ExpiresAt = time.Now().Add(d).UTC()
	sp.body = nil
}

// SetCacheFor makes whoami send Ory-Session-Cache-For: d (in seconds), as
// Kratos does with session.whoami.caching on. Zero stops it. Default: not sent.
func (s *Server) SetCacheFor(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cacheFor = d
}

// SetCookieName sets the name of the session cookies the server issues and
// reads, as Kratos' session.cookie.name does (Ory Network names them
// ory_session_<project slug>); configure the app alike with
// kratosauth.WithCookieName. Call it before Login: whoami reads only cookies
// of the current name. Default: kratosauth.DefaultCookieName.
func (s *Server) SetCookieName(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cookieName = name
}

// Fail makes every whoami answer with f until Recover.
func (s *Server) Fail(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = &f
}

// Recover ends a Fail.
func (s *Server) Recover() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = nil
}

// Calls is the number of whoami requests received so far.
func (s *Server) Calls() int { return int(s.calls.Load()) }

// LastRequest is the last whoami request received (its headers are what
// the app sent Kratos), or nil.
func (s *Server) LastRequest() *http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastReq
}

// Handle serves more of Kratos' API from the fake, for example recorded
// self-service flows. Patterns are http.ServeMux's.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// A Fault is an answer of a broken or overloaded Kratos; see Server.Fail.
type Fault struct {
	status int
	header http.Header
	body   []byte
	delay  time.Duration
	hangUp bool
}

// Status answers with code and Kratos' JSON error body for it.
func Status(code int) Fault {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{
		"code": code, "status": http.StatusText(code), "message": http.StatusText(code)}})
	return Fault{status: code, body: b}
}

// RateLimited answers 429 with Retry-After, as a rate limit in front of Kratos does.
func RateLimited(retryAfter time.Duration) Fault {
	f := Status(http.StatusTooManyRequests)
	f.header = http.Header{"Retry-After": {strconv.Itoa(int(retryAfter.Seconds()))}}
	return f
}

// Slow answers normally, after d (or not at all if the client gives up first).
func Slow(d time.Duration) Fault { return Fault{delay: d} }

// Unreachable closes each connection without an answer, as a Kratos that
// is down behind a proxy does.
func Unreachable() Fault { return Fault{hangUp: true} }

// Raw answers with exactly this status, header and body, for testing how an
// app copes with anything a broken Kratos or proxy may send.
func Raw(status int, header http.Header, body []byte) Fault {
	return Fault{status: status, header: header.Clone(), body: body}
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	s.mu.Lock()
	s.lastReq = r.Clone(r.Context())
	fault := s.fault
	s.mu.Unlock()

	if fault != nil {
		switch {
		case fault.hangUp:
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
			}
			return
		case fault.delay > 0:
			select {
			case <-time.After(fault.delay):
			case <-r.Context().Done():
				return
			}
		default:
			write(w, fault.status, fault.header, fault.body)
			return
		}
	}

	status, h, body := s.answer(r)
	write(w, status, h, body)
}

// answer is whoami's answer for r when no fault is set.
func (s *Server) answer(r *http.Request) (int, http.Header, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	token, viaCookie := s.credential(r)
	sp := s.sessions[token]
	now := time.Now()
	switch {
	case sp == nil, s.revoked[sp.s.ID], s.disabled[sp.s.Identity.ID], sp.s.Identity.State == "inactive", !now.Before(sp.s.ExpiresAt):
		return http.StatusUnauthorized, s.rec.header401.Clone(), s.rec.body401
	case sp.needsAAL2 && sp.s.AuthenticatorAssuranceLevel != kratosauth.AAL2:
		return http.StatusForbidden, s.rec.header403.Clone(), s.aal2Required()
	}
	h := http.Header{"X-Kratos-Authenticated-Identity-Id": {sp.s.Identity.ID}}
	if s.cacheFor > 0 {
		h.Set("Ory-Session-Cache-For", strconv.Itoa(int(min(s.cacheFor, sp.s.ExpiresAt.Sub(now)).Seconds())))
	}
	if viaCookie != nil && viaCookie.expires.Before(sp.s.ExpiresAt) { // Kratos' RefreshCookie
		h.Add("Set-Cookie", s.issueCookie(token, sp.s.ExpiresAt).String())
	}
	if sp.body == nil {
		sp.body = whoamiBody(s.rec.template200, sp.s)
	}
	if r.URL.Query().Get("tokenize_as") != "" {
		h.Del("Ory-Session-Cache-For") // Kratos sends none when it tokenizes
		return http.StatusOK, h, withToken(sp.body, s.URL+"/", sp.s, now)
	}
	return http.StatusOK, h, sp.body
}

// withToken adds "tokenized" to a whoami body, as Kratos does for
// whoami?tokenize_as=: a JWT with the claims Kratos' tokenizer sets (iss,
// sub, sid, jti, exp one minute ahead, nbf, iat) but no valid signature.
// It serves tests of the edge (kratosauth.WithTokenizeAs,
// kratosauth.TokenTransport); a downstream service's tests sign tokens
// with keys of their own.
func withToken(body []byte, iss string, s *kratosauth.Session, now time.Time) []byte {
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	enc := base64.RawURLEncoding.EncodeToString
	claims, _ := json.Marshal(map[string]any{
		"jti": newUUID(), "iss": iss, "sub": s.Identity.ID, "sid": s.ID,
		"exp": now.Add(time.Minute).Unix(), "nbf": now.Unix(), "iat": now.Unix(),
	})
	m["tokenized"] = enc([]byte(`{"alg":"ES256","kid":"kratosauthtest","typ":"JWT"}`)) + "." + enc(claims) + "." + enc([]byte("kratosauthtest: not signed"))
	out, _ := json.Marshal(m)
	return out
}

// credential picks the session token the way Kratos' extractToken does
// (session/manager_http.go): a non-empty X-Session-Token; else the first
// session cookie that decodes (one this fake issued); else a Bearer token
// split on single spaces (session/helper.go). viaCookie is set when the
// token came from a cookie; s.mu is held.
func (s *Server) credential(r *http.Request) (token string, viaCookie *issuedCookie) {
	if tok := r.Header.Get("X-Session-Token"); tok != "" {
		return tok, nil
	}
	for _, c := range r.CookiesNamed(s.cookieName) {
		if ic, ok := s.cookies[c.Value]; ok {
			return ic.token, &ic
		}
	}
	parts := strings.Split(r.Header.Get("Authorization"), " ")
	if len(parts) == 2 && strings.EqualFold(parts[0], "bearer") {
		return parts[1], nil
	}
	return "", nil
}

func (s *Server) aal2Required() []byte {
	var m map[string]any
	_ = json.Unmarshal(s.rec.template403AAL2, &m)
	to := s.URL + "/self-service/login/browser?aal=aal2"
	m["redirect_browser_to"] = to
	m["error"].(map[string]any)["details"] = map[string]any{"redirect_browser_to": to}
	b, _ := json.Marshal(m)
	return b
}

// WhoamiBody is the body of whoami's 200 answer for s, as a Server of
// DefaultKratosVersion sends it: Kratos' recorded answer with s's values
// (the fields Kratos sends that kratosauth.Session does not model stay as
// recorded). Use it to build Raw answers: a session with odd values, a
// cut-off body, or extra headers such as Set-Cookie.
func WhoamiBody(s *kratosauth.Session) []byte {
	return whoamiBody(recordings[DefaultKratosVersion].template200, s)
}

func whoamiBody(template200 []byte, s *kratosauth.Session) []byte {
	var out, identity map[string]any
	_ = json.Unmarshal(template200, &out)
	identity, _ = out["identity"].(map[string]any)
	var own, ownIdentity map[string]any
	b, _ := json.Marshal(s)
	_ = json.Unmarshal(b, &own)
	ownIdentity, _ = own["identity"].(map[string]any)
	delete(own, "identity")
	for _, k := range []string{"authentication_methods", "devices"} {
		out[k] = []any{}
	}
	for k, v := range own {
		out[k] = v
	}
	for _, k := range []string{"traits", "verifiable_addresses", "recovery_addresses", "metadata_public", "state"} {
		identity[k] = nil
	}
	identity["verifiable_addresses"], identity["recovery_addresses"] = []any{}, []any{}
	delete(identity, "external_id") // Kratos omits an empty one
	for k, v := range ownIdentity {
		identity[k] = v
	}
	identity["schema_url"] = "http://127.0.0.1/schemas/ZGVmYXVsdA"
	out["identity"] = identity
	b, _ = json.Marshal(out)
	return append(b, '\n')
}

func write(w http.ResponseWriter, status int, h http.Header, body []byte) {
	w.Header().Set("Cache-Control", "private, no-cache, no-store, must-revalidate")
	w.Header().Set("Vary", "Cookie")
	if status == http.StatusOK {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	for k, v := range h {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
