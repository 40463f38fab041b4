// Security keys and passkeys: the only scripts a page runs.

package selfservice

import (
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"

	"github.com/kratosauth/kratosauth/internal/origin"
)

// webauthnScriptPath is where Kratos serves webauthn.js.
const webauthnScriptPath = "/.well-known/ory/webauthn.js"

// scripts returns the flow's script nodes the page may load: Kratos'
// webauthn.js on Kratos' browser URL, with an integrity hash (Kratos
// always gives one). Any other script is dropped and logged: the page
// then runs no script, and its WebAuthn buttons do nothing.
func (h *Handler) scripts(r *http.Request, f *Flow) []Script {
	var out []Script
	for i := range f.UI.Nodes {
		n := &f.UI.Nodes[i]
		if n.Type != "script" {
			continue
		}
		a := &n.Attributes
		u, ok := origin.Same(a.Src, h.client.browser)
		if !ok || !strings.HasSuffix(u.Path, webauthnScriptPath) || u.RawQuery != "" || !sriHash(a.Integrity) {
			h.logger().LogAttrs(r.Context(), slog.LevelWarn, "selfservice: script node dropped: not Kratos' webauthn.js on the browser URL, with an integrity hash",
				slog.String("id", a.ID))
			continue
		}
		s := Script{Src: u.String(), Integrity: a.Integrity, CrossOrigin: "anonymous", ReferrerPolicy: "no-referrer"}
		if len(out) == 0 || out[0] != s {
			out = append(out, s)
		}
	}
	return out
}

// sriHash accepts a Subresource Integrity value of one SHA-2 hash.
func sriHash(v string) bool {
	for _, p := range []string{"sha256-", "sha384-", "sha512-"} {
		if b64, ok := strings.CutPrefix(v, p); ok {
			_, err := base64.StdEncoding.DecodeString(b64)
			return err == nil && b64 != ""
		}
	}
	return false
}
