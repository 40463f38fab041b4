package kratosgin

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kratosauth/kratosauth/selfservice"
)

// RegisterSelfService registers the self-service pages of ui (login,
// registration, settings, verification, recovery, error and logout, at
// ui.Paths()) on r, for GET, HEAD and POST (the pages answer 405 to what
// they do not serve). r may be the engine or a group whose base path is a
// prefix of the pages' paths, e.g. a group "/auth" for a Handler built
// with selfservice.WithBasePath("/auth"):
//
//	ui, err := selfservice.New(auth)
//	...
//	kratosgin.RegisterSelfService(engine, ui)
//
// It panics when the group's base path does not lead to the pages, a
// configuration error to find at startup.
func RegisterSelfService(r gin.IRoutes, ui *selfservice.Handler) {
	base := ""
	if g, ok := r.(interface{ BasePath() string }); ok {
		base = strings.TrimRight(g.BasePath(), "/")
	}
	h := gin.WrapH(ui)
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPost}
	for _, p := range ui.Paths() {
		rel, ok := strings.CutPrefix(p, base)
		if !ok || rel == "" || rel[0] != '/' {
			panic("kratosgin: self-service page " + p + " is not below the router's base path " + base)
		}
		r.Match(methods, rel, h)
	}
}
