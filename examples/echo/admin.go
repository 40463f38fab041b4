package main

// The /admin route: a permission in Ory Keto, members of Group:admins only.
// It exists when KETO_READ_URL is set. Grant it with Keto's write API:
//
//	curl -X PUT http://127.0.0.1:4467/admin/relation-tuples \
//	  -d '{"namespace":"Group","object":"admins","relation":"members","subject_id":"<identity ID>"}'

import (
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/kratosauth/kratosauth"
	kratosecho "github.com/kratosauth/kratosauth/adapters/echo"
	"github.com/kratosauth/kratosauth/keto"
)

// loadKetoConfig reads KETO_READ_URL (none: no /admin route) and
// KETO_ALLOW_TTL (how long an allow is reused, keto.DefaultAllowTTL).
func loadKetoConfig(cfg *config, get func(key, def string) string) error {
	cfg.KetoReadURL = get("KETO_READ_URL", "")
	ttl, err := time.ParseDuration(get("KETO_ALLOW_TTL", keto.DefaultAllowTTL.String()))
	if err != nil {
		return fmt.Errorf("KETO_ALLOW_TTL: %w", err)
	}
	cfg.KetoAllowTTL = ttl
	return nil
}

// permissionOptions returns the Authenticator's options for Keto (none
// without KETO_READ_URL) and a function closing the Keto client.
func permissionOptions(cfg config) ([]kratosauth.Option, func(), error) {
	if cfg.KetoReadURL == "" {
		return nil, func() {}, nil
	}
	perms, err := keto.New(cfg.KetoReadURL, keto.WithAllowTTL(cfg.KetoAllowTTL))
	if err != nil {
		return nil, nil, err
	}
	return []kratosauth.Option{kratosauth.WithPermissions(perms), kratosauth.WithForbiddenHandler(forbidden)}, perms.Close, nil
}

// adminObject is the one object /admin is about: the group of admins.
var adminObject = kratosauth.Object("admins")

func admin(c echo.Context) error {
	s, _ := kratosecho.Session(c) // always there behind RequirePermission
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Render(http.StatusOK, "admin", email(s))
}

// forbidden is the page browsers get when a signed-in user may not open a
// route (kratosauth.WithForbiddenHandler, a net/http handler, so it renders
// the echo app's templates itself; the status is 403 whatever it writes).
var forbidden = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	s, _ := kratosauth.SessionFromContext(r.Context())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pages.ExecuteTemplate(w, "forbidden", email(s)); err != nil {
		slog.Error("rendering page", "page", "forbidden", "error", err)
	}
})

var _ = template.Must(pages.Parse(`
{{define "admin"}}{{template "top" "Admin"}}
<p><b>{{.}}</b> is a member of <code>Group:admins</code> in Ory Keto.</p>
<nav class="ks-links"><a href="/">Home</a> <a href="/dashboard">Dashboard</a></nav>
</section></main>{{end}}
{{define "forbidden"}}{{template "top" "Forbidden"}}
<p>You are signed in as <b>{{.}}</b>, but this page is for members of <code>Group:admins</code>.</p>
<nav class="ks-links"><a href="/">Home</a> <a href="/dashboard">Dashboard</a></nav>
</section></main>{{end}}
`))
