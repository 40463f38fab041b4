package kratosjwt

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Claims are the verified claims of a token Kratos made of a session
// (session/tokenizer.go): the identity (sub), the session (sid) and the
// registered claims. Those a template's claims mapper adds (traits,
// metadata, aal...) are read with As. Treat Claims as read-only.
type Claims struct {
	// Subject is sub as Kratos set it: the identity's ID, or the identity's
	// external_id when the template has subject_source: external_id (Kratos
	// v25.4.0 and later). Use IdentityID for the identity's ID.
	Subject string
	// IdentityID is the identity's ID: sub, or with WithExternalIDSubject
	// the claim it names (which the template's claims mapper sets).
	IdentityID string
	// ExternalID is the identity's external_id: sub with
	// WithExternalIDSubject, empty otherwise.
	ExternalID string

	SessionID string    // sid: the Kratos session's ID
	Issuer    string    // iss: Kratos' public base URL
	Audience  []string  // aud, when the claims mapper sets it
	ID        string    // jti: the token's own ID
	ExpiresAt time.Time // exp
	NotBefore time.Time // nbf; zero when absent
	IssuedAt  time.Time // iat; zero when absent

	raw json.RawMessage
}

// Raw returns the verified payload, every claim in it, as JSON. It must not
// be modified.
func (c *Claims) Raw() json.RawMessage { return c.raw }

// As decodes every claim of the verified token into T, typically a struct
// with the fields the template's claims mapper adds:
//
//	type orderClaims struct {
//		Email  string `json:"email"`
//		Traits struct{ Name string `json:"name"` } `json:"traits"`
//	}
//	oc, err := kratosjwt.As[orderClaims](c)
func As[T any](c *Claims) (T, error) {
	var t T
	if c == nil || len(c.raw) == 0 {
		return t, errors.New("kratosjwt: no claims")
	}
	err := json.Unmarshal(c.raw, &t)
	return t, err
}

type contextKey struct{}

// NewContext returns a copy of ctx that carries c.
func NewContext(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, contextKey{}, c)
}

// FromContext returns the claims stored by NewContext (which Middleware and
// Check call), and whether there were any.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(contextKey{}).(*Claims)
	return c, ok && c != nil
}
