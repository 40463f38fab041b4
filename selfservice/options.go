package selfservice

import (
	"errors"
	"fmt"
	"html/template"
	"net/url"
	"strings"
)

// Option configures a Handler. Options are applied, and validated, by New;
// a nil Option is an error.
type Option func(*config) error

// The Kratos and app URLs, the HTTP client, the timeout, the response body
// cap and the logger are the Authenticator's (see kratosauth.New): they are
// not repeated here.
type config struct {
	basePath string
	tmpl     *template.Template
	siteName string
	// formOrigins are CSP sources added to form-action.
	formOrigins []string
	// catalogs are the app's catalogs (WithCatalog), by language.
	catalogs map[string]Catalog
	// language is WithLanguage's, "" to follow Accept-Language.
	language string
}

// WithCatalog adds the pages' text in a language (a tag such as "es" or
// "pt-br"), or changes entries of a built-in catalog ("en", "de", "fr"):
// its entries replace those of the same key, the others stay. Kratos'
// message ids (in decimal) and the page texts' names are the keys; see
// Catalog. A request's language is chosen among the built-in and added
// catalogs from its Accept-Language header, unless WithLanguage forces
// one. Calling WithCatalog again for a language adds to its catalog.
func WithCatalog(lang string, c Catalog) Option {
	return func(cfg *config) error {
		tag, ok := normLang(lang)
		if !ok {
			return fmt.Errorf("selfservice: WithCatalog: invalid language tag %q", lang)
		}
		if len(c) == 0 {
			return fmt.Errorf("selfservice: WithCatalog(%q): empty catalog", lang)
		}
		for k, v := range c {
			if !placeholdersOK(v) {
				return fmt.Errorf("selfservice: WithCatalog(%q): entry %q: braces must enclose a value's name, as in {provider}", lang, k)
			}
		}
		if cfg.catalogs == nil {
			cfg.catalogs = map[string]Catalog{}
		}
		merged := cfg.catalogs[tag]
		if merged == nil {
			merged = Catalog{}
		}
		for k, v := range c {
			merged[k] = v
		}
		cfg.catalogs[tag] = merged
		return nil
	}
}

// WithLanguage shows every page in one language ("de"), whatever the
// browser asks for: a built-in language or one added with WithCatalog.
// Default: the best match of the request's Accept-Language, else English.
func WithLanguage(lang string) Option {
	return func(cfg *config) error {
		tag, ok := normLang(lang)
		if !ok {
			return fmt.Errorf("selfservice: WithLanguage: invalid language tag %q", lang)
		}
		cfg.language = tag
		return nil
	}
}

// WithBasePath sets the path prefix the pages are served under, e.g.
// "/auth" for /auth/login, /auth/registration, ... It must match the
// ui_url paths configured in Kratos. Mount the Handler without stripping
// the prefix (mux.Handle("/auth/", h), chi's r.Mount("/auth", h)).
// Default: "" (pages at /login, /registration, ...).
func WithBasePath(prefix string) Option {
	return func(c *config) error {
		prefix = strings.TrimRight(prefix, "/")
		if prefix != "" && (prefix[0] != '/' || strings.ContainsAny(prefix, "?#\\ ") || strings.HasPrefix(prefix, "//")) {
			return fmt.Errorf("selfservice: invalid base path %q: want /segment[/segment...]", prefix)
		}
		c.basePath = prefix
		return nil
	}
}

// WithTemplates sets the templates pages are rendered with. t must define
// "page", which is executed with a *Page. The easiest way to customize the
// look is to start from DefaultTemplates and redefine some of its
// templates ("header", "flow", "node", "error", "style", ...):
//
//	t := template.Must(selfservice.DefaultTemplates().Parse(`{{define "header"}}...{{end}}`))
//
// The pages' Content-Security-Policy allows no external stylesheet or
// image, and no script but on pages with security keys or passkeys: an
// inline <style> (or, on those pages, <script>) must carry
// nonce="{{.Nonce}}". Keep the "scripts" template, which those pages need.
// Default: DefaultTemplates().
func WithTemplates(t *template.Template) Option {
	return func(c *config) error {
		if t == nil || t.Lookup("page") == nil {
			return errors.New(`selfservice: templates must define "page"`)
		}
		c.tmpl = t
		return nil
	}
}

// WithSiteName sets the name shown in the page header and titles.
// Default: "Account".
func WithSiteName(name string) Option {
	return func(c *config) error {
		if strings.TrimSpace(name) == "" {
			return errors.New("selfservice: empty site name")
		}
		c.siteName = name
		return nil
	}
}

// WithFormActionOrigins adds origins (scheme://host[:port]) to those the
// pages' forms may lead to. The pages' Content-Security-Policy lets forms
// post only to Kratos' browser URL and to the app itself, and browsers
// apply that to the redirects that follow a form post too: list here the
// identity providers of social sign-in (oidc, saml), to which Kratos
// redirects the browser when their button is pressed, and a
// default_browser_return_url of Kratos that is not on the app.
// Default: none.
func WithFormActionOrigins(origins ...string) Option {
	return func(c *config) error {
		for _, o := range origins {
			u, err := url.Parse(o)
			if err != nil || u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" {
				return fmt.Errorf("selfservice: form action origin %q: want scheme://host[:port]", o)
			}
			src, err := cspOrigin(u)
			if err != nil {
				return fmt.Errorf("selfservice: form action origin: %w", err)
			}
			c.formOrigins = append(c.formOrigins, src)
		}
		return nil
	}
}
