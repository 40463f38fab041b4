package kratosauth_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// Each ready-made predicate, on the sessions it must admit and those it
// must refuse: what is missing, malformed or ambiguous refuses.
func TestPredicates(t *testing.T) {
	session := func(opts ...kratosauthtest.SessionOption) *kratosauth.Session {
		return kratosauthtest.NewSession(opts...)
	}
	withMeta := func(raw string) *kratosauth.Session {
		s := session()
		s.Identity.MetadataPublic = json.RawMessage(raw)
		return s
	}
	with := func(f func(*kratosauth.Session)) *kratosauth.Session {
		s := session()
		f(s)
		return s
	}
	phone := func(verified bool) *kratosauth.Session {
		return with(func(s *kratosauth.Session) {
			s.Identity.VerifiableAddresses = []kratosauth.VerifiableAddress{{Value: "+15550100", Via: "sms", Verified: verified, Status: "completed"}}
		})
	}

	for _, tc := range []struct {
		name   string
		p      kratosauth.Predicate
		admit  map[string]*kratosauth.Session
		refuse map[string]*kratosauth.Session
	}{
		{"VerifiedEmail", kratosauth.VerifiedEmail(),
			map[string]*kratosauth.Session{
				"verified":            session(kratosauthtest.WithVerifiedEmail("a@example.com")),
				"second one verified": session(kratosauthtest.WithVerifiedEmail("b@example.com")), // the first, unverified, stays
			},
			map[string]*kratosauth.Session{
				"unverified":     session(),
				"no address":     with(func(s *kratosauth.Session) { s.Identity.VerifiableAddresses = nil }),
				"verified phone": phone(true),
			}},
		{"VerifiedAddress", kratosauth.VerifiedAddress(),
			map[string]*kratosauth.Session{
				"verified email": session(kratosauthtest.WithVerifiedEmail("a@example.com")),
				"verified phone": phone(true),
			},
			map[string]*kratosauth.Session{
				"unverified":       session(),
				"unverified phone": phone(false),
			}},
		{"IdentityActive", kratosauth.IdentityActive(),
			map[string]*kratosauth.Session{"active": session()},
			map[string]*kratosauth.Session{
				"inactive": session(kratosauthtest.WithState("inactive")),
				"no state": session(kratosauthtest.WithState("")),
				"Active":   session(kratosauthtest.WithState("Active")),
			}},
		{"IdentitySchema", kratosauth.IdentitySchema("staff", "admin"),
			map[string]*kratosauth.Session{
				"staff": with(func(s *kratosauth.Session) { s.Identity.SchemaID = "staff" }),
				"admin": with(func(s *kratosauth.Session) { s.Identity.SchemaID = "admin" }),
			},
			map[string]*kratosauth.Session{
				"default":   session(),
				"no schema": with(func(s *kratosauth.Session) { s.Identity.SchemaID = "" }),
				"Staff":     with(func(s *kratosauth.Session) { s.Identity.SchemaID = "Staff" }),
			}},
		{"HasAAL(aal2)", kratosauth.HasAAL(kratosauth.AAL2),
			map[string]*kratosauth.Session{"aal2": session(kratosauthtest.WithAAL2())},
			map[string]*kratosauth.Session{
				"aal1":    session(),
				"unknown": with(func(s *kratosauth.Session) { s.AuthenticatorAssuranceLevel = "aal3" }),
				"empty":   with(func(s *kratosauth.Session) { s.AuthenticatorAssuranceLevel = "" }),
			}},
		{"HasAAL(aal1)", kratosauth.HasAAL(kratosauth.AAL1),
			map[string]*kratosauth.Session{"aal1": session(), "aal2": session(kratosauthtest.WithAAL2())},
			map[string]*kratosauth.Session{"unknown": with(func(s *kratosauth.Session) { s.AuthenticatorAssuranceLevel = "AAL1" })}},
		{"HasRole", kratosauth.HasRole("roles", "admin"),
			map[string]*kratosauth.Session{
				"admin":          session(kratosauthtest.WithMetadataPublic(map[string]any{"roles": []string{"user", "admin"}})),
				"other keys too": withMeta(`{"plan":"pro","roles":["admin"]}`),
			},
			map[string]*kratosauth.Session{
				"user":                 withMeta(`{"roles":["user"]}`),
				"no metadata":          session(),
				"null metadata":        withMeta(`null`),
				"no roles":             withMeta(`{"plan":"admin"}`),
				"a string":             withMeta(`{"roles":"admin"}`),
				"a non-string":         withMeta(`{"roles":["admin",1]}`),
				"nested array":         withMeta(`{"roles":[["admin"]]}`),
				"Roles":                withMeta(`{"Roles":["admin"]}`),
				"Admin":                withMeta(`{"roles":["Admin"]}`),
				"twice, once as admin": withMeta(`{"roles":["user"],"roles":["admin"]}`),
				"twice, escaped":       withMeta(`{"roles":["admin"],"\u0072oles":["user"]}`),
				"and Roles beside it":  withMeta(`{"roles":["admin"],"Roles":["user"]}`),
				"an array":             withMeta(`["admin"]`),
				"in traits only":       session(kratosauthtest.WithTraits(map[string]any{"roles": []string{"admin"}})),
			}},
		{"HasRole, nested path", kratosauth.HasRole("org.roles", "admin"),
			map[string]*kratosauth.Session{"nested": withMeta(`{"org":{"roles":["admin"]}}`)},
			map[string]*kratosauth.Session{
				"top level":  withMeta(`{"roles":["admin"]}`),
				"dotted key": withMeta(`{"org.roles":["admin"]}`),
				"org twice":  withMeta(`{"org":{"roles":["admin"]},"org":{}}`),
			}},
		{"MetadataPublicWhere", kratosauth.MetadataPublicWhere("seats", func(n int) bool { return n > 0 }),
			map[string]*kratosauth.Session{"3": withMeta(`{"seats":3}`)},
			map[string]*kratosauth.Session{
				"0":        withMeta(`{"seats":0}`),
				"1.5":      withMeta(`{"seats":1.5}`),
				"a string": withMeta(`{"seats":"3"}`),
				"missing":  withMeta(`{}`),
			}},
		{"AllOf", kratosauth.AllOf(kratosauth.VerifiedEmail(), kratosauth.HasRole("roles", "admin")),
			map[string]*kratosauth.Session{
				"both": session(kratosauthtest.WithVerifiedEmail("a@example.com"), kratosauthtest.WithMetadataPublic(map[string]any{"roles": []string{"admin"}})),
			},
			map[string]*kratosauth.Session{
				"verified only": session(kratosauthtest.WithVerifiedEmail("a@example.com")),
				"admin only":    session(kratosauthtest.WithMetadataPublic(map[string]any{"roles": []string{"admin"}})),
				"neither":       session(),
			}},
		{"AnyOf", kratosauth.AnyOf(kratosauth.HasRole("roles", "admin"), kratosauth.HasAAL(kratosauth.AAL2)),
			map[string]*kratosauth.Session{
				"admin": session(kratosauthtest.WithMetadataPublic(map[string]any{"roles": []string{"admin"}})),
				"aal2":  session(kratosauthtest.WithAAL2()),
			},
			map[string]*kratosauth.Session{"neither": session()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for name, s := range tc.admit {
				assert.True(t, tc.p.Test(s), "should admit: %s", name)
			}
			for name, s := range tc.refuse {
				assert.False(t, tc.p.Test(s), "should refuse: %s", name)
			}
			assert.False(t, tc.p.Test(nil), "nil session")
			assert.False(t, tc.p.Test(&kratosauth.Session{}), "session without identity")
		})
	}
	assert.False(t, kratosauth.Predicate{}.Test(session()), "the zero Predicate")
}

// What cannot be right panics when routes are built, never lets sessions
// through later.
func TestPredicateConstructorsPanic(t *testing.T) {
	for name, f := range map[string]func(){
		"HasAAL unknown":       func() { kratosauth.HasAAL("AAL2") },
		"HasAAL empty":         func() { kratosauth.HasAAL("") },
		"HasRole empty role":   func() { kratosauth.HasRole("roles", "") },
		"HasRole empty key":    func() { kratosauth.HasRole("org..roles", "admin") },
		"HasRole trailing dot": func() { kratosauth.HasRole("roles.", "admin") },
		"IdentitySchema none":  func() { kratosauth.IdentitySchema() },
		"IdentitySchema empty": func() { kratosauth.IdentitySchema("staff", "") },
		"Where nil test":       func() { kratosauth.MetadataPublicWhere[int]("seats", nil) },
		"NewPredicate nil":     func() { kratosauth.NewPredicate("x", nil) },
		"NewPredicate no name": func() { kratosauth.NewPredicate("", func(*kratosauth.Session) bool { return true }) },
		"AllOf empty":          func() { kratosauth.AllOf() },
		"AnyOf empty":          func() { kratosauth.AnyOf() },
		"AllOf zero":           func() { kratosauth.AllOf(kratosauth.VerifiedEmail(), kratosauth.Predicate{}) },
		"AnyOf zero":           func() { kratosauth.AnyOf(kratosauth.Predicate{}) },
	} {
		assert.Panics(t, f, name)
	}
}

func TestMetadataPublic(t *testing.T) {
	s := kratosauthtest.NewSession(kratosauthtest.WithMetadataPublic(map[string]any{"org": map[string]any{"id": "acme", "seats": 3}}))
	id, err := kratosauth.MetadataPublic[string](s, "org.id")
	require.NoError(t, err)
	assert.Equal(t, "acme", id)
	all, err := kratosauth.MetadataPublic[map[string]any](s, "")
	require.NoError(t, err)
	assert.Contains(t, all, "org")
	_, err = kratosauth.MetadataPublic[string](s, "org.seats")
	assert.Error(t, err, "a number is not a string")
	_, err = kratosauth.MetadataPublic[string](s, "org.missing")
	assert.Error(t, err)
	_, err = kratosauth.MetadataPublic[string](s, ".org")
	assert.Error(t, err)
	_, err = kratosauth.MetadataPublic[string](kratosauthtest.NewSession(), "org.id")
	assert.Error(t, err, "no metadata")
}

// HasRole runs on every request of its routes: it scans metadata_public
// without allocating.
func TestHasRoleAllocatesNothing(t *testing.T) {
	s := kratosauthtest.NewSession(kratosauthtest.WithMetadataPublic(map[string]any{"plan": "pro", "roles": []string{"user", "admin"}}))
	p := kratosauth.HasRole("roles", "admin")
	require.True(t, p.Test(s))
	assert.Zero(t, testing.AllocsPerRun(100, func() { p.Test(s) }))
}

type billing struct {
	Plan  string `json:"plan"`
	Seats int    `json:"seats"`
}

// MetadataPublicWhere and MetadataPublic read the whole value at their
// path one way only: metadata that encoding/json (case-insensitive keys,
// the last duplicate wins, null as the zero value) would read otherwise
// than an exact reader is not read, and the predicate is false.
func TestMetadataPublicIsReadOneWayOnly(t *testing.T) {
	withMeta := func(raw string) *kratosauth.Session {
		s := kratosauthtest.NewSession()
		s.Identity.MetadataPublic = json.RawMessage(raw)
		return s
	}
	pro := kratosauth.MetadataPublicWhere("billing", func(b billing) bool { return b.Plan == "pro" })
	proPath := kratosauth.MetadataPublicWhere("billing.plan", func(p string) bool { return p == "pro" })
	notPro := kratosauth.MetadataPublicWhere("billing.plan", func(p string) bool { return p != "pro" })
	secondSlotFree := kratosauth.MetadataPublicWhere("slots", func(s [2]int) bool { return s[1] == 0 })
	anyMap := kratosauth.MetadataPublicWhere("billing", func(m map[string]any) bool { return m["plan"] == "pro" })

	for _, tc := range []struct {
		name, meta string
		p          kratosauth.Predicate
	}{
		{"keys differing by case", `{"billing":{"plan":"free","Plan":"pro"}}`, pro},
		{"keys differing by case, into a map", `{"billing":{"plan":"pro","Plan":"free"}}`, anyMap},
		{"duplicate key", `{"billing":{"plan":"free","plan":"pro"}}`, pro},
		{"duplicate key, escaped", `{"billing":{"plan":"free","\u0070lan":"pro"}}`, pro},
		{"a member matching its field by case only", `{"billing":{"Plan":"pro"}}`, pro},
		{"a member matching its field by Unicode folding", `{"billing":{"plan":"pro","\u017featS":3}}`, pro}, // "ſ" folds to "s"
		{"ambiguous keys deeper in the subtree", `{"billing":{"plan":"pro","limits":{"a":1,"A":2}}}`, pro},
		{"a key of the path twice by case", `{"billing":{"plan":"pro"},"Billing":{"plan":"free"}}`, pro},
		{"a sibling of the path's last key by case", `{"billing":{"plan":"pro","Plan":"free"}}`, proPath},
		{"null for a string", `{"billing":{"plan":null}}`, notPro},
		{"null for a struct", `{"billing":null}`, kratosauth.MetadataPublicWhere("billing", func(b billing) bool { return b.Plan != "pro" })},
		{"an array too short", `{"slots":[1]}`, secondSlotFree},
		{"an array too long", `{"slots":[1,0,5]}`, secondSlotFree},
	} {
		s := withMeta(tc.meta)
		assert.False(t, tc.p.Test(s), "%s: %s holds for %s", tc.name, tc.p, tc.meta)
	}

	for _, meta := range []string{
		`{"billing":{"plan":"pro","seats":3}}`,
		`{"billing":{"plan":"pro","currency":"EUR"},"Other":1,"other":2}`, // a member billing does not have is not read; nor are siblings off the path
	} {
		assert.True(t, pro.Test(withMeta(meta)), meta)
		assert.True(t, proPath.Test(withMeta(meta)), meta)
		assert.True(t, anyMap.Test(withMeta(meta)), meta)
	}
	assert.True(t, secondSlotFree.Test(withMeta(`{"slots":[1,0]}`)))

	_, err := kratosauth.MetadataPublic[billing](withMeta(`{"billing":{"plan":"free","Plan":"pro"}}`), "billing")
	assert.Error(t, err)
	_, err = kratosauth.MetadataPublic[string](withMeta(`{"plan":null}`), "plan")
	assert.Error(t, err)
	b, err := kratosauth.MetadataPublic[*billing](withMeta(`{"billing":null}`), "billing")
	assert.NoError(t, err, "null where the type has a pointer")
	assert.Nil(t, b)
}
