// Command server is the app of the load comparison in scripts/bench.sh:
//
//	/bare     the handler alone, no authentication
//	/cached   kratoshttp.RequireSession, default session cache
//	/nocache  kratoshttp.RequireSession, cache off (one whoami per request)
//
// Every route runs the same handler, which writes "ok" and the identity ID
// when there is one. It exits by itself after -max-duration.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/kratosauth/kratosauth"
	kratoshttp "github.com/kratosauth/kratosauth/adapters/nethttp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4555", "listen address (loopback)")
	kratos := flag.String("kratos", "http://127.0.0.1:4533", "Kratos public URL")
	maxDur := flag.Duration("max-duration", 15*time.Minute, "exit after this long")
	flag.Parse()
	if host, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("server: -addr %q must be a loopback address", *addr)
	}

	cached, err := kratosauth.New(*kratos)
	if err != nil {
		log.Fatal(err)
	}
	defer cached.Close()
	nocache, err := kratosauth.New(*kratos, kratosauth.WithCacheTTL(0))
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /bare", http.HandlerFunc(app))
	mux.Handle("GET /cached", kratoshttp.RequireSession(cached)(http.HandlerFunc(app)))
	mux.Handle("GET /nocache", kratoshttp.RequireSession(nocache)(http.HandlerFunc(app)))

	time.AfterFunc(*maxDur, func() {
		log.Printf("server: -max-duration %s reached, exiting", *maxDur)
		os.Exit(0)
	})
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

func app(w http.ResponseWriter, r *http.Request) {
	if id, ok := kratoshttp.Identity(r.Context()); ok {
		_, _ = w.Write([]byte("ok " + id.ID))
		return
	}
	_, _ = w.Write([]byte("ok"))
}
