package keto_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth/internal/ketotest"
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
