// Command ketoconfig renders the Keto configuration of internal/testing/ketotest
// into a directory and prints the config file's path; scripts/keto.sh uses
// it so that the demo and the tests run the same Keto.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/kratosauth/kratosauth/internal/testing/ketotest"
)

func main() {
	var o ketotest.Options
	dir := flag.String("dir", "", "directory for the config and the SQLite database (required)")
	flag.IntVar(&o.ReadPort, "read-port", ketotest.DefaultReadPort, "read API port")
	flag.IntVar(&o.WritePort, "write-port", ketotest.DefaultWritePort, "write API port")
	flag.IntVar(&o.OPLPort, "opl-port", ketotest.DefaultOPLPort, "OPL syntax API port")
	flag.IntVar(&o.MetricsPort, "metrics-port", ketotest.DefaultMetricsPort, "metrics port")
	flag.Parse()
	path, err := ketotest.WriteConfig(*dir, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ketoconfig:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}
