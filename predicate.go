package kratosauth

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kratosauth/kratosauth/internal/strictjson"
)

// A Predicate is a rule a signed-in session must satisfy to reach a route
// (see Authenticator.Require and Guard.Where). Build them when routes are
// set up, with the constructors below or NewPredicate; constructors panic
// on arguments that cannot be right, so a typo fails when the app starts
// instead of letting every session through. The zero Predicate holds for
// no session.
type Predicate struct {
	name string
	test func(*Session) bool
}

// NewPredicate returns a Predicate named name (for logs and error causes)
// that holds when test returns true. test is only called with a session
// that has an identity, and must treat what it does not understand as
// false. It panics for an empty name or a nil test.
func NewPredicate(name string, test func(*Session) bool) Predicate {
	if name == "" || test == nil {
		panic("kratosauth: NewPredicate needs a name and a test")
	}
	return Predicate{name: name, test: test}
}

// Test reports whether the predicate holds for s. It is false for a nil
// session, a session without identity and the zero Predicate.
func (p Predicate) Test(s *Session) bool {
	return p.test != nil && s != nil && s.Identity != nil && p.test(s)
}

// String returns the predicate's name.
func (p Predicate) String() string {
	if p.name == "" {
		return "zero Predicate"
	}
	return p.name
}

// mustBuilt panics for zero Predicates, so an unset variable cannot end up
// in a route's rules.
func mustBuilt(fn string, preds []Predicate) {
	for i, p := range preds {
		if p.test == nil {
			panic(fmt.Sprintf("kratosauth: %s: predicate %d is the zero Predicate", fn, i))
		}
	}
}

// VerifiedAddress holds when the identity has at least one verified
// address (e-mail or phone), as Kratos' verification flow marks it.
func VerifiedAddress() Predicate {
	return NewPredicate("a verified address", func(s *Session) bool {
		return slices.ContainsFunc(s.Identity.VerifiableAddresses, func(a VerifiableAddress) bool { return a.Verified })
	})
}

// VerifiedEmail holds when the identity has at least one verified e-mail
// address (verifiable address via "email").
func VerifiedEmail() Predicate {
	return NewPredicate("a verified e-mail address", func(s *Session) bool {
		return slices.ContainsFunc(s.Identity.VerifiableAddresses, func(a VerifiableAddress) bool {
			return a.Verified && a.Via == "email"
		})
	})
}

// IdentityActive holds when the identity's state is exactly "active".
// Kratos refuses sessions of inactive identities itself; this also refuses
// a session whose whoami answer had no state, and a session served from the
// cache or a stale session (WithStaleIfError) no later than its cache entry.
func IdentityActive() Predicate {
	return NewPredicate(`identity state "active"`, func(s *Session) bool { return s.Identity.State == "active" })
}

// IdentitySchema holds when the identity's schema ID is one of ids, for
// apps with several kinds of identity (customers, staff). It panics when
// ids is empty or has an empty ID.
func IdentitySchema(ids ...string) Predicate {
	if len(ids) == 0 || slices.Contains(ids, "") {
		panic(fmt.Sprintf("kratosauth: IdentitySchema: want non-empty schema IDs, got %q", ids))
	}
	ids = slices.Clone(ids)
	return NewPredicate(fmt.Sprintf("identity schema in %q", ids), func(s *Session) bool {
		return slices.Contains(ids, s.Identity.SchemaID)
	})
}

// HasAAL holds when the session satisfies the assurance level aal, with
// the rule of Session.SatisfiesAAL. Like RequireAAL it panics for a level
// other than AAL1 or AAL2. A session that fails it is refused with
// ErrForbidden (403), not sent to a step-up login: use RequireAAL for a
// route that should ask for a second factor, and HasAAL inside AnyOf or
// AllOf.
func HasAAL(aal string) Predicate {
	mustAAL(aal)
	return NewPredicate("assurance level "+aal, func(s *Session) bool { return s.SatisfiesAAL(aal) })
}

// HasRole holds when the identity's metadata_public has, at path, a JSON
// array of strings that contains role: HasRole("roles", "admin") for
// {"roles": ["admin"]}, HasRole("org.roles", "admin") for
// {"org": {"roles": ["admin"]}}. Anything else there (a missing key, a
// single string, an array with a non-string) does not hold. Only admins
// can write metadata_public (users cannot change it through self-service
// flows); traits can be edited by users and must never hold roles. It
// panics for an empty role or a bad path (see MetadataPublic).
func HasRole(path, role string) Predicate {
	keys, err := splitPath(path)
	if err != nil || role == "" {
		panic(fmt.Sprintf("kratosauth: HasRole: bad path %q or empty role", path))
	}
	// The list is scanned, not decoded: this runs on every request of the
	// route, and allocates nothing.
	return NewPredicate(fmt.Sprintf("role %q in metadata_public.%s", role, path), func(s *Session) bool {
		raw, err := strictjson.Lookup(s.Identity.MetadataPublic, keys...)
		if err != nil {
			return false
		}
		ok, err := strictjson.ContainsString(raw, role)
		return err == nil && ok
	})
}

// MetadataPublicWhere holds when the value at path in the identity's
// metadata_public decodes into T, one way only (see MetadataPublic), and
// test returns true for it:
//
//	kratosauth.MetadataPublicWhere("plan", func(p string) bool { return p == "pro" })
//	kratosauth.MetadataPublicWhere("limits.seats", func(n int) bool { return n > 0 })
//
// It panics for a bad path or a nil test.
func MetadataPublicWhere[T any](path string, test func(T) bool) Predicate {
	keys, err := splitPath(path)
	if err != nil || test == nil {
		panic(fmt.Sprintf("kratosauth: MetadataPublicWhere: bad path %q or nil test", path))
	}
	return NewPredicate(fmt.Sprintf("metadata_public.%s (%T)", path, *new(T)), func(s *Session) bool {
		v, err := metadataAt[T](s, keys)
		return err == nil && test(v)
	})
}

// MetadataPublic decodes the value at path in the identity's
// metadata_public into T. path is object keys joined by dots ("roles",
// "org.roles"); "" is the whole document. Metadata that could be read two
// ways is not read: keys match exactly, and it is an error when
//
//   - an object on the path, or anywhere in the value at path, has a key
//     twice or two keys equal under case folding ("plan" and "Plan");
//   - the value does not decode into T, or decodes only by encoding/json's
//     leniency: null for a type that cannot be nil, a member matching a
//     field of a struct only by case ("Plan" for `json:"plan"`), an array
//     longer or shorter than T's.
//
// Members a struct has no field for are not read.
func MetadataPublic[T any](s *Session, path string) (T, error) {
	keys, err := splitPath(path)
	if err != nil {
		var zero T
		return zero, err
	}
	return metadataAt[T](s, keys)
}

func metadataAt[T any](s *Session, keys []string) (T, error) {
	var v T
	if s == nil || s.Identity == nil || len(s.Identity.MetadataPublic) == 0 {
		return v, errors.New("kratosauth: session has no metadata_public")
	}
	raw, err := strictjson.Lookup(s.Identity.MetadataPublic, keys...)
	if err != nil {
		return v, fmt.Errorf("kratosauth: metadata_public: %w", err)
	}
	if err := strictjson.Decode(raw, &v); err != nil {
		return v, fmt.Errorf("kratosauth: metadata_public: %w", err)
	}
	return v, nil
}

// splitPath splits a dotted path; "" is the empty path, empty keys are an
// error ("a..b", ".a", "a.").
func splitPath(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	keys := strings.Split(path, ".")
	if slices.Contains(keys, "") {
		return nil, fmt.Errorf("kratosauth: bad metadata path %q: empty key", path)
	}
	return keys, nil
}

// AllOf holds when every one of preds holds. It panics when preds is empty
// (an empty AllOf would hold for everyone) or has a zero Predicate.
func AllOf(preds ...Predicate) Predicate {
	if len(preds) == 0 {
		panic("kratosauth: AllOf needs at least one predicate")
	}
	mustBuilt("AllOf", preds)
	preds = slices.Clone(preds)
	return NewPredicate("all of ("+join(preds)+")", func(s *Session) bool {
		for _, p := range preds {
			if !p.Test(s) {
				return false
			}
		}
		return true
	})
}

// AnyOf holds when at least one of preds holds. It panics when preds is
// empty or has a zero Predicate.
func AnyOf(preds ...Predicate) Predicate {
	if len(preds) == 0 {
		panic("kratosauth: AnyOf needs at least one predicate")
	}
	mustBuilt("AnyOf", preds)
	preds = slices.Clone(preds)
	return NewPredicate("any of ("+join(preds)+")", func(s *Session) bool {
		return slices.ContainsFunc(preds, func(p Predicate) bool { return p.Test(s) })
	})
}

func join(preds []Predicate) string {
	names := make([]string, len(preds))
	for i, p := range preds {
		names[i] = p.name
	}
	return strings.Join(names, ", ")
}
