// Package selfservice renders Ory Kratos' self-service flows (login,
// registration, settings, verification, recovery), its error page and
// logout for Go web apps. Kratos ships no UI: it redirects browsers to the
// app's ui_url pages with ?flow=<id>, and the app must fetch the flow and
// show its form. This package does that with plain html/template pages that
// need no JavaScript for any method but security keys and passkeys.
//
// Build a Handler once, from the app's kratosauth.Authenticator, and mount
// it:
//
//	auth, _ := kratosauth.New("http://127.0.0.1:4433",
//		kratosauth.WithAppURL("https://app.example.com"))
//	ui, err := selfservice.New(auth, selfservice.WithSiteName("Example"))
//	if err != nil { ... }
//	mux := http.NewServeMux()
//	ui.Register(mux) // /login, /registration, /settings, /verification, /recovery, /error, /logout
//
// With chi, ui.Register(r) works the same way; with WithBasePath("/auth"),
// r.Mount("/auth", ui) or mux.Handle("/auth/", ui) (the Handler expects the
// full path, so do not strip the prefix). For gin, see
// kratosgin.RegisterSelfService. FlowHandler, ErrorHandler and
// LogoutHandler return single pages.
//
// Kratos' selfservice.flows.<kind>.ui_url must point at these pages (the
// app URL plus base path plus /login etc.), the app URL must be in
// selfservice.allowed_return_urls, and Kratos and the app must share a
// cookie domain: the pages forward the browser's Kratos cookies (its CSRF
// cookie csrf_token_*, the session cookie and other ory_* cookies, never the
// app's own) to Kratos, which checks the CSRF cookie (and, for settings, the
// session).
//
// A page request without ?flow= is redirected (303) to Kratos'
// /self-service/<kind>/browser on the browser URL, carrying return_to,
// and for login aal and refresh, from the page's query. return_to is only
// passed on when it is on the app's own URL (see Client.SafeReturnTo); the
// Host header is never used. An expired, unknown or foreign flow (410, 404,
// 403) restarts the flow, at most three times in a row, so that a
// misconfiguration shows an error page instead of a redirect loop. When
// Kratos cannot be reached the page is a 503, never a redirect. Flow pages
// are sent with Cache-Control: no-store. A flow too large to show (more
// than 4096 nodes or 64 methods, 8192 fields over all forms, or a page
// over 4 MiB) gets an error page.
//
// Every response carries a strict Content-Security-Policy (no script, no
// connection, no framing, no <base>; styles only by a per-response nonce,
// Page.Nonce; images only as data: URLs; forms only to Kratos' browser
// URL and the app, plus WithFormActionOrigins) and Referrer-Policy:
// no-referrer, since flow ids are in the pages' URLs. The flow's
// ui.action must therefore be on the browser URL (Kratos'
// serve.public.base_url), and social sign-in providers must be listed
// with WithFormActionOrigins.
//
// Pages with security keys or passkeys (Kratos' webauthn and passkey
// methods) are the exception: their policy has script-src with the
// response's nonce alone, and they load Kratos' webauthn.js from the
// browser URL (with Kratos' integrity hash) and a small inline script that
// calls the webauthn.js function a button names in Kratos' onclickTrigger
// (or onloadTrigger) attribute; Kratos' inline onclick handlers are never
// rendered. See Page.Scripts.
//
// Texts are translated by catalogs keyed by Kratos' message ids (English,
// German and French built in; WithCatalog, WithLanguage), chosen from the
// request's Accept-Language; Kratos' English is the fallback.
//
// The rendered forms post straight to the flow's ui.action (Kratos), with
// every node unchanged, csrf_token included; each method (password, code,
// totp, profile, ...) gets its own form. The look is changed by redefining
// templates of DefaultTemplates and passing them to WithTemplates.
//
// Client is the lower level: URLs of the browser flows, fetching flows,
// errors and identity schemas, and the logout URL.
package selfservice
