// Command kratosconfig renders the Kratos config used by scripts/kratos.sh
// from the same template as package kratostest, and prints the config path.
//
//	go run ./internal/testing/kratostest/cmd/kratosconfig -dir .run/kratos \
//	    -public-port 4433 -admin-port 4434 -app-url http://127.0.0.1:4455
//
// The configuration of the self-service pages with every method (what
// make demo runs), on localhost, where passkeys work:
//
//	go run ./internal/testing/kratostest/cmd/kratosconfig -dir .run/kratos -all-methods \
//	    -host localhost -app-url http://localhost:4455 -courier-url http://127.0.0.1:4436/messages
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/kratosauth/kratosauth/internal/testing/kratostest"
)

func main() {
	var o kratostest.Options
	dir := flag.String("dir", ".run/kratos", "directory for config, identity schema and SQLite DB")
	flag.IntVar(&o.PublicPort, "public-port", kratostest.DefaultPublicPort, "Kratos public API port")
	flag.IntVar(&o.AdminPort, "admin-port", kratostest.DefaultAdminPort, "Kratos admin API port")
	flag.StringVar(&o.AppURL, "app-url", kratostest.DefaultAppURL, "application base URL (UI and return URLs)")
	flag.StringVar(&o.Version, "version", "", "Kratos version the config is for (default: $KRATOS_VERSION, else the newest tested)")
	flag.StringVar(&o.RequiredAAL, "required-aal", kratostest.DefaultRequiredAAL, "session.whoami.required_aal: aal1 or highest_available")
	flag.StringVar(&o.Host, "host", "127.0.0.1", "host of Kratos' browser URL (serve.public.base_url): 127.0.0.1 or localhost (passkeys)")
	flag.BoolVar(&o.AllMethods, "all-methods", false, "every method of the self-service pages (codes, backup codes, security keys, passkeys); the app must be on -host")
	flag.StringVar(&o.CourierURL, "courier-url", "", "where Kratos' courier POSTs its messages (codes) as JSON; none: the courier is not configured")
	flag.Parse()
	if o.Version == "" {
		v, err := kratostest.CurrentVersion()
		if err != nil {
			fmt.Fprintln(os.Stderr, "kratosconfig:", err)
			os.Exit(1)
		}
		o.Version = v.Name
	}
	p, err := kratostest.WriteConfig(*dir, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kratosconfig:", err)
		os.Exit(1)
	}
	fmt.Println(p)
}
