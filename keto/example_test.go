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

// A list endpoint shows only the documents the user may see: one call for
// the whole list, asking Keto only for what the cache does not know.
func ExampleClient_FilterPermitted() {
	ketoServer := kratosauthtest.NewKeto(&testing.T{})
	defer ketoServer.Close()
	ketoServer.Grant("Doc", "readme", "view", "9a2b")
	ketoServer.Grant("Doc", "roadmap", "view", "9a2b")

	perms, err := keto.New(ketoServer.URL)
	if err != nil {
		panic(err)
	}
	defer perms.Close()
	visible, err := perms.FilterPermitted(context.Background(), "Doc", "view", "9a2b", []string{"readme", "payroll", "roadmap"})
	fmt.Println(visible, err)

	// After the app changes a document's tuples:
	ketoServer.Revoke("Doc", "roadmap", "view", "9a2b")
	perms.ForgetObject("Doc", "roadmap")
	visible, err = perms.FilterPermitted(context.Background(), "Doc", "view", "9a2b", []string{"readme", "payroll", "roadmap"})
	fmt.Println(visible, err)
	// Output:
	// [readme roadmap] <nil>
	// [readme] <nil>
}
