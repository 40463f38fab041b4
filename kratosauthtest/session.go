package kratosauthtest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/kratosauth/kratosauth"
)

// A SessionOption shapes a session built by NewSession or Server.Login.
type SessionOption func(*sessionSpec)

// sessionSpec is a session and what the fake Kratos knows about it beyond
// what whoami shows.
type sessionSpec struct {
	s         *kratosauth.Session
	needsAAL2 bool
	body      []byte // whoami's answer for s, once built; nil after a change
}

// WithTraits sets the identity's traits to v encoded as JSON (a struct or a
// map matching the app's identity schema). Default: {"email": "user-N@example.com"}.
func WithTraits(v any) SessionOption {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("kratosauthtest: WithTraits: %v", err))
	}
	return func(sp *sessionSpec) { sp.s.Identity.Traits = b }
}

// WithMetadataPublic sets the identity's metadata_public to v encoded as
// JSON. Default: none (null).
func WithMetadataPublic(v any) SessionOption {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("kratosauthtest: WithMetadataPublic: %v", err))
	}
	return func(sp *sessionSpec) { sp.s.Identity.MetadataPublic = b }
}

// WithIdentityID sets the identity's ID, for several sessions of one
// identity. Default: a random UUID.
func WithIdentityID(id string) SessionOption {
	return func(sp *sessionSpec) { sp.s.Identity.ID = id }
}

// WithExternalID sets the identity's external_id (Kratos v25.4.0 and
// later), which a tokenizer template with subject_source: external_id puts
// in the JWT's sub. Default: none.
func WithExternalID(id string) SessionOption {
	return func(sp *sessionSpec) { sp.s.Identity.ExternalID = id }
}

// WithAAL2 makes the session one completed with a second factor (TOTP), at
// kratosauth.AAL2. Default: a password session at aal1.
func WithAAL2() SessionOption {
	return func(sp *sessionSpec) {
		sp.s.AuthenticatorAssuranceLevel = kratosauth.AAL2
		sp.s.AuthenticationMethods = append(sp.s.AuthenticationMethods,
			kratosauth.AuthenticationMethod{Method: "totp", AAL: kratosauth.AAL2, CompletedAt: sp.s.AuthenticatedAt})
	}
}

// WithSecondFactorPending makes whoami answer 403 session_aal2_required
// for this aal1 session, as Kratos does with session.whoami.required_aal:
// highest_available for an identity that has a second factor enrolled.
func WithSecondFactorPending() SessionOption {
	return func(sp *sessionSpec) { sp.needsAAL2 = true }
}

// WithExpiry sets when the session expires; whoami refuses it from then on.
// Default: an hour after it was built.
func WithExpiry(t time.Time) SessionOption {
	return func(sp *sessionSpec) { sp.s.ExpiresAt = t.UTC() }
}

// WithVerifiedEmail adds a verified e-mail address to the identity.
// Default: the traits' address, not verified.
func WithVerifiedEmail(email string) SessionOption {
	return func(sp *sessionSpec) {
		sp.s.Identity.VerifiableAddresses = append(sp.s.Identity.VerifiableAddresses,
			kratosauth.VerifiableAddress{ID: newUUID(), Value: email, Verified: true, Via: "email", Status: "completed"})
	}
}

// WithState sets the identity's state ("active" or "inactive"). Whoami
// refuses the sessions of an inactive identity. Default: "active".
func WithState(state string) SessionOption {
	return func(sp *sessionSpec) { sp.s.Identity.State = state }
}

var userSeq atomic.Int64

// NewSession returns a session as Kratos v1.3.1's whoami would describe it:
// active, aal1 by password, expiring in an hour, for a new identity of the
// "default" schema, changed by opts. Use it with NewRequest to test a
// handler without any server.
func NewSession(opts ...SessionOption) *kratosauth.Session {
	return newSpec(opts).s
}

func newSpec(opts []SessionOption) *sessionSpec {
	now := time.Now().UTC().Truncate(time.Microsecond)
	email := fmt.Sprintf("user-%d@example.com", userSeq.Add(1))
	traits, _ := json.Marshal(map[string]string{"email": email})
	s := &kratosauth.Session{
		ID:                          newUUID(),
		Active:                      true,
		ExpiresAt:                   now.Add(time.Hour),
		AuthenticatedAt:             now,
		IssuedAt:                    now,
		AuthenticatorAssuranceLevel: kratosauth.AAL1,
		AuthenticationMethods:       []kratosauth.AuthenticationMethod{{Method: "password", AAL: kratosauth.AAL1, CompletedAt: now}},
		Identity: &kratosauth.Identity{
			ID:                  newUUID(),
			SchemaID:            "default",
			State:               "active",
			Traits:              traits,
			VerifiableAddresses: []kratosauth.VerifiableAddress{{ID: newUUID(), Value: email, Via: "email", Status: "sent"}},
			RecoveryAddresses:   []kratosauth.RecoveryAddress{{ID: newUUID(), Value: email, Via: "email"}},
			CreatedAt:           now,
			UpdatedAt:           now,
		},
		Devices: []kratosauth.Device{{ID: newUUID(), IPAddress: "127.0.0.1", UserAgent: "kratosauthtest"}},
	}
	sp := &sessionSpec{s: s}
	for _, opt := range opts {
		opt(sp)
	}
	return sp
}

// NewRequest returns r with s in its context, as the middlewares leave it:
// run a handler with it to test the handler alone, with no server at all.
// (For gin, set c.Request to it.)
func NewRequest(r *http.Request, s *kratosauth.Session) *http.Request {
	return r.WithContext(kratosauth.NewContext(r.Context(), s))
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// randomText returns n random characters of alphabet (64 of them).
func randomText(alphabet string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
