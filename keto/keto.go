// Package keto is a small client for the permission check of Ory Keto
// (self-hosted; tested against v0.13) and of Ory Network's permission API: one
// question, "may this subject have this relation on this object?", asked
// with GET /relation-tuples/check/openapi on Keto's read API.
//
//	perms, err := keto.New("http://127.0.0.1:4466") // Keto's read port
//	allowed, err := perms.Check(ctx, keto.Tuple{Namespace: "Doc", Object: id, Relation: "view", SubjectID: identityID})
//
// FilterPermitted answers the question for a list of objects (what a list
// endpoint may show), all or nothing; ForgetObject, ForgetSubject and
// ForgetAll drop cached decisions when the app changes tuples.
//
// A *Client is a kratosauth.PermissionChecker, for routes protected with
// kratosauth's RequirePermission (pass it with kratosauth.WithPermissions).
//
// It is careful as kratosauth's whoami client is: a bounded body, a timeout,
// no redirects, kept-alive connections, and an answer is only "allowed" or
// "denied" when Keto said so in a 200 with exactly one boolean "allowed";
// anything else is an error wrapping ErrUnavailable. Decisions are cached
// briefly; see WithAllowTTL and WithDenyTTL.
package keto

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/kratosauth/kratosauth/internal/httpbody"
	"github.com/kratosauth/kratosauth/internal/strictjson"
)

const (
	// DefaultAllowTTL bounds how long an "allowed" is reused without asking
	// Keto, and so how long access outlives the deletion of its tuple.
	DefaultAllowTTL = 5 * time.Second
	// DefaultDenyTTL: denials are not cached (see WithDenyTTL).
	DefaultDenyTTL = 0
	// DefaultTimeout bounds one check call, reading the body included; the
	// same bound as kratosauth.DefaultTimeout for whoami.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxResponseBytes caps a check's response body; Keto's is 17 bytes.
	DefaultMaxResponseBytes = 64 << 10
	// DefaultMaxConcurrentChecks bounds the checks one FilterPermitted call
	// has in flight: 100 uncached objects take about 13 round trips of
	// Keto's, and a list endpoint cannot flood Keto's database.
	DefaultMaxConcurrentChecks = 8

	// checkPath is Keto's check that answers 200 {"allowed": bool} either
	// way. Its sibling /relation-tuples/check mirrors the answer in the
	// status (403 for "denied"), which cannot be told apart from a proxy's
	// or Ory Network's 403 for a bad API key.
	checkPath = "/relation-tuples/check/openapi"
)

var (
	// ErrUnavailable: Keto could not answer (connection error, timeout,
	// an unexpected status, an unreadable, oversized or ambiguous body).
	// It never means "denied".
	ErrUnavailable = errors.New("keto: permission service unavailable")
	// ErrInvalidTuple: a field of the tuple is empty; Keto is not asked.
	ErrInvalidTuple = errors.New("keto: invalid tuple")
)

// Tuple is a permission question: may SubjectID (for kratosauth, the
// Kratos identity ID) have Relation on the Object of Namespace?
type Tuple struct {
	Namespace string
	Object    string
	Relation  string
	SubjectID string
}

// Option configures a Client; New applies and validates them, and an
// invalid value or a nil argument is an error from New.
type Option func(*config) error

type config struct {
	apiKey           string
	client           *http.Client
	timeout          time.Duration
	maxResponseBytes int64
	allowTTL         time.Duration
	denyTTL          time.Duration
	maxConcurrent    int
}

// WithAPIKey sends key as a Bearer token with every check, as Ory Network
// requires (an Ory project API key). It goes only to the URL given to New:
// redirects are never followed. Default: no Authorization header.
func WithAPIKey(key string) Option {
	return func(c *config) error {
		if key == "" || strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			return errors.New("keto: WithAPIKey: empty key, or one with spaces or characters a header cannot carry")
		}
		c.apiKey = key
		return nil
	}
}

// WithHTTPClient sets the client for checks; redirects are never followed
// and no cookie jar is used, whatever it says. Default: a client whose
// transport keeps up to 256 idle connections to Keto.
func WithHTTPClient(client *http.Client) Option {
	return func(c *config) error {
		if client == nil {
			return errors.New("keto: WithHTTPClient: nil client")
		}
		c.client = client
		return nil
	}
}

// WithTimeout bounds one check call; past it the check fails with
// ErrUnavailable. Default: DefaultTimeout (5 seconds).
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("keto: WithTimeout: duration must be positive, got %s", d)
		}
		c.timeout = d
		return nil
	}
}

// WithMaxResponseBytes caps a check's response body; a larger one fails
// with ErrUnavailable. Default: DefaultMaxResponseBytes (64 KiB).
func WithMaxResponseBytes(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("keto: WithMaxResponseBytes: size must be positive, got %d", n)
		}
		c.maxResponseBytes = n
		return nil
	}
}

// WithAllowTTL sets how long an "allowed" is reused for the same tuple
// without asking Keto. It is also how long a user keeps access after the
// tuple that granted it is deleted, counted from when Keto was asked.
// Zero disables caching (every check asks Keto; concurrent identical checks
// still share one call). Default: DefaultAllowTTL (5 seconds).
func WithAllowTTL(ttl time.Duration) Option {
	return func(c *config) error {
		if ttl < 0 {
			return fmt.Errorf("keto: WithAllowTTL: negative duration %s", ttl)
		}
		c.allowTTL = ttl
		return nil
	}
}

// WithDenyTTL sets how long a "denied" is reused without asking Keto. It
// cannot be longer than the allow TTL (New fails). A cached denial only
// delays a grant: a user just added to a group, or who just created a
// document whose owner tuple the app wrote, would get 403s until it
// expires, so apps that write a tuple and then redirect to what it grants
// must keep it at zero. What caching denials buys is fewer calls when one
// client repeats a denied request; concurrent identical checks share one
// call in any case. Default: DefaultDenyTTL (0, not cached).
func WithDenyTTL(ttl time.Duration) Option {
	return func(c *config) error {
		if ttl < 0 {
			return fmt.Errorf("keto: WithDenyTTL: negative duration %s", ttl)
		}
		c.denyTTL = ttl
		return nil
	}
}

// WithMaxConcurrentChecks bounds how many checks one FilterPermitted call
// has in flight at a time. Default: DefaultMaxConcurrentChecks (8).
func WithMaxConcurrentChecks(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("keto: WithMaxConcurrentChecks: must be positive, got %d", n)
		}
		c.maxConcurrent = n
		return nil
	}
}

// Client checks permissions with one Keto (or Ory Network project). Build
// it with New when the app starts and share it; it is safe for concurrent
// use.
type Client struct {
	cfg      config
	checkURL string // base + checkPath
	auth     []string
	cache    decisionCache
	inflight singleflight.Group
}

// New returns a Client for Keto's read API at readURL, for example
// "http://127.0.0.1:4466", or an Ory Network project's URL
// ("https://{slug}.projects.oryapis.com", with WithAPIKey). All
// configuration is checked here.
func New(readURL string, opts ...Option) (*Client, error) {
	base, err := parseBaseURL(readURL)
	if err != nil {
		return nil, err
	}
	c := config{
		timeout:          DefaultTimeout,
		maxResponseBytes: DefaultMaxResponseBytes,
		allowTTL:         DefaultAllowTTL,
		denyTTL:          DefaultDenyTTL,
		maxConcurrent:    DefaultMaxConcurrentChecks,
	}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("keto: nil Option")
		}
		if err := opt(&c); err != nil {
			return nil, err
		}
	}
	if c.denyTTL > c.allowTTL {
		return nil, fmt.Errorf("keto: WithDenyTTL(%s) is longer than the allow TTL (%s): a denial must not outlive an allow", c.denyTTL, c.allowTTL)
	}
	c.client = checkClient(c.client)
	k := &Client{cfg: c, checkURL: base + checkPath}
	k.cache.seed = maphash.MakeSeed()
	if c.apiKey != "" {
		k.auth = []string{"Bearer " + c.apiKey}
	}
	return k, nil
}

// checkClient returns a copy of client (or of the default) that never
// follows redirects and has no cookie jar: a redirect would take the API
// key elsewhere, and its target's answer is not Keto's.
func checkClient(client *http.Client) *http.Client {
	var c http.Client
	if client != nil {
		c = *client
	} else {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = 256 // the default 2 per host means new connections under load
		t.MaxIdleConnsPerHost = 256
		c.Transport = t
	}
	c.Jar = nil
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// Close closes the client's idle connections. Checks must not be made after.
func (k *Client) Close() { k.cfg.client.CloseIdleConnections() }

// Check reports whether Keto allows t: true or false when Keto said so (or
// said so recently, see WithAllowTTL and WithDenyTTL), otherwise an error:
// ErrInvalidTuple for a tuple with an empty field, ErrUnavailable when
// Keto could not answer, or ctx's error when ctx ended first. Concurrent
// checks of one tuple share one call, which runs to its own timeout even if
// the caller that started it gives up.
func (k *Client) Check(ctx context.Context, t Tuple) (bool, error) {
	if t.Namespace == "" || t.Object == "" || t.Relation == "" || t.SubjectID == "" {
		return false, fmt.Errorf("%w: namespace %q, object %q, relation %q, subject %q", ErrInvalidTuple, t.Namespace, t.Object, t.Relation, t.SubjectID)
	}
	gen := k.cache.gen.Load() // before the lookup: a forget after it fences this question's answer
	key := t.digest()
	if allowed, ok := k.cache.get(&key, time.Now()); ok {
		return allowed, nil
	}
	return k.fetch(ctx, key, gen, t)
}

// fetch asks Keto once for all concurrent checks of t that started in the
// same cache generation: a check that starts after a Forget never shares a
// call made before it. key is a copy, so that the closure below does not
// move Check's key to the heap and a cache hit allocates nothing.
func (k *Client) fetch(ctx context.Context, key [sha256.Size]byte, gen uint64, t Tuple) (bool, error) {
	flight := binary.BigEndian.AppendUint64(key[:], gen)
	ch := k.inflight.DoChan(string(flight), func() (any, error) {
		start := time.Now()
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.timeout)
		defer cancel()
		allowed, err := k.ask(callCtx, t)
		if err == nil {
			// From the question's start: Keto answered at some point after
			// it, so the decision is never reused longer than the TTL past
			// the state Keto saw.
			if ttl := k.ttl(allowed); ttl > 0 {
				k.cache.put(&key, &t, gen, allowed, start.Add(ttl))
			}
		}
		return allowed, err
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return false, res.Err
		}
		return res.Val.(bool), nil
	case <-ctx.Done():
		return false, fmt.Errorf("keto: check abandoned: %w", context.Cause(ctx))
	}
}

// CheckPermission is Check with the tuple's fields as arguments; it makes
// a *Client a kratosauth.PermissionChecker.
func (k *Client) CheckPermission(ctx context.Context, namespace, object, relation, subjectID string) (bool, error) {
	return k.Check(ctx, Tuple{Namespace: namespace, Object: object, Relation: relation, SubjectID: subjectID})
}

func (k *Client) ttl(allowed bool) time.Duration {
	if allowed {
		return k.cfg.allowTTL
	}
	return k.cfg.denyTTL
}

// ask makes one check call.
func (k *Client) ask(ctx context.Context, t Tuple) (bool, error) {
	q := url.Values{
		"namespace":  {t.Namespace},
		"object":     {t.Object},
		"relation":   {t.Relation},
		"subject_id": {t.SubjectID},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.checkURL+"?"+q.Encode(), nil)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req.Header["Accept"] = []string{"application/json"}
	if k.auth != nil {
		req.Header["Authorization"] = k.auth
	}
	resp, err := k.cfg.client.Do(req)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := httpbody.ReadCapped(resp.Body, k.cfg.maxResponseBytes)
	if err != nil {
		return false, fmt.Errorf("%w: reading %d response: %w", ErrUnavailable, resp.StatusCode, err)
	}
	return parseCheck(resp.StatusCode, body)
}

// parseCheck maps a check response to a decision. Only a 200 whose body is
// one JSON object with exactly one "allowed" member, true or false, is a
// decision: a 403 (a proxy, a bad API key, or the status-mirroring check
// endpoint) is not a denial, and a body that could be read two ways is not
// read at all.
func parseCheck(status int, body []byte) (bool, error) {
	if status != http.StatusOK {
		hint := ""
		if status == http.StatusUnauthorized || status == http.StatusForbidden {
			hint = " (is the API key right?)"
		}
		return false, fmt.Errorf("%w: unexpected status %d%s", ErrUnavailable, status, hint)
	}
	v, err := strictjson.Lookup(body, "allowed")
	if err != nil {
		return false, fmt.Errorf("%w: check response: %w", ErrUnavailable, err)
	}
	switch string(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%w: check response: \"allowed\" is %.20s, not a boolean", ErrUnavailable, v)
}

// digest is the cache key of t: a SHA-256 of its fields, each preceded by
// its length, so no two tuples share a key ("a"+"bc" vs "ab"+"c"). The
// buffer stays on the stack for usual tuples: a cache hit allocates nothing.
func (t Tuple) digest() [sha256.Size]byte {
	buf := make([]byte, 0, 256)
	for _, f := range [...]string{t.Namespace, t.Object, t.Relation, t.SubjectID} {
		buf = binary.BigEndian.AppendUint64(buf, uint64(len(f)))
		buf = append(buf, f...)
	}
	return sha256.Sum256(buf)
}

func parseBaseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("keto: invalid read URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("keto: invalid read URL %q: want http(s)://host[:port][/path]", raw)
	}
	if _, port, err := net.SplitHostPort(u.Host); err == nil && port == "" {
		return "", fmt.Errorf("keto: invalid read URL %q: empty port", raw)
	}
	return u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"), nil
}
