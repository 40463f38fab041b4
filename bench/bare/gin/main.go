//go:build ignore

// Command gin is bench/bare for examples/gin: the example app with nothing
// changed but GET /api/me, served without RequireSession, writing the
// example's JSON for the fixed session given by -me. Same gin engine, global
// middleware (gin.Recovery), release mode, self-service mount, other routes
// and http.Server settings as examples/gin (whose optional Keto /admin route
// is off in the benchmark).
//
// The build constraint keeps it out of the root module, which must not
// require gin (scripts/test.sh checks): scripts/bench.sh builds it as a
// file, in the workspace (go.work), which has gin through examples/gin at
// the example's version:
//
//	go build -o bare-gin ./bench/bare/gin/main.go
//
// It listens on loopback only and exits by itself after -max-duration.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kratosauth/kratosauth"
	kratosgin "github.com/kratosauth/kratosauth/adapters/gin"
	"github.com/kratosauth/kratosauth/selfservice"
)

type me struct {
	IdentityID string `json:"identity_id"`
	Email      string `json:"email"`
	SessionID  string `json:"session_id"`
	AAL        string `json:"aal"`
}

func main() {
	gin.SetMode(gin.ReleaseMode)
	addr := flag.String("addr", "127.0.0.1:4573", "listen address (loopback)")
	kratos := flag.String("kratos", "http://127.0.0.1:4533", "Kratos public URL (for the self-service mount; /api/me never calls it)")
	appURL := flag.String("app-url", "http://127.0.0.1:4455", "the app's URL (as the example's APP_URL)")
	meJSON := flag.String("me", "", "the example's /api/me answer (JSON), written by this /api/me")
	maxDur := flag.Duration("max-duration", 15*time.Minute, "exit after this long")
	flag.Parse()
	if host, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("bare-gin: -addr %q must be a loopback address", *addr)
	}
	var m me
	if err := json.Unmarshal([]byte(*meJSON), &m); err != nil || m.IdentityID == "" {
		log.Fatalf("bare-gin: -me must be the example's /api/me answer: %q", *meJSON)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	auth, err := kratosauth.New(*kratos,
		kratosauth.WithAppURL(*appURL),
		kratosauth.WithCacheTTL(time.Minute),
		kratosauth.WithLogger(logger))
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	ui, err := selfservice.New(auth, selfservice.WithSiteName("kratosauth example"))
	if err != nil {
		log.Fatal(err)
	}

	page := func(c *gin.Context) { c.String(http.StatusOK, "page\n") }
	r := gin.New() // examples/gin's newApp
	r.Use(gin.Recovery())
	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok\n") })
	r.GET("/", kratosgin.LoadSession(auth), page)
	private := r.Group("/") // the one difference: no RequireSession in this group
	private.GET("/dashboard", page)
	private.GET("/api/me", func(c *gin.Context) { // the example's handler, the session's values fixed
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, gin.H{
			"identity_id": m.IdentityID,
			"email":       m.Email,
			"session_id":  m.SessionID,
			"aal":         m.AAL,
		})
	})
	kratosgin.RegisterSelfService(r, ui)

	time.AfterFunc(*maxDur, func() {
		log.Printf("bare-gin: -max-duration %s reached, exiting", *maxDur)
		os.Exit(0)
	})
	srv := &http.Server{ // the examples' http.Server
		Addr:              *addr,
		Handler:           r,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	log.Fatal(srv.ListenAndServe())
}
