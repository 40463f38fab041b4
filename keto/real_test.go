package keto_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth/internal/testing/ketotest"
	"github.com/kratosauth/kratosauth/keto"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

// The client against a real Keto v0.13: allowed, denied, a deleted tuple
// denied once the allow TTL passed, and a stopped Keto unavailable.
func TestRealKeto(t *testing.T) {
	k := ketotest.Start(t)
	k.Grant(t, "Group", "admins", "members", "alice")
	const ttl = 500 * time.Millisecond
	c := newClient(t, k.ReadURL, keto.WithAllowTTL(ttl))
	ctx := context.Background()
	admins := keto.Tuple{Namespace: "Group", Object: "admins", Relation: "members", SubjectID: "alice"}
	check := func(tu keto.Tuple) bool {
		t.Helper()
		ok, err := c.Check(ctx, tu)
		require.NoError(t, err)
		return ok
	}

	assert.True(t, check(admins))
	bob := admins
	bob.SubjectID = "bob"
	assert.False(t, check(bob))
	unknown := admins
	unknown.Namespace = "Nope" // Keto answers "not allowed" for a namespace it does not know
	assert.False(t, check(unknown))

	k.Delete(t, "Group", "admins", "members", "alice")
	assert.True(t, check(admins), "the allow is cached for its TTL")
	time.Sleep(ttl + 100*time.Millisecond)
	assert.False(t, check(admins), "denied once the TTL passed")

	k.Stop()
	_, err := c.Check(ctx, bob)
	assert.ErrorIs(t, err, keto.ErrUnavailable)

	k.Restart(t)
	assert.False(t, check(bob))
}

// kratosauthtest's fake Keto answers each question as the real Keto does:
// same status, same body.
func TestFakeKetoAgreesWithKeto(t *testing.T) {
	real := ketotest.Start(t)
	fake := kratosauthtest.NewKeto(t)
	real.Grant(t, "Doc", "readme", "view", "alice")
	fake.Grant("Doc", "readme", "view", "alice")

	for _, q := range []string{
		"/relation-tuples/check/openapi?namespace=Doc&object=readme&relation=view&subject_id=alice",
		"/relation-tuples/check/openapi?namespace=Doc&object=readme&relation=view&subject_id=bob",
		"/relation-tuples/check/openapi?namespace=Doc&object=readme&relation=edit&subject_id=alice",
		"/relation-tuples/check/openapi?namespace=Doc&relation=view&subject_id=alice",
		"/relation-tuples/check/openapi?namespace=Doc&object=readme&relation=view",
		"/relation-tuples/check?namespace=Doc&object=readme&relation=view&subject_id=alice",
		"/relation-tuples/check?namespace=Doc&object=readme&relation=view&subject_id=bob",
	} {
		rs, rb := get(t, real.ReadURL+q)
		fs, fb := get(t, fake.URL+q)
		assert.Equal(t, rs, fs, q)
		assert.Equal(t, rb, fb, q)
	}
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// FilterPermitted against a real Keto: exactly the granted objects of 100,
// in order; a stopped Keto is an error and no list.
func TestRealKetoFilterPermitted(t *testing.T) {
	k := ketotest.Start(t)
	objects, want := grantEveryThird(t, k, 100)
	c := newClient(t, k.ReadURL, keto.WithAllowTTL(time.Minute))
	got, err := c.FilterPermitted(context.Background(), "Doc", "view", "alice", objects)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	k.Delete(t, "Doc", want[0], "view", "alice")
	c.ForgetObject("Doc", want[0])
	got, err = c.FilterPermitted(context.Background(), "Doc", "view", "alice", objects)
	require.NoError(t, err)
	assert.Equal(t, want[1:], got, "Keto asked again for the forgotten object")

	k.Stop()
	c.ForgetAll()
	got, err = c.FilterPermitted(context.Background(), "Doc", "view", "alice", objects)
	assert.ErrorIs(t, err, keto.ErrUnavailable)
	assert.Nil(t, got)
}

// grantEveryThird writes Doc:doc-i#view@alice for every third of n objects
// and returns the n objects and the granted ones.
func grantEveryThird(t testing.TB, k *ketotest.Server, n int) (objects, granted []string) {
	for i := range n {
		o := fmt.Sprintf("doc-%03d", i)
		objects = append(objects, o)
		if i%3 == 0 {
			k.Grant(t, "Doc", o, "view", "alice")
			granted = append(granted, o)
		}
	}
	return objects, granted
}

// BenchmarkRealKetoFilterPermitted100 filters 100 objects with a real Keto
// v0.13 on loopback: cold (every object asked, 8 at a time) and warm (every
// decision cached).
func BenchmarkRealKetoFilterPermitted100(b *testing.B) {
	k := ketotest.Start(b)
	objects, want := grantEveryThird(b, k, 100)
	ctx := context.Background()
	run := func(b *testing.B, c *keto.Client, forget bool) {
		for b.Loop() {
			if forget {
				c.ForgetAll()
			}
			got, err := c.FilterPermitted(ctx, "Doc", "view", "alice", objects)
			if err != nil || len(got) != len(want) {
				b.Fatal(len(got), err)
			}
		}
	}
	for _, conc := range []int{1, keto.DefaultMaxConcurrentChecks, 32} {
		b.Run(fmt.Sprintf("cold/concurrency=%d", conc), func(b *testing.B) {
			c, err := keto.New(k.ReadURL, keto.WithAllowTTL(time.Hour), keto.WithDenyTTL(time.Hour), keto.WithMaxConcurrentChecks(conc))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			run(b, c, true)
		})
	}
	b.Run("warm", func(b *testing.B) {
		c, err := keto.New(k.ReadURL, keto.WithAllowTTL(time.Hour), keto.WithDenyTTL(time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if _, err := c.FilterPermitted(ctx, "Doc", "view", "alice", objects); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		run(b, c, false)
	})
}
