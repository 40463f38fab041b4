package kratosauthtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// recordedHeader is a header of a recorded answer (recorded/NAME.meta.json
// for v1.3.1, recorded/VERSION/NAME.meta.json for the others).
func recordedHeader(t *testing.T, version, name, key string) (string, bool) {
	t.Helper()
	dir := "recorded"
	if version != kratosauthtest.DefaultKratosVersion {
		dir = filepath.Join(dir, version)
	}
	b, err := os.ReadFile(filepath.Join(dir, name+".meta.json"))
	require.NoError(t, err)
	var meta struct{ Headers http.Header }
	require.NoError(t, json.Unmarshal(b, &meta))
	v, ok := meta.Headers[key]
	if !ok {
		return "", false
	}
	return v[0], true
}

// A Server of each version answers with that version's recorded headers and
// shapes: Ory-Error-Id on the errors of v25.4.0 and later (empty on a 401,
// the error's id on the 403), external_id in the identity, and the library
// reads them as it reads the real Kratos'.
func TestServerAnswersAsEachKratosVersion(t *testing.T) {
	assert.Equal(t, []string{"v1.3.1", "v25.4.0", "v26.2.0"}, kratosauthtest.KratosVersions())
	for _, version := range kratosauthtest.KratosVersions() {
		t.Run(version, func(t *testing.T) {
			k := kratosauthtest.NewServer(t, kratosauthtest.WithKratosVersion(version))
			auth, err := kratosauth.New(k.URL)
			require.NoError(t, err)
			defer auth.Close()
			authenticate := func(tok string) (*kratosauth.Session, *kratosauth.Error) {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.Header.Set("X-Session-Token", tok)
				s, err := auth.Authenticate(r)
				var e *kratosauth.Error
				if err != nil {
					require.ErrorAs(t, err, &e)
				}
				return s, e
			}

			for _, tc := range []struct {
				name   string
				cred   kratosauthtest.Credentials
				status int
				rec    string
				wantID string
			}{
				{"401", kratosauthtest.Credentials{Token: "ory_st_unknown"}, 401, "whoami_401_revoked", ""},
				{"403", k.Login(kratosauthtest.WithSecondFactorPending()), 403, "whoami_403_aal2_required", "session_aal2_required"},
			} {
				resp := whoami(t, k, http.Header{"X-Session-Token": {tc.cred.Token}})
				require.Equal(t, tc.status, resp.StatusCode, tc.name)
				want, recordedHas := recordedHeader(t, version, tc.rec, "Ory-Error-Id")
				got, has := resp.Header["Ory-Error-Id"]
				assert.Equal(t, recordedHas, has, "%s: Ory-Error-Id present as recorded", tc.name)
				if has {
					assert.Equal(t, want, got[0], tc.name)
				}
				_, e := authenticate(tc.cred.Token)
				require.NotNil(t, e, tc.name)
				if tc.wantID != "" {
					assert.Equal(t, tc.wantID, e.KratosErrorID, tc.name)
				}
			}

			c := k.Login(kratosauthtest.WithExternalID("crm-4711"))
			resp := whoami(t, k, http.Header{"X-Session-Token": {c.Token}})
			body, _ := io.ReadAll(resp.Body)
			var got struct {
				Identity map[string]any `json:"identity"`
			}
			require.NoError(t, json.Unmarshal(body, &got))
			assert.Equal(t, "crm-4711", got.Identity["external_id"])
			s, e := authenticate(c.Token)
			require.Nil(t, e)
			assert.Equal(t, "crm-4711", s.Identity.ExternalID)

			// A session without one has no external_id, as Kratos omits it.
			resp = whoami(t, k, http.Header{"X-Session-Token": {k.Login().Token}})
			body, _ = io.ReadAll(resp.Body)
			got.Identity = nil
			require.NoError(t, json.Unmarshal(body, &got))
			assert.NotContains(t, got.Identity, "external_id")

			// The fake's 200 answer has every identity field the recording has.
			recordedKeys := identityKeys(t, version)
			var keys []string
			resp = whoami(t, k, http.Header{"X-Session-Token": {c.Token}})
			body, _ = io.ReadAll(resp.Body)
			got.Identity = nil
			require.NoError(t, json.Unmarshal(body, &got))
			for key := range got.Identity {
				keys = append(keys, key)
			}
			sort.Strings(keys)
			assert.Equal(t, recordedKeys, keys)
		})
	}
}

func identityKeys(t *testing.T, version string) []string {
	dir := "recorded"
	if version != kratosauthtest.DefaultKratosVersion {
		dir = filepath.Join(dir, version)
	}
	b, err := os.ReadFile(filepath.Join(dir, "whoami_200_token.json"))
	require.NoError(t, err)
	var rec struct {
		Identity map[string]any `json:"identity"`
	}
	require.NoError(t, json.Unmarshal(b, &rec))
	var keys []string
	for k := range rec.Identity {
		keys = append(keys, k)
	}
	if version == kratosauthtest.DefaultKratosVersion {
		keys = append(keys, "external_id") // the session sets one; v1.3.1's recording has none
	}
	sort.Strings(keys)
	return keys
}

func TestWithKratosVersionRefusesAnUnknownVersion(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		kratosauthtest.NewServer(ft, kratosauthtest.WithKratosVersion("v2.0.0"))
	}()
	assert.True(t, ft.failed, "an unknown version fails the test")
}

// fatalRecorder records Fatal instead of ending the test.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (f *fatalRecorder) Fatal(args ...any) { f.failed = true; panic("fatal") }
func (f *fatalRecorder) Helper()           {}
