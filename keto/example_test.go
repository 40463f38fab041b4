package keto_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/kratosauth/kratosauth/keto"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// A handler that decides by itself, for example what a list shows.
func ExampleClient_Check() {
	ketoServer := kratosauthtest.NewKeto(&testing.T{}) // Keto's read API, e.g. http://127.0.0.1:4466
	defer ketoServer.Close()
	ketoServer.Grant("Doc", "readme", "view", "9a2b")

	perms, err := keto.New(ketoServer.URL)
	if err != nil {
		panic(err)
	}
	defer perms.Close()
	for _, doc := range []string{"readme", "payroll"} {
		allowed, err := perms.Check(context.Background(), keto.Tuple{Namespace: "Doc", Object: doc, Relation: "view", SubjectID: "9a2b"})
		fmt.Println(doc, allowed, err)
	}
	// Output:
	// readme true <nil>
	// payroll false <nil>
}

func ExampleNew() {
	_, err := keto.New("http://127.0.0.1:4466", keto.WithAllowTTL(keto.DefaultAllowTTL), keto.WithDenyTTL(2*keto.DefaultAllowTTL))
	fmt.Println(err)
	// Output: keto: WithDenyTTL(10s) is longer than the allow TTL (5s): a denial must not outlive an allow
}
