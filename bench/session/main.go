// Command session registers a new user at a running Kratos (API flow and
// browser flow, through internal/testing/kratostest) and prints
//
//	TOKEN=<session token>
//	COOKIE=ory_kratos_session=<value>
//	COOKIE=...        (one line per -browser-users)
//
// for scripts/bench.sh.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"testing"
	"time"

	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
)

// fatalTB is the part of testing.TB the kratostest helpers use, outside a
// test: failures end the program.
type fatalTB struct{ testing.TB }

func (fatalTB) Helper()                           {}
func (fatalTB) Fatal(args ...any)                 { log.Fatal(args...) }
func (fatalTB) Fatalf(format string, args ...any) { log.Fatalf(format, args...) }
func (fatalTB) Context() context.Context          { return context.Background() }

func main() {
	kratos := flag.String("kratos", "http://127.0.0.1:4533", "Kratos public URL")
	users := flag.Int("browser-users", 1, "browser sessions (users) to create")
	flag.Parse()
	s := &kratostest.Server{PublicURL: *kratos}
	var t fatalTB
	n := time.Now().UnixNano()
	const password = "Qv7#mT2p!Lw9zXr4-Kd8"
	tok, _ := s.RegisterAPI(t, fmt.Sprintf("load-api-%d@example.com", n), password)
	fmt.Fprintf(os.Stdout, "TOKEN=%s\n", tok)
	for i := range max(*users, 1) {
		_, ck := s.RegisterBrowser(t, fmt.Sprintf("load-browser-%d-%d@example.com", n, i), password)
		fmt.Fprintf(os.Stdout, "COOKIE=%s=%s\n", ck.Name, ck.Value)
	}
}
