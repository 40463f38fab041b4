// Command courier is the demo's mailbox: Kratos' courier POSTs each
// message to it (courier.delivery_strategy http, the -courier-url of
// kratosconfig), and it prints one line per message with its recipient,
// template and one-time code, for a person trying the self-service pages
// to copy the code from. GET /healthz answers when it is ready.
//
//	go run ./internal/testing/kratostest/cmd/courier -addr 127.0.0.1:4436
//
// It is a local development tool: codes are credentials, and it prints
// them.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4436", "address to listen on (loopback): Kratos POSTs to http://ADDR/messages")
	flag.Parse()
	if host, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("courier: -addr %q: want a loopback IP address and port", *addr)
	}
	srv := &http.Server{Addr: *addr, Handler: handler(os.Stdout), ReadHeaderTimeout: 5 * time.Second}
	log.Printf("courier: listening on http://%s/messages", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// handler prints each message POSTed to /messages to out.
func handler(out io.Writer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("POST /messages", func(w http.ResponseWriter, r *http.Request) {
		var m kratostest.Message
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m); err != nil {
			http.Error(w, "bad message", http.StatusBadRequest)
			return
		}
		code := m.Code()
		if code == "" {
			code = "(none)"
		}
		fmt.Fprintf(out, "%s to=%s template=%s code=%s subject=%q\n", time.Now().Format(time.TimeOnly), m.Recipient, m.TemplateType, code, m.Subject)
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
