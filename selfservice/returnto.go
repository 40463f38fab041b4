package selfservice

import (
	"net/url"
	"strings"

	"github.com/kratosauth/kratosauth/internal/origin"
)

// maxReturnToLen bounds a return_to value, as given and as resolved on
// the app URL; longer ones are dropped.
const maxReturnToLen = 2048

// safeReturnTo returns raw as an absolute URL on app's origin, or false.
//
// Accepted: an absolute URL on app's origin (origin.Same) whose path lies
// under app's path, or an absolute path ("/x", relative to app's URL, as
// the app sees its own paths). Rejected: anything else, including
// protocol-relative "//evil", "https:evil", backslashes, userinfo, control
// characters, spaces, dot segments and over-long values.
// With no app URL nothing is accepted. The Host header is never consulted.
func safeReturnTo(app *url.URL, raw string) (string, bool) {
	if app == nil || raw == "" || len(raw) > maxReturnToLen {
		return "", false
	}
	// "/x" is app-relative; "//x" would be protocol-relative.
	if raw[0] == '/' {
		if len(raw) > 1 && raw[1] == '/' {
			return "", false
		}
		raw = app.Scheme + "://" + app.Host + app.EscapedPath() + raw
	}
	u, ok := origin.Same(raw, app)
	if !ok {
		return "", false
	}
	// u.Path is decoded: this also catches %2e%2e and %5c.
	if strings.ContainsAny(u.Path, "\\") || hasDotSegment(u.Path) {
		return "", false
	}
	if p := app.Path; p != "" && u.Path != p && !strings.HasPrefix(u.Path, p+"/") {
		return "", false
	}
	u.Fragment, u.RawFragment = "", ""
	// The URL, not the input, is bounded: a short path becomes an absolute
	// URL that pages pass on, and must be accepted again.
	if out := u.String(); len(out) <= maxReturnToLen {
		return out, true
	}
	return "", false
}

func hasDotSegment(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}
