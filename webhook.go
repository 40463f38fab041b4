package kratosauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/kratosauth/kratosauth/cache"
)

// MaxWebhookBodyBytes caps the body NewWebhookHandler reads: the payload is
// one identity ID, and an authenticated caller cannot make the app buffer
// more. A larger body is a 413.
const MaxWebhookBodyBytes = 64 << 10

// WebhookOption configures NewWebhookHandler. Exactly one of
// WebhookAPIKey and WebhookBasicAuth is required.
type WebhookOption func(*webhookConfig) error

type webhookConfig struct {
	header        string // canonical header name; "Authorization" for basic auth
	secret        [sha256.Size]byte
	set           int
	singleReplica bool
}

// WebhookSingleReplica declares that one process serves the app, so the
// Authenticator's in-process cache is all there is to evict. Without it,
// NewWebhookHandler refuses an Authenticator whose cache is in process:
// with several replicas, Kratos would call one of them, which would answer
// 204 having evicted the sessions from its own memory only. Default: off.
func WebhookSingleReplica() WebhookOption {
	return func(c *webhookConfig) error {
		c.singleReplica = true
		return nil
	}
}

// WebhookAPIKey authenticates Kratos by a header, as the web_hook action's
// `auth: {type: api_key, config: {in: header, name: <name>, value: <value>}}`
// sends it. Use a random value of at least 32 bytes. Default: none.
func WebhookAPIKey(name, value string) WebhookOption {
	return func(c *webhookConfig) error {
		if name == "" || !isCookieName(name) || http.CanonicalHeaderKey(name) == "Authorization" {
			return fmt.Errorf("kratosauth: WebhookAPIKey: invalid header name %q", name)
		}
		if len(value) < 16 {
			return errors.New("kratosauth: WebhookAPIKey: the value must have at least 16 characters")
		}
		c.header, c.secret = http.CanonicalHeaderKey(name), sha256.Sum256([]byte(value))
		c.set++
		return nil
	}
}

// WebhookBasicAuth authenticates Kratos by HTTP basic auth, as the web_hook
// action's `auth: {type: basic_auth, config: {user: <user>, password:
// <password>}}` sends it. Default: none.
func WebhookBasicAuth(user, password string) WebhookOption {
	return func(c *webhookConfig) error {
		if user == "" || strings.Contains(user, ":") {
			return fmt.Errorf("kratosauth: WebhookBasicAuth: invalid user %q", user)
		}
		if len(password) < 16 {
			return errors.New("kratosauth: WebhookBasicAuth: the password must have at least 16 characters")
		}
		r := http.Request{Header: http.Header{}}
		r.SetBasicAuth(user, password)
		c.header, c.secret = "Authorization", sha256.Sum256([]byte(r.Header.Get("Authorization")))
		c.set++
		return nil
	}
}

// NewWebhookHandler returns the handler for Kratos' web_hook action that
// evicts an identity's cached sessions (InvalidateIdentity) after a
// password change or a recovery. Mount it on a POST route that Kratos
// reaches, for example mux.Handle("POST /hooks/kratos", h), and configure
// the hook (docs/fleet.md, "Many replicas, one truth"):
//
//	selfservice.flows.settings.after.password.hooks  (and .after.hooks of recovery)
//	  - hook: revoke_active_sessions    # Kratos revokes the other sessions...
//	  - hook: web_hook                  # ...then the app evicts them from its cache
//	    config:
//	      url: https://app.internal/hooks/kratos
//	      method: POST
//	      body: base64://ZnVuY3Rpb24oY3R4KSB7IGlkZW50aXR5X2lkOiBjdHguaWRlbnRpdHkuaWQgfQ==
//	      # function(ctx) { identity_id: ctx.identity.id }
//	      auth: {type: api_key, config: {in: header, name: X-Kratos-Webhook-Key, value: ...}}
//
// Leave response.parse and can_interrupt unset (false): only then does
// Kratos call the hook after the change is saved, and wait for it, so the
// flow completes once the sessions are evicted; a failure here fails the
// flow, which tells the user something went wrong. (With response.ignore:
// true Kratos would not wait, and would only log failures.)
//
// Requests are authenticated before anything else, by comparing the
// configured header (or basic auth) in constant time: anything else is a
// 401, its body unread. An authenticated request must be a POST whose JSON
// body, at most MaxWebhookBodyBytes, is {"identity_id": "<uuid>"}, or holds
// the session Kratos gives settings hooks, {"session": ctx.session} (its
// identity's sessions are evicted; with both, they must name the same
// identity); others get 405, 413 or 400. The answer is 204 once the sessions are evicted, and
// 503 when the store failed (Kratos then fails the flow). It fails with
// ErrIdentityIndexUnsupported when the Authenticator's store has no
// identity index, and when the store is in process (the default) unless
// WebhookSingleReplica says one process serves the app.
func NewWebhookHandler(a *Authenticator, opts ...WebhookOption) (http.Handler, error) {
	if a == nil {
		return nil, errors.New("kratosauth: NewWebhookHandler: nil Authenticator")
	}
	var c webhookConfig
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("kratosauth: NewWebhookHandler: nil WebhookOption")
		}
		if err := opt(&c); err != nil {
			return nil, err
		}
	}
	if c.set != 1 {
		return nil, errors.New("kratosauth: NewWebhookHandler: exactly one of WebhookAPIKey and WebhookBasicAuth is required")
	}
	if _, ok := a.cfg.store.(cache.IdentityIndex); a.cfg.store != nil && !ok {
		return nil, fmt.Errorf("kratosauth: NewWebhookHandler: %w", ErrIdentityIndexUnsupported)
	}
	inProcess := false
	switch a.cfg.store.(type) {
	case *cache.Memory, *cache.BigCache:
		inProcess = true
	}
	if inProcess && !c.singleReplica {
		return nil, errors.New("kratosauth: NewWebhookHandler: the session cache is in process, so an eviction reaches one replica only: " +
			"share a store between replicas (cache/redis), or pass WebhookSingleReplica if one process serves the app")
	}
	return &webhook{a: a, cfg: c}, nil
}

type webhook struct {
	a   *Authenticator
	cfg webhookConfig
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.authenticated(r) {
		if h.cfg.header == "Authorization" {
			w.Header().Set("WWW-Authenticate", `Basic realm="kratosauth webhook", charset="UTF-8"`)
		}
		// The body is not read; closing the connection spares the server
		// draining it.
		w.Header().Set("Connection", "close")
		webhookError(w, http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		webhookError(w, http.StatusMethodNotAllowed)
		return
	}
	var payload webhookPayload
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxWebhookBodyBytes))
	if err := dec.Decode(&payload); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			webhookError(w, http.StatusRequestEntityTooLarge)
			return
		}
		webhookError(w, http.StatusBadRequest)
		return
	}
	identityID, ok := payload.identityID()
	if !ok {
		webhookError(w, http.StatusBadRequest)
		return
	}
	if err := h.a.InvalidateIdentity(r.Context(), identityID); err != nil {
		h.a.cfg.logger.LogAttrs(r.Context(), slog.LevelError, "kratosauth: webhook: identity eviction failed",
			slog.String("identity_id", identityID), slog.String("error", err.Error()))
		webhookError(w, http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// webhookPayload is what the hook's body template sends: the identity's ID,
// the session Kratos puts in the context of settings hooks (ctx.session),
// or both.
type webhookPayload struct {
	IdentityID string `json:"identity_id"`
	Session    *struct {
		Identity *struct {
			ID string `json:"id"`
		} `json:"identity"`
	} `json:"session"`
}

// identityID is the one identity the payload names: identity_id, else the
// session's identity. A session without an identity, or one that names
// another identity than identity_id, makes the payload ambiguous: refused.
func (p *webhookPayload) identityID() (string, bool) {
	id := p.IdentityID
	if p.Session != nil {
		if p.Session.Identity == nil {
			return "", false
		}
		if id != "" && p.Session.Identity.ID != id {
			return "", false
		}
		id = p.Session.Identity.ID
	}
	return id, isUUID(id)
}

// authenticated compares digests, so that neither the secret's bytes nor
// its length show in the time taken.
func (h *webhook) authenticated(r *http.Request) bool {
	vals := r.Header.Values(h.cfg.header)
	if len(vals) != 1 {
		return false
	}
	got := sha256.Sum256([]byte(vals[0]))
	return subtle.ConstantTimeCompare(got[:], h.cfg.secret[:]) == 1
}

// webhookError answers with Kratos' error shape; Kratos logs the status.
func webhookError(w http.ResponseWriter, code int) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"error":{"code":%d,"status":%q}}`+"\n", code, http.StatusText(code))
}

// isUUID accepts the canonical textual form Kratos uses for identity IDs.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
