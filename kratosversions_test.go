package kratosauth_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	kratoshttp "github.com/kratosauth/kratosauth/adapters/nethttp"
)

// Kratos v25.4.0 and later name every error in an Ory-Error-Id header; v1.3.1
// only in the body. The id reaches the error and the logs, never the client;
// an id that is not a plain identifier is dropped (it would go into logs).
func TestOryErrorIDIsLoggedNeverShown(t *testing.T) {
	for _, tc := range []struct {
		name, header, body, want string
		status                   int
	}{
		{"header (v25.4.0+)", "session_inactive", `{"error":{"id":"session_inactive","code":401}}`, "session_inactive", 401},
		{"body only (v1.3.1)", "", `{"error":{"id":"session_inactive","code":401}}`, "session_inactive", 401},
		{"header wins", "session_inactive", `{"error":{"id":"other","code":401}}`, "session_inactive", 401},
		{"5xx", "internal_server_error", `{"error":{"code":500}}`, "internal_server_error", 500},
		{"not an identifier", "a b<script>", `{}`, "", 401},
		{"none", "", `{}`, "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kratos := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header()["Ory-Error-Id"] = []string{tc.header}
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer kratos.Close()
			var logs bytes.Buffer
			a := newAuth(t, kratos.URL, kratosauth.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))

			_, err := a.Authenticate(tokenRequest("ory_st_x"))
			var e *kratosauth.Error
			require.True(t, errors.As(err, &e), "%v", err)
			assert.Equal(t, tc.want, e.KratosErrorID)
			if tc.want != "" {
				assert.Contains(t, err.Error(), "Ory-Error-Id "+tc.want)
			} else {
				assert.NotContains(t, err.Error(), "Ory-Error-Id")
			}

			rec := httptest.NewRecorder()
			kratoshttp.RequireSession(a)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				t.Error("handler ran")
			})).ServeHTTP(rec, tokenRequest("ory_st_x"))
			if tc.want != "" {
				assert.NotContains(t, rec.Body.String(), tc.want, "the client never sees Kratos' error id")
				assert.Empty(t, rec.Header().Get("Ory-Error-Id"))
			}
			if tc.status >= 500 {
				assert.Contains(t, logs.String(), "Ory-Error-Id "+tc.want, "a Kratos failure is logged with its id")
			}
		})
	}
}
