package e2e

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
)

// TestAAL2 runs Kratos with session.whoami.required_aal: highest_available.
// An aal1 session of an identity with TOTP is refused by Kratos' whoami (403
// session_aal2_required): API clients get a 403 JSON, browsers the step-up
// login; after the TOTP login the session works.
func TestAAL2(t *testing.T) {
	t.Parallel()
	k := kratostest.Start(t, kratostest.Options{RequiredAAL: "highest_available"})

	forEachAdapter(t, func(t *testing.T, ad adapter) {
		p := newProxy(t, k.PublicURL)
		a := newApp(t, ad, k, p.URL)
		email := kratostest.UniqueEmail("aal2-" + ad.name)
		regToken, sess := k.RegisterAPI(t, email, password)
		_, identityID := kratostest.SessionIDs(t, sess)
		secret := k.EnableTOTP(t, regToken)
		aal1 := k.LoginAPI(t, email, password) // password only: aal1

		stepUp := k.PublicURL + "/self-service/login/browser?aal=aal2&return_to=" + url.QueryEscape(k.Options.AppURL+"/private")
		e := assertJSONError(t, a.get(t, "/private", token(aal1)), http.StatusForbidden)
		assert.Equal(t, "session_aal2_required", e.Error.ID)
		assert.Equal(t, stepUp, e.RedirectBrowserTo)
		assert.Equal(t, stepUp, e.Error.Details.RedirectBrowserTo)
		assertRedirect(t, a.get(t, "/private", token(aal1), browser), stepUp)
		// A public page shows the visitor as signed out, without failing.
		anon := a.get(t, "/public", token(aal1))
		assert.Equal(t, http.StatusOK, anon.Status)
		assert.JSONEq(t, `{}`, anon.Body)

		aal2 := k.LoginAAL2API(t, aal1, secret)
		m := assertMe(t, a.get(t, "/private", token(aal2)), identityID)
		assert.Equal(t, kratosauth.AAL2, m.AAL)
		assertMe(t, a.get(t, "/aal2", token(aal2)), identityID)
		assertMe(t, a.get(t, "/aal2", token(aal2), browser), identityID)
	})
}
