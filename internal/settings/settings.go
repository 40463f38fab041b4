// Package settings carries an Authenticator's checked configuration to the
// library's other packages (selfservice), so that they neither repeat its
// options nor parse its URLs again: one configuration, set once with
// kratosauth.New.
package settings

import (
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Settings is what New checked. The URLs are copies: changing them changes
// nothing in the Authenticator.
type Settings struct {
	PublicURL        url.URL  // where the app calls Kratos
	BrowserURL       url.URL  // where browsers reach Kratos
	AppURL           *url.URL // the app's external base URL; nil when unset
	Client           *http.Client
	Timeout          time.Duration // bounds one call to Kratos
	MaxResponseBytes int64         // caps one Kratos response body
	Logger           *slog.Logger
	CookieName       string // the session cookie's name
}

// Of returns the Settings of a *kratosauth.Authenticator. Package kratosauth
// sets it when it is initialized; nothing else may.
var Of func(authenticator any) Settings
