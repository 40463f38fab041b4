package kratosauth

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every whoami answer recorded from each Kratos version (v1.3.1, v25.4.0,
// v26.2.0), served with its recorded headers, means what it meant there: a
// session (with the identity's external_id where Kratos set one), "no
// session", or "second factor required", with Kratos' error id.
func TestRecordedAnswersOfEveryKratosVersion(t *testing.T) {
	versions := map[string]bool{}
	for _, rec := range recordedResponses(t) {
		versions[filepath.Dir(rec.name)] = true
		t.Run(rec.name, func(t *testing.T) {
			// Recorded sessions have expired since: judge them at their issuing.
			var issued struct {
				IssuedAt time.Time `json:"issued_at"`
			}
			_ = json.Unmarshal(rec.body, &issued)
			s, _, err := parseWhoami(rec.status, rec.header, rec.body, issued.IssuedAt.Add(time.Second))
			switch rec.status {
			case http.StatusOK:
				require.NoError(t, err)
				var body struct {
					Identity struct {
						ID         string `json:"id"`
						ExternalID string `json:"external_id"`
					} `json:"identity"`
				}
				require.NoError(t, json.Unmarshal(rec.body, &body))
				assert.Equal(t, body.Identity.ID, s.Identity.ID)
				assert.Equal(t, body.Identity.ExternalID, s.Identity.ExternalID)
			case http.StatusUnauthorized:
				assert.ErrorIs(t, err, ErrInvalidSession)
			case http.StatusForbidden:
				assert.ErrorIs(t, err, ErrAAL2Required)
				var e *Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, "session_aal2_required", e.KratosErrorID)
			default:
				t.Fatalf("unexpected recorded status %d", rec.status)
			}
		})
	}
	assert.Equal(t, map[string]bool{".": true, "v25.4.0": true, "v26.2.0": true}, versions, "recordings of every version")
	// v25.4.0 and later set external_id: the recordings have one.
	for _, rec := range recordedResponses(t) {
		if strings.HasSuffix(rec.name, "whoami_200_token.meta.json") && filepath.Dir(rec.name) != "." {
			assert.Contains(t, string(rec.body), `"external_id":"crm-`, rec.name)
		}
	}
}
