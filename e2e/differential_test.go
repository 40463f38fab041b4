package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
)

// TestDifferential checks that the library decides on credentials exactly as
// Kratos does. A seeded generator builds random sets of credential headers
// (X-Session-Token, Cookie and Authorization lines, valid and broken, in
// random numbers and orders); each set is sent byte for byte to Kratos'
// GET /sessions/whoami and to every adapter's /private route, and the
// answers must match:
//
//   - Kratos 200: the app answers 200 with the same identity and session;
//   - Kratos 401 or 403: the app refuses with the same status;
//   - Kratos 5xx (or anything else): the case does not count.
//
// Kratos v1.3.1 answers 500 ("securecookie: ...") when a token or Bearer
// finds a session while an ory_kratos_session cookie that does not decode is
// present (session.RefreshCookie); about 5% of the cases, skipped. At least
// five in six cases must have a verdict, or the generator is broken.
//
// Two passes: "fresh" gives every case and adapter an Authenticator of its
// own (default cache on), so cases are independent; "shared" runs all cases
// in order through one Authenticator per adapter, so a cache key that misses
// something Kratos looks at shows up as an answer leaking between cases.
// Then the gRPC leg sends each case's header lines as a gRPC call's
// metadata to a server guarded by kratosgrpc, fresh and shared likewise.
//
// The generator is seeded: KRATOSAUTH_DIFF_SEED (default 1, "random" for a
// time-based seed), KRATOSAUTH_DIFF_CASES (default 300), and
// KRATOSAUTH_DIFF_ONLY=3,17 runs only those cases of the seed's sequence.
// Reports show credentials by name (ck:A1 is a session cookie of user A,
// tok:B a session token of user B), never their values.
func TestDifferential(t *testing.T) {
	t.Parallel()
	start := time.Now()
	seed, n, only := diffParams(t)
	k := kratostest.Start(t, kratostest.Options{})
	pool := newDiffPool(t, k)

	g := &diffGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), pool: pool}
	var cases []*diffCase
	for i := range n {
		c := g.next(i) // always generated, so that a case's number fixes its headers
		if only == nil || only[i] {
			cases = append(cases, c)
		}
	}
	t.Logf("seed %d (%s), %d of %d cases; reproduce with %s=%d %s=%d", seed, diffSeedEnv, len(cases), n, diffSeedEnv, seed, diffCasesEnv, n)

	checkWire(t, cases)

	// Kratos' verdicts.
	kratosAddr := strings.TrimPrefix(k.PublicURL, "http://")
	parallel(cases, func(c *diffCase) {
		c.kratos = rawGet(kratosAddr, "/sessions/whoami", c.lines, nil)
	})
	verdicts, stats := 0, map[string]int{}
	for _, c := range cases {
		switch s := c.kratos.status; {
		case c.kratos.err != nil:
			stats["error"]++
			t.Logf("case %d: Kratos: %v", c.n, c.kratos.err)
		case s == http.StatusOK && c.kratos.sessionID == "":
			stats["200 without a session"]++
			t.Logf("case %d: Kratos 200 without a session id: %.200s", c.n, c.kratos.body)
		case s == http.StatusOK || s == http.StatusUnauthorized || s == http.StatusForbidden:
			verdicts++
			c.verdict = true
			stats[strconv.Itoa(s)]++
		default:
			stats[strconv.Itoa(s)+" (skipped)"]++
			t.Logf("case %d: Kratos %d, skipped: %.200s\n\t%s", c.n, s, strings.TrimSpace(c.kratos.body), c)
		}
	}
	t.Logf("Kratos verdicts: %d of %d cases %v", verdicts, len(cases), stats)
	if minVerdicts := (len(cases)*5 + 5) / 6; only == nil && verdicts < minVerdicts {
		t.Fatalf("only %d of %d cases have a Kratos verdict (want >= %d): the generator is broken", verdicts, len(cases), minVerdicts)
	}

	// The apps: one server per adapter, serving whichever Authenticator's
	// routes the request names in diffHandlerHeader.
	servers := map[string]*diffServer{}
	for _, ad := range adapters {
		d := &diffServer{}
		srv := httptest.NewServer(d)
		t.Cleanup(srv.Close)
		d.addr = strings.TrimPrefix(srv.URL, "http://")
		servers[ad.name] = d
	}
	newAuth := func(whoamiURL string) (*kratosauth.Authenticator, error) {
		return kratosauth.New(whoamiURL,
			kratosauth.WithBrowserURL(k.PublicURL),
			kratosauth.WithAppURL(k.Options.AppURL),
			kratosauth.WithLogger(slog.New(slog.DiscardHandler)))
	}
	verdictCases := slices.DeleteFunc(slices.Clone(cases), func(c *diffCase) bool { return !c.verdict })

	fresh := map[string]map[int]diffAnswer{} // adapter → case → answer
	t.Run("fresh", func(t *testing.T) {
		var mu sync.Mutex
		for _, ad := range adapters {
			fresh[ad.name] = map[int]diffAnswer{}
		}
		parallel(verdictCases, func(c *diffCase) {
			for _, ad := range adapters {
				var a diffAnswer
				auth, err := newAuth(k.PublicURL)
				if err != nil {
					a.err = err
				} else {
					key := fmt.Sprintf("fresh/%d", c.n)
					a = servers[ad.name].get(key, ad.routes(auth), c.lines)
					_ = auth.Close()
				}
				mu.Lock()
				fresh[ad.name][c.n] = a
				mu.Unlock()
			}
		})
		reportDisagreements(t, pool, verdictCases, fresh, nil)
	})

	t.Run("shared", func(t *testing.T) {
		shared := map[string]map[int]diffAnswer{}
		requests := 0
		p := newProxy(t, k.PublicURL) // counts whoami calls: the cache is in play
		for _, ad := range adapters {
			auth, err := newAuth(p.URL)
			require.NoError(t, err)
			t.Cleanup(func() { _ = auth.Close() })
			h := ad.routes(auth)
			shared[ad.name] = map[int]diffAnswer{}
			// In order, one at a time: a leak from case i to case j > i
			// reproduces with the same seed.
			for _, c := range verdictCases {
				shared[ad.name][c.n] = servers[ad.name].get("shared", h, c.lines)
				requests++
			}
		}
		t.Logf("%d requests made %d whoami calls", requests, p.Whoamis())
		reportDisagreements(t, pool, verdictCases, shared, fresh)
	})

	// The gRPC leg (grpc_differential_test.go): the same cases as metadata.
	t.Run("grpc", func(t *testing.T) { diffGRPC(t, k, pool, verdictCases, newAuth) })
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}

const (
	diffSeedEnv       = "KRATOSAUTH_DIFF_SEED"
	diffCasesEnv      = "KRATOSAUTH_DIFF_CASES"
	diffOnlyEnv       = "KRATOSAUTH_DIFF_ONLY"
	diffDefaultSeed   = 1
	diffDefaultCases  = 300
	diffHandlerHeader = "X-Differential-Handler"
	diffWorkers       = 8
)

func diffParams(t *testing.T) (seed uint64, n int, only map[int]bool) {
	t.Helper()
	seed, n = diffDefaultSeed, diffDefaultCases
	switch s := os.Getenv(diffSeedEnv); s {
	case "":
	case "random":
		seed = uint64(time.Now().UnixNano())
	default:
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, diffSeedEnv)
	}
	if s := os.Getenv(diffCasesEnv); s != "" {
		var err error
		n, err = strconv.Atoi(s)
		require.NoError(t, err, diffCasesEnv)
		require.Positive(t, n, diffCasesEnv)
	}
	if s := os.Getenv(diffOnlyEnv); s != "" {
		only = map[int]bool{}
		for f := range strings.SplitSeq(s, ",") {
			i, err := strconv.Atoi(strings.TrimSpace(f))
			require.NoError(t, err, diffOnlyEnv)
			require.True(t, i >= 0 && i < n, "%s: case %d not in [0, %d)", diffOnlyEnv, i, n)
			only[i] = true
		}
	}
	return seed, n, only
}

// ---- Credentials ----------------------------------------------------------

// diffCred is one real credential. Its label is all reports ever show.
type diffCred struct {
	label, value          string
	identityID, sessionID string
}

type diffUser struct {
	name    string
	cookies []diffCred // ory_kratos_session values
	tokens  []diffCred
}

type diffPool struct {
	users   []*diffUser
	cookies []diffCred
	tokens  []diffCred
	// names maps identity and session IDs to labels for reports.
	identities, sessions map[string]string
}

// newDiffPool makes three users with browser sessions (cookies, from the
// registration and login flows) and API sessions (tokens): user A has two
// browser sessions, so picking the wrong one of its cookies shows.
func newDiffPool(t *testing.T, k *kratostest.Server) *diffPool {
	t.Helper()
	p := &diffPool{identities: map[string]string{}, sessions: map[string]string{}}
	add := func(u *diffUser, label, value string, isCookie bool) {
		var resp *http.Response
		var body []byte
		if isCookie {
			resp, body = k.Whoami(t, "", &http.Cookie{Name: kratostest.SessionCookieName, Value: value})
		} else {
			resp, body = k.Whoami(t, value)
		}
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", label, body)
		sid, iid := kratostest.SessionIDs(t, body)
		c := diffCred{label: label, value: value, identityID: iid, sessionID: sid}
		if isCookie {
			u.cookies = append(u.cookies, c)
			p.cookies = append(p.cookies, c)
		} else {
			u.tokens = append(u.tokens, c)
			p.tokens = append(p.tokens, c)
		}
		p.identities[iid] = u.name
		p.sessions[sid] = label
	}

	a := &diffUser{name: "A"}
	email := kratostest.UniqueEmail("diff-a")
	_, ck := k.RegisterBrowser(t, email, password)
	add(a, "ck:A1", ck.Value, true)
	_, ck = k.LoginBrowser(t, email, password)
	add(a, "ck:A2", ck.Value, true)
	add(a, "tok:A", k.LoginAPI(t, email, password), false)
	p.users = append(p.users, a)

	for _, name := range []string{"B", "C"} {
		u := &diffUser{name: name}
		email := kratostest.UniqueEmail("diff-" + strings.ToLower(name))
		tok, _ := k.RegisterAPI(t, email, password)
		add(u, "tok:"+name, tok, false)
		_, ck := k.LoginBrowser(t, email, password)
		add(u, "ck:"+name, ck.Value, true)
		p.users = append(p.users, u)
	}
	return p
}

// ---- Generator ------------------------------------------------------------

// hval is a header value (or part of one) and how reports show it.
type hval struct{ raw, sym string }

// hline is one header line, sent exactly as "name: raw\r\n".
type hline struct {
	name string
	v    hval
}

type diffCase struct {
	n     int
	lines []hline
	tags  []string

	kratos  diffAnswer
	verdict bool // Kratos answered 200 (with a session), 401 or 403
}

// String describes the case's headers without any credential value.
func (c *diffCase) String() string {
	if len(c.lines) == 0 {
		return "(no credential headers)"
	}
	var b strings.Builder
	for i, l := range c.lines {
		if i > 0 {
			b.WriteString(" | ")
		}
		fmt.Fprintf(&b, "%s: %q", l.name, l.v.sym)
	}
	return b.String()
}

type diffGen struct {
	r    *rand.Rand
	pool *diffPool
	tags map[string]bool
}

// pick returns i with probability weights[i] / sum(weights).
func (g *diffGen) pick(weights ...int) int {
	sum := 0
	for _, w := range weights {
		sum += w
	}
	x := g.r.IntN(sum)
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	panic("unreachable")
}

func (g *diffGen) chance(percent int) bool { return g.r.IntN(100) < percent }
func (g *diffGen) tag(s string)            { g.tags[s] = true }

const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func (g *diffGen) junk(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = b64url[g.r.IntN(len(b64url))]
	}
	return string(b)
}

func (g *diffGen) cookie() diffCred { return g.pool.cookies[g.r.IntN(len(g.pool.cookies))] }
func (g *diffGen) token() diffCred  { return g.pool.tokens[g.r.IntN(len(g.pool.tokens))] }

// next generates case n: each of X-Session-Token, Cookie and Authorization
// is present or not, with one or more lines, interleaved at random.
func (g *diffGen) next(n int) *diffCase {
	g.tags = map[string]bool{}
	var groups [][]hline
	if g.chance(25) {
		lines := make([]hline, 1+g.pick(70, 30))
		for i := range lines {
			lines[i] = hline{"X-Session-Token", g.sessionToken()}
		}
		g.tag("x-session-token")
		if len(lines) > 1 {
			g.tag("x-session-token×2")
		}
		groups = append(groups, lines)
	}
	if g.chance(75) {
		lines := make([]hline, 1+g.pick(70, 20, 10))
		sessionCookies := 0
		for i := range lines {
			lines[i] = g.cookieLine(&sessionCookies)
		}
		if len(lines) > 1 {
			g.tag("cookie-lines×n")
		}
		if sessionCookies > 1 {
			g.tag("ory_kratos_session×n")
		}
		groups = append(groups, lines)
	}
	if g.chance(45) {
		lines := make([]hline, 1+g.pick(85, 15))
		for i := range lines {
			lines[i] = hline{"Authorization", g.authorization()}
		}
		if len(lines) > 1 {
			g.tag("authorization×2")
		}
		groups = append(groups, lines)
	}
	c := &diffCase{n: n}
	// Interleave the groups at random, keeping each group's own order.
	for len(groups) > 0 {
		i := g.r.IntN(len(groups))
		c.lines = append(c.lines, groups[i][0])
		if groups[i] = groups[i][1:]; len(groups[i]) == 0 {
			groups = slices.Delete(groups, i, i+1)
		}
	}
	for tg := range g.tags {
		c.tags = append(c.tags, tg)
	}
	slices.Sort(c.tags)
	return c
}

func (g *diffGen) sessionToken() hval {
	switch g.pick(40, 15, 25, 7, 5, 8) {
	case 0:
		tk := g.token()
		return hval{tk.value, tk.label}
	case 1:
		g.tag("junk-token")
		return hval{"ory_st_" + g.junk(32), "junk:tok"}
	case 2:
		g.tag("empty-x-session-token")
		return hval{"", ""}
	case 3:
		ck := g.cookie()
		g.tag("cookie-as-token")
		return hval{ck.value, ck.label}
	case 4:
		g.tag("junk-token")
		return hval{"ory_st_" + g.junk(10) + " " + g.junk(10), "junk:tok/space"}
	default:
		g.tag("whitespace-x-session-token")
		return hval{"   ", "   "}
	}
}

var unrelatedCookies = []string{"_ga", "theme", "lang", "csrf_token_806060ca", "ory_kratos_continuity"}

// nearMissCookies are not the session cookie (cookie names are case
// sensitive, and ory_session_ alone has no project slug).
var nearMissCookies = []string{"Ory_Kratos_Session", "ory_kratos_session_v2", "ory_kratos_sessionx", "ory_session_"}

// cookieLine is one Cookie header line of 1 to 4 cookies.
func (g *diffGen) cookieLine(sessionCookies *int) hline {
	parts := 1 + g.pick(35, 30, 20, 15)
	var raw, sym []string
	for range parts {
		var name string
		var v hval
		switch g.pick(45, 18, 25, 7, 5) {
		case 0:
			name, v = kratostest.SessionCookieName, g.sessionCookieValue()
			*sessionCookies++
		case 1:
			name = "ory_session_" + strings.ToLower(g.junk(4+g.r.IntN(8)))
			g.tag("ory_session_*")
			if g.chance(65) {
				ck := g.cookie()
				v = hval{ck.value, ck.label}
			} else {
				v = hval{g.junk(40 + g.r.IntN(300)), "junk"}
			}
		case 2:
			name = unrelatedCookies[g.r.IntN(len(unrelatedCookies))]
			v = hval{"v" + g.junk(1+g.r.IntN(12)), "x"}
		case 3:
			name = nearMissCookies[g.r.IntN(len(nearMissCookies))]
			ck := g.cookie()
			v = hval{ck.value, ck.label}
			g.tag("near-miss-name")
		default:
			// A cookie without "=": Go reads it as an empty value.
			if g.chance(50) {
				name = kratostest.SessionCookieName
				*sessionCookies++
				g.tag("ory_kratos_session-without-=")
			} else {
				name = "flag"
			}
			raw, sym = append(raw, name), append(sym, name)
			continue
		}
		raw, sym = append(raw, name+"="+v.raw), append(sym, name+"="+v.sym)
	}
	sep := []string{"; ", ";", " ; "}[g.pick(80, 15, 5)]
	return hline{"Cookie", hval{strings.Join(raw, sep), strings.Join(sym, sep)}}
}

func (g *diffGen) sessionCookieValue() hval {
	ck := g.cookie()
	switch g.pick(34, 10, 7, 9, 8, 8, 3, 3, 4, 5, 4) {
	case 0:
		return hval{ck.value, ck.label}
	case 1:
		g.tag("junk-cookie")
		return hval{g.junk(8 + g.r.IntN(400)), "junk"}
	case 2:
		// A real cookie with one character changed: its MAC fails.
		i := len(ck.value) / 2
		c := b64url[(strings.IndexByte(b64url, ck.value[i])+1+g.r.IntN(len(b64url)-1))%len(b64url)]
		g.tag("tampered-cookie")
		return hval{ck.value[:i] + string(c) + ck.value[i+1:], ck.label + "~tampered"}
	case 3:
		g.tag("empty-cookie")
		return hval{"", ""}
	case 4:
		g.tag("quoted-cookie")
		return hval{`"` + ck.value + `"`, `"` + ck.label + `"`}
	case 5:
		// Percent-encode the base64 padding, or the first byte if none.
		g.tag("percent-encoded-cookie")
		if strings.Contains(ck.value, "=") {
			return hval{strings.ReplaceAll(ck.value, "=", "%3D"), "pct(" + ck.label + ")"}
		}
		return hval{fmt.Sprintf("%%%02X", ck.value[0]) + ck.value[1:], "pct1(" + ck.label + ")"}
	case 6:
		g.tag("percent-encoded-cookie")
		var b strings.Builder
		for i := 0; i < len(ck.value); i++ {
			fmt.Fprintf(&b, "%%%02X", ck.value[i])
		}
		return hval{b.String(), "pct*(" + ck.label + ")"}
	case 7:
		g.tag("quoted-cookie")
		return hval{`"` + g.junk(40) + `"`, `"junk"`}
	case 8:
		tk := g.token()
		g.tag("token-as-cookie")
		return hval{tk.value, tk.label}
	case 9:
		// Bytes Go accepts in a cookie value but RFC 6265 does not.
		g.tag("space-or-comma-in-cookie")
		i := len(ck.value) / 2
		if g.chance(50) {
			return hval{ck.value[:i] + " " + ck.value[i:], ck.label + "+space"}
		}
		return hval{ck.value[:i] + "," + ck.value[i:], ck.label + "+comma"}
	default:
		g.tag("truncated-cookie")
		return hval{ck.value[:len(ck.value)-1-g.r.IntN(8)], ck.label + "~truncated"}
	}
}

func (g *diffGen) authorization() hval {
	tok := func() hval {
		if g.chance(80) {
			tk := g.token()
			return hval{tk.value, tk.label}
		}
		g.tag("junk-token")
		return hval{"ory_st_" + g.junk(32), "junk:tok"}
	}
	switch g.pick(25, 8, 4, 10, 8, 6, 4, 5, 3, 3, 3, 3, 3, 2) {
	case 0:
		g.tag("bearer")
		t := tok()
		return hval{"Bearer " + t.raw, "Bearer " + t.sym}
	case 1:
		g.tag("bearer-lowercase")
		t := tok()
		return hval{"bearer " + t.raw, "bearer " + t.sym}
	case 2:
		g.tag("bearer-uppercase")
		t := tok()
		return hval{"BEARER " + t.raw, "BEARER " + t.sym}
	case 3:
		g.tag("bearer-two-spaces")
		t := tok()
		return hval{"Bearer  " + t.raw, "Bearer  " + t.sym}
	case 4:
		g.tag("basic")
		return hval{"Basic dXNlcjpwYXNzd29yZA==", "Basic dXNlcjpwYXNzd29yZA=="}
	case 5:
		g.tag("bearer-alone")
		return hval{"Bearer", "Bearer"}
	case 6:
		g.tag("bearer-alone")
		return hval{"Bearer ", "Bearer "}
	case 7:
		g.tag("bearer-trailing-space")
		t := tok()
		sp := strings.Repeat(" ", 1+g.r.IntN(2))
		return hval{"Bearer " + t.raw + sp, "Bearer " + t.sym + sp}
	case 8:
		g.tag("bearer-leading-space")
		t := tok()
		return hval{" Bearer " + t.raw, " Bearer " + t.sym}
	case 9:
		g.tag("bearer-tab")
		t := tok()
		return hval{"Bearer\t" + t.raw, "Bearer\t" + t.sym}
	case 10:
		g.tag("bearer-extra-word")
		t := tok()
		return hval{"Bearer " + t.raw + " extra", "Bearer " + t.sym + " extra"}
	case 11:
		g.tag("bearer-cookie")
		ck := g.cookie()
		return hval{"Bearer " + ck.value, "Bearer " + ck.label}
	case 12:
		g.tag("authorization-token-scheme")
		t := tok()
		return hval{"Token " + t.raw, "Token " + t.sym}
	default:
		g.tag("empty-authorization")
		return hval{"", ""}
	}
}

// ---- Sending --------------------------------------------------------------

// diffAnswer is a response to one case.
type diffAnswer struct {
	status                int
	identityID, sessionID string
	body                  string
	err                   error
}

// rawGet sends GET path to addr on a new connection, writing the request
// by hand so that every header line goes on the wire exactly as given, in
// order (Go's client sorts header names and trims values). It reads the
// session (Kratos' or the app's JSON) from a 200.
func rawGet(addr, path string, lines []hline, extra []hline) (a diffAnswer) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return diffAnswer{err: err}
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\nConnection: close\r\n", path, addr)
	for _, l := range append(slices.Clone(extra), lines...) {
		b.WriteString(l.name + ": " + l.v.raw + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return diffAnswer{err: err}
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return diffAnswer{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return diffAnswer{err: err}
	}
	a = diffAnswer{status: resp.StatusCode, body: string(body)}
	if resp.StatusCode == http.StatusOK {
		// Kratos' session, or the app's me.
		var v struct {
			ID         string `json:"id"`
			IdentityID string `json:"identity_id"`
			SessionID  string `json:"session_id"`
			Identity   struct {
				ID string `json:"id"`
			} `json:"identity"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			a.err = fmt.Errorf("decoding the 200 body: %w", err)
			return a
		}
		a.identityID, a.sessionID = v.IdentityID, v.SessionID
		if v.ID != "" {
			a.identityID, a.sessionID = v.Identity.ID, v.ID
		}
	}
	return a
}

// parallel runs f on every case, diffWorkers at a time.
func parallel(cases []*diffCase, f func(*diffCase)) {
	ch := make(chan *diffCase)
	var wg sync.WaitGroup
	for range diffWorkers {
		wg.Go(func() {
			for c := range ch {
				f(c)
			}
		})
	}
	for _, c := range cases {
		ch <- c
	}
	close(ch)
	wg.Wait()
}

// diffServer serves the routes of whichever Authenticator a request names
// in diffHandlerHeader (a header the library never looks at).
type diffServer struct {
	addr     string
	handlers sync.Map // key → http.Handler
}

func (d *diffServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, ok := d.handlers.Load(r.Header.Get(diffHandlerHeader))
	if !ok {
		http.Error(w, "differential: no handler", http.StatusTeapot)
		return
	}
	h.(http.Handler).ServeHTTP(w, r)
}

func (d *diffServer) get(key string, h http.Handler, lines []hline) diffAnswer {
	d.handlers.Store(key, h)
	defer d.handlers.Delete(key)
	return rawGet(d.addr, "/private", lines, []hline{{diffHandlerHeader, hval{key, key}}})
}

// checkWire sends every case to a recording server and checks that it
// received each header's lines in order, as the apps and Kratos (Go servers
// both) will: values trimmed of surrounding whitespace, nothing merged.
func checkWire(t *testing.T, cases []*diffCase) {
	t.Helper()
	var mu sync.Mutex
	got := map[string]http.Header{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Header.Get(diffHandlerHeader)] = r.Header.Clone()
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	parallel(cases, func(c *diffCase) {
		key := strconv.Itoa(c.n)
		if a := rawGet(addr, "/", c.lines, []hline{{diffHandlerHeader, hval{key, key}}}); a.err != nil || a.status != http.StatusNoContent {
			t.Errorf("case %d: wire check: %d %v", c.n, a.status, a.err)
		}
	})
	for _, c := range cases {
		want := http.Header{}
		for _, l := range c.lines {
			want[l.name] = append(want[l.name], strings.Trim(l.v.raw, " \t"))
		}
		h := got[strconv.Itoa(c.n)]
		for _, name := range []string{"X-Session-Token", "Cookie", "Authorization"} {
			if !slices.Equal(want[name], h[name]) {
				t.Fatalf("case %d: the server received %d %s lines, want %d: %s", c.n, len(h[name]), name, len(want[name]), c)
			}
		}
	}
}

// ---- Reports --------------------------------------------------------------

func (p *diffPool) describe(a diffAnswer) string {
	switch {
	case a.err != nil:
		return fmt.Sprintf("error %v", a.err)
	case a.status == http.StatusOK:
		who, ok := p.identities[a.identityID]
		if !ok {
			who = "identity " + a.identityID
		}
		sess, ok := p.sessions[a.sessionID]
		if !ok {
			sess = "session " + a.sessionID
		}
		return fmt.Sprintf("200 %s (%s)", who, sess)
	default:
		return strconv.Itoa(a.status)
	}
}

// agrees reports whether the app's answer a matches Kratos' answer k.
func agrees(k, a diffAnswer) bool {
	if a.err != nil {
		return false
	}
	if k.status == http.StatusOK {
		return a.status == http.StatusOK && a.identityID == k.identityID && a.sessionID == k.sessionID
	}
	return a.status == k.status
}

// reportDisagreements fails t with one line per disagreeing case (grouping
// adapters that answered alike) and a count per generator tag. With base
// (the fresh pass), cases that agreed there are marked: only the shared
// Authenticator got them wrong.
func reportDisagreements(t *testing.T, p *diffPool, cases []*diffCase, answers, base map[string]map[int]diffAnswer) {
	t.Helper()
	var lines []string
	perAdapter := map[string]int{}
	tagAll, tagBad := map[string]int{}, map[string]int{}
	bad := 0
	for _, c := range cases {
		for _, tg := range c.tags {
			tagAll[tg]++
		}
		var byAnswer []string // "nethttp,chi,gin: 401"
		groups := map[string][]string{}
		cacheOnly := false
		for _, name := range slices.Sorted(maps.Keys(answers)) {
			a, ok := answers[name][c.n]
			if !ok || agrees(c.kratos, a) { // not ok: a case the leg cannot send
				continue
			}
			perAdapter[name]++
			d := p.describe(a)
			if len(groups[d]) == 0 {
				byAnswer = append(byAnswer, d)
			}
			groups[d] = append(groups[d], name)
			if base != nil && agrees(c.kratos, base[name][c.n]) {
				cacheOnly = true
			}
		}
		if len(byAnswer) == 0 {
			continue
		}
		bad++
		for _, tg := range c.tags {
			tagBad[tg]++
		}
		var apps []string
		for _, d := range byAnswer {
			apps = append(apps, strings.Join(groups[d], ",")+" "+d)
		}
		mark := ""
		if cacheOnly {
			mark = " [agreed with a fresh Authenticator: cache leak]"
		}
		lines = append(lines, fmt.Sprintf("case %d: Kratos %s, %s%s\n\t%s", c.n, p.describe(c.kratos), strings.Join(apps, "; "), mark, c))
	}
	if bad == 0 {
		t.Logf("all %d cases with a Kratos verdict agree", len(cases))
		return
	}
	var tags []string
	for tg, nb := range tagBad {
		tags = append(tags, fmt.Sprintf("%s %d/%d", tg, nb, tagAll[tg]))
	}
	slices.Sort(tags)
	const maxLines = 60
	more := ""
	if len(lines) > maxLines {
		more = fmt.Sprintf("\n... and %d more (%s selects cases)", len(lines)-maxLines, diffOnlyEnv)
		lines = lines[:maxLines]
	}
	t.Errorf("%d of %d cases disagree with Kratos (per adapter %v)\ntags of the disagreeing cases (disagreeing/all): %s\n%s%s",
		bad, len(cases), perAdapter, strings.Join(tags, ", "), strings.Join(lines, "\n"), more)
}
