package keto_test

import (
	"context"
	"testing"
	"time"

	"github.com/kratosauth/kratosauth/keto"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// BenchmarkCheckCached is a Check answered by the decision cache: the
// tuple's digest and a sharded map lookup. The request-path figure, with
// the session cache, is BenchmarkRequirePermissionCacheHit in the root
// package.
func BenchmarkCheckCached(b *testing.B) {
	fake := kratosauthtest.NewKeto(b)
	tu := keto.Tuple{Namespace: "Group", Object: "admins", Relation: "members", SubjectID: "9f2d7c1e-3b4a-4c5d-8e6f-0a1b2c3d4e5f"}
	fake.Grant(tu.Namespace, tu.Object, tu.Relation, tu.SubjectID)
	k, err := keto.New(fake.URL, keto.WithAllowTTL(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := k.Check(ctx, tu); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
	if n := fake.Calls(); n != 1 {
		b.Fatalf("%d calls to Keto, want 1", n)
	}
}
