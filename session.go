package kratosauth

import (
	"context"
	"encoding/json"
	"time"
)

// Authenticator assurance levels: the two a Kratos v1.3 session can reach.
const (
	AAL1 = "aal1" // one factor
	AAL2 = "aal2" // a second factor (TOTP, WebAuthn, lookup secret)
)

// Session is a Kratos v1.x session as returned by GET /sessions/whoami.
// Fields keep Kratos' JSON names; fields this library does not know are ignored.
//
// A session handed to a handler may be shared with every other request
// that presents the same credential (a cache hit does not copy it): treat
// it as read-only.
type Session struct {
	ID                          string                 `json:"id"`
	Active                      bool                   `json:"active"`
	ExpiresAt                   time.Time              `json:"expires_at"`
	AuthenticatedAt             time.Time              `json:"authenticated_at"`
	IssuedAt                    time.Time              `json:"issued_at"`
	AuthenticatorAssuranceLevel string                 `json:"authenticator_assurance_level"`
	AuthenticationMethods       []AuthenticationMethod `json:"authentication_methods,omitempty"`
	Identity                    *Identity              `json:"identity"`
	Devices                     []Device               `json:"devices,omitempty"`
	// Tokenized is the session as a JSON Web Token signed by Kratos, for
	// downstream services to verify without calling Kratos: set only when
	// the Authenticator asks for it (WithTokenizeAs), empty otherwise. It
	// is a credential: send it only to your own services (TokenTransport
	// does), never log it.
	Tokenized string `json:"tokenized,omitempty"`

	traits *traitsMemo // decoded traits, for sessions a cache hit shares
}

// AuthenticationMethod is one way the session's holder proved who they are.
type AuthenticationMethod struct {
	Method      string    `json:"method"`
	AAL         string    `json:"aal"`
	CompletedAt time.Time `json:"completed_at"`
	Provider    string    `json:"provider,omitempty"`
}

// Device is a device (user agent and address) the session was used from.
type Device struct {
	ID        string `json:"id"`
	IPAddress string `json:"ip_address,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	Location  string `json:"location,omitempty"`
}

// Identity is the Kratos identity a session belongs to, without credentials.
type Identity struct {
	ID string `json:"id"`
	// ExternalID is the identity's id in another system, set by the admin
	// API (Kratos v25.4.0 and later; empty before). A tokenizer template
	// with subject_source: external_id puts it, not ID, in the JWT's sub.
	ExternalID          string              `json:"external_id,omitempty"`
	SchemaID            string              `json:"schema_id"`
	SchemaURL           string              `json:"schema_url"`
	State               string              `json:"state,omitempty"`
	Traits              json.RawMessage     `json:"traits,omitempty"`
	VerifiableAddresses []VerifiableAddress `json:"verifiable_addresses,omitempty"`
	RecoveryAddresses   []RecoveryAddress   `json:"recovery_addresses,omitempty"`
	MetadataPublic      json.RawMessage     `json:"metadata_public,omitempty"`
	CreatedAt           time.Time           `json:"created_at"`
	UpdatedAt           time.Time           `json:"updated_at"`
}

// VerifiableAddress is an address (e-mail, phone) Kratos can verify.
type VerifiableAddress struct {
	ID       string `json:"id"`
	Value    string `json:"value"`
	Verified bool   `json:"verified"`
	Via      string `json:"via"`
	Status   string `json:"status"`
}

// RecoveryAddress is an address Kratos can send recovery messages to.
type RecoveryAddress struct {
	ID    string `json:"id"`
	Value string `json:"value"`
	Via   string `json:"via"`
}

// SatisfiesAAL reports whether the session was authenticated at the required
// assurance level or above ("aal2" satisfies "aal1"). It is false when
// either level is not exactly AAL1 or AAL2: a typo never lowers the bar.
func (s *Session) SatisfiesAAL(required string) bool {
	want, have := aalRank(required), aalRank(s.AuthenticatorAssuranceLevel)
	return want > 0 && have >= want
}

// aalRank orders the levels a route can require; anything else is 0.
func aalRank(aal string) int {
	switch aal {
	case AAL1:
		return 1
	case AAL2:
		return 2
	}
	return 0
}

// contextKey is unexported so only this package can set or read the session.
type contextKey struct{}

// NewContext returns a copy of ctx that carries s.
func NewContext(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, contextKey{}, s)
}

// SessionFromContext returns the session stored by NewContext (which the
// middlewares call), and whether there was one.
func SessionFromContext(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(contextKey{}).(*Session)
	return s, ok && s != nil
}

// IdentityFromContext returns the identity of the session stored in ctx.
func IdentityFromContext(ctx context.Context) (*Identity, bool) {
	s, ok := SessionFromContext(ctx)
	if !ok || s.Identity == nil {
		return nil, false
	}
	return s.Identity, true
}
