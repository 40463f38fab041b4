package kratostest

import (
	_ "embed"
	"fmt"
	"os"
	"strings"
)

//go:embed versions.txt
var versionsFile string

// Version is a Kratos release the tests run against, with what it does
// differently for an app: the named deltas the config template and the
// tests switch on. Everything not named here is the same in every version.
type Version struct {
	// Name is the release tag, e.g. "v26.2.0"; the binary is
	// .bin/kratos-<Name>.
	Name string
	// ErrorIDHeader: every error answer carries Ory-Error-Id, the error's
	// id ("session_inactive", ...).
	ErrorIDHeader bool
	// ExternalID: identities have external_id, and tokenizer templates
	// take subject_source (id or external_id).
	ExternalID bool
	// ExpiredRecoveryCodeIsInvalid: a recovery code typed after its
	// lifespan is answered like a wrong one (4060006, the flow stays at the
	// code), not with a new flow that says the last one expired (4060005).
	ExpiredRecoveryCodeIsInvalid bool
	// CodeSignInCountsForUnlink: with sign-in by e-mail code on
	// (passwordless), the settings page offers to unlink a social sign-in
	// provider even when it is the identity's only credential: the code
	// still signs it in.
	CodeSignInCountsForUnlink bool
	// VerifyAddressOnLogin: require_verified_address continues into a
	// verification flow (continue_with show_verification_ui; a browser is
	// redirected to the verification page, the code on its way) instead of
	// refusing the login with 4000010.
	VerifyAddressOnLogin bool
	// SettingsHookSession: the web_hook of settings flows has the session
	// in its context (ctx.session), as recovery's had.
	SettingsHookSession bool
}

// versionDeltas are the versions' differences from v1.3.1 that the tests
// meet, from their source (session/tokenizer.go, identity/identity.go,
// herodot's Ory-Error-Id, selfservice/strategy/code/code_recovery.go) and
// from running the suites against each.
var versionDeltas = map[string]Version{
	"v1.3.1": {},
	"v25.4.0": {ErrorIDHeader: true, ExternalID: true, CodeSignInCountsForUnlink: true, VerifyAddressOnLogin: true,
		SettingsHookSession: true},
	"v26.2.0": {ErrorIDHeader: true, ExternalID: true, CodeSignInCountsForUnlink: true, VerifyAddressOnLogin: true,
		SettingsHookSession: true, ExpiredRecoveryCodeIsInvalid: true},
}

// Versions returns every version the tests know, the default first.
func Versions() []Version {
	var out []Version
	for _, line := range strings.Split(versionsFile, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		v, ok := versionDeltas[line]
		if !ok {
			panic("kratostest: versions.txt names " + line + ", which versionDeltas does not describe")
		}
		v.Name = line
		out = append(out, v)
	}
	return out
}

// DefaultVersion is the version used when KRATOS_VERSION is not set.
func DefaultVersion() Version { return Versions()[0] }

// LookupVersion returns the version named name ("" is the default).
func LookupVersion(name string) (Version, error) {
	if name == "" {
		return DefaultVersion(), nil
	}
	for _, v := range Versions() {
		if v.Name == name {
			return v, nil
		}
	}
	return Version{}, fmt.Errorf("kratostest: unknown Kratos version %q (known: %s)", name, versionNames())
}

// CurrentVersion is the version the tests run against: $KRATOS_VERSION, or
// the default.
func CurrentVersion() (Version, error) { return LookupVersion(os.Getenv("KRATOS_VERSION")) }

func versionNames() string {
	var names []string
	for _, v := range Versions() {
		names = append(names, v.Name)
	}
	return strings.Join(names, ", ")
}
