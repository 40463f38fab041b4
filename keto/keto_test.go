package keto_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/keto"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

var _ kratosauth.PermissionChecker = (*keto.Client)(nil)

var doc = keto.Tuple{Namespace: "Doc", Object: "readme", Relation: "view", SubjectID: "alice"}

func newClient(t *testing.T, url string, opts ...keto.Option) *keto.Client {
	t.Helper()
	k, err := keto.New(url, opts...)
	require.NoError(t, err)
	t.Cleanup(k.Close)
	return k
}

func TestCheckAsksKeto(t *testing.T) {
	fake := kratosauthtest.NewKeto(t)
	fake.Grant("Doc", "readme", "view", "alice")
	k := newClient(t, fake.URL, keto.WithAllowTTL(0))

	allowed, err := k.Check(context.Background(), doc)
	require.NoError(t, err)
	assert.True(t, allowed)
	r := fake.LastRequest()
	assert.Equal(t, "/relation-tuples/check/openapi", r.URL.Path)
	assert.Equal(t, "namespace=Doc&object=readme&relation=view&subject_id=alice", r.URL.RawQuery)
	assert.Empty(t, r.Header.Get("Authorization"))

	// Every field of the tuple matters.
	for _, other := range []keto.Tuple{
		{Namespace: "Group", Object: "readme", Relation: "view", SubjectID: "alice"},
		{Namespace: "Doc", Object: "secret", Relation: "view", SubjectID: "alice"},
		{Namespace: "Doc", Object: "readme", Relation: "edit", SubjectID: "alice"},
		{Namespace: "Doc", Object: "readme", Relation: "view", SubjectID: "bob"},
	} {
		allowed, err := k.CheckPermission(context.Background(), other.Namespace, other.Object, other.Relation, other.SubjectID)
		require.NoError(t, err)
		assert.False(t, allowed, "%+v", other)
	}

	// Objects with characters that mean something in a query are sent intact.
	fake.Grant("Doc", "a&relation=view b/ü?#", "view", "alice")
	allowed, err = k.Check(context.Background(), keto.Tuple{Namespace: "Doc", Object: "a&relation=view b/ü?#", Relation: "view", SubjectID: "alice"})
	require.NoError(t, err)
	assert.True(t, allowed)
}

func TestInvalidTupleIsNotAsked(t *testing.T) {
	fake := kratosauthtest.NewKeto(t)
	k := newClient(t, fake.URL)
	for _, tu := range []keto.Tuple{
		{Object: "o", Relation: "r", SubjectID: "s"},
		{Namespace: "n", Relation: "r", SubjectID: "s"},
		{Namespace: "n", Object: "o", SubjectID: "s"},
		{Namespace: "n", Object: "o", Relation: "r"},
	} {
		_, err := k.Check(context.Background(), tu)
		assert.ErrorIs(t, err, keto.ErrInvalidTuple, "%+v", tu)
	}
	assert.Zero(t, fake.Calls())
}

func TestAPIKey(t *testing.T) {
	fake := kratosauthtest.NewKeto(t)
	fake.Grant("Doc", "readme", "view", "alice")
	fake.RequireAPIKey("ory_pat_secret")

	// Without the key Ory Network answers 401: that is no denial.
	_, err := newClient(t, fake.URL).Check(context.Background(), doc)
	assert.ErrorIs(t, err, keto.ErrUnavailable)

	allowed, err := newClient(t, fake.URL, keto.WithAPIKey("ory_pat_secret")).Check(context.Background(), doc)
	require.NoError(t, err)
	assert.True(t, allowed)
	assert.Equal(t, "Bearer ory_pat_secret", fake.LastRequest().Header.Get("Authorization"))
}

// Anything but a 200 with one boolean "allowed" is ErrUnavailable: never
// "denied" (a 403 page would otherwise look like a decision), never
// "allowed".
func TestUnavailable(t *testing.T) {
	json := http.Header{"Content-Type": {"application/json"}}
	for _, tc := range []struct {
		name  string
		fault kratosauthtest.Fault
	}{
		{"500", kratosauthtest.Status(500)},
		{"503", kratosauthtest.Status(503)},
		{"429", kratosauthtest.RateLimited(time.Second)},
		{"400", kratosauthtest.Status(400)},
		{"404", kratosauthtest.Status(404)},
		{"403 mirrored denial", kratosauthtest.Raw(403, json, []byte(`{"allowed":false}`))},
		{"403 allowed body", kratosauthtest.Raw(403, json, []byte(`{"allowed":true}`))},
		{"201", kratosauthtest.Raw(201, json, []byte(`{"allowed":true}`))},
		{"302", kratosauthtest.Raw(302, http.Header{"Location": {"/relation-tuples/check/openapi?x"}}, nil)},
		{"empty", kratosauthtest.Raw(200, json, nil)},
		{"empty object", kratosauthtest.Raw(200, json, []byte(`{}`))},
		{"string", kratosauthtest.Raw(200, json, []byte(`{"allowed":"true"}`))},
		{"number", kratosauthtest.Raw(200, json, []byte(`{"allowed":1}`))},
		{"null", kratosauthtest.Raw(200, json, []byte(`{"allowed":null}`))},
		{"capitalised key", kratosauthtest.Raw(200, json, []byte(`{"Allowed":true}`))},
		{"twice", kratosauthtest.Raw(200, json, []byte(`{"allowed":false,"allowed":true}`))},
		{"twice, escaped", kratosauthtest.Raw(200, json, []byte(`{"allowed":true,"\u0061llowed":false}`))},
		{"twice, by case", kratosauthtest.Raw(200, json, []byte(`{"allowed":true,"Allowed":false}`))},
		{"trailing data", kratosauthtest.Raw(200, json, []byte(`{"allowed":true} {"allowed":false}`))},
		{"array", kratosauthtest.Raw(200, json, []byte(`[{"allowed":true}]`))},
		{"html", kratosauthtest.Raw(200, http.Header{"Content-Type": {"text/html"}}, []byte(`<html>allowed</html>`))},
		{"truncated", kratosauthtest.Raw(200, json, []byte(`{"allowed":tr`))},
		{"oversized", kratosauthtest.Raw(200, json, []byte(`{"allowed":true,"pad":"`+strings.Repeat("x", 70<<10)+`"}`))},
		{"hang-up", kratosauthtest.Unreachable()},
		{"slow", kratosauthtest.Slow(time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := kratosauthtest.NewKeto(t)
			fake.Grant("Doc", "readme", "view", "alice")
			fake.Fail(tc.fault)
			k := newClient(t, fake.URL, keto.WithTimeout(200*time.Millisecond), keto.WithDenyTTL(time.Second))
			allowed, err := k.Check(context.Background(), doc)
			assert.ErrorIs(t, err, keto.ErrUnavailable)
			assert.False(t, allowed)

			// Failures are not cached: once Keto recovers, it decides.
			fake.Recover()
			allowed, err = k.Check(context.Background(), doc)
			require.NoError(t, err)
			assert.True(t, allowed)
		})
	}
}

// A redirect is never followed: the API key stays with Keto, and another
// server's answer is not Keto's.
func TestNoRedirects(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		_, _ = w.Write([]byte(`{"allowed":true}`))
	}))
	t.Cleanup(other.Close)
	fake := kratosauthtest.NewKeto(t)
	fake.Fail(kratosauthtest.Raw(307, http.Header{"Location": {other.URL + "/relation-tuples/check/openapi"}}, nil))
	k := newClient(t, fake.URL, keto.WithAPIKey("key"), keto.WithHTTPClient(&http.Client{}))
	_, err := k.Check(context.Background(), doc)
	assert.ErrorIs(t, err, keto.ErrUnavailable)
	assert.Zero(t, elsewhere.Load())
}

func TestDecisionCache(t *testing.T) {
	fake := kratosauthtest.NewKeto(t)
	fake.Grant("Doc", "readme", "view", "alice")
	k := newClient(t, fake.URL, keto.WithAllowTTL(300*time.Millisecond))
	ctx := context.Background()
	check := func(tu keto.Tuple) bool {
		t.Helper()
		allowed, err := k.Check(ctx, tu)
		require.NoError(t, err)
		return allowed
	}

	assert.True(t, check(doc))
	assert.True(t, check(doc))
	assert.Equal(t, 1, fake.Calls(), "an allow is reused within its TTL")

	// Denials are not cached by default: a grant counts at once.
	bob := doc
	bob.SubjectID = "bob"
	assert.False(t, check(bob))
	fake.Grant("Doc", "readme", "view", "bob")
	assert.True(t, check(bob))
	assert.Equal(t, 3, fake.Calls())

	// The cached allow answers for that tuple only: a tuple that differs in
	// any one field is Keto's to decide.
	for _, other := range []keto.Tuple{
		{Namespace: "Group", Object: "readme", Relation: "view", SubjectID: "alice"},
		{Namespace: "Doc", Object: "secret", Relation: "view", SubjectID: "alice"},
		{Namespace: "Doc", Object: "readme", Relation: "edit", SubjectID: "alice"},
		{Namespace: "Doc", Object: "readme", Relation: "view", SubjectID: "carol"},
	} {
		assert.False(t, check(other), "%+v", other)
	}

	// Tuples whose fields differ but whose concatenations are equal are
	// different keys.
	assert.False(t, check(keto.Tuple{Namespace: "Doc", Object: "readm", Relation: "eview", SubjectID: "alice"}))

	// A revoked tuple is allowed until the TTL, counted from the question,
	// passes; then Keto decides again.
	fake.Revoke("Doc", "readme", "view", "alice")
	assert.True(t, check(doc), "cached")
	time.Sleep(350 * time.Millisecond)
	assert.False(t, check(doc))
}

func TestDenyTTL(t *testing.T) {
	fake := kratosauthtest.NewKeto(t)
	k := newClient(t, fake.URL, keto.WithAllowTTL(time.Minute), keto.WithDenyTTL(200*time.Millisecond))
	for range 3 {
		allowed, err := k.Check(context.Background(), doc)
		require.NoError(t, err)
		assert.False(t, allowed)
	}
	assert.Equal(t, 1, fake.Calls(), "a denial is reused within the deny TTL")
	fake.Grant("Doc", "readme", "view", "alice")
	time.Sleep(250 * time.Millisecond)
	allowed, err := k.Check(context.Background(), doc)
	require.NoError(t, err)
	assert.True(t, allowed, "the grant counts once the denial expired")
}

func TestConcurrentChecksShareOneCall(t *testing.T) {
	fake := kratosauthtest.NewKeto(t)
	fake.Grant("Doc", "readme", "view", "alice")
	fake.Fail(kratosauthtest.Slow(200 * time.Millisecond)) // answers normally, late
	k := newClient(t, fake.URL, keto.WithAllowTTL(0))
	var wg sync.WaitGroup
	var allowedN atomic.Int64
	for range 50 {
		wg.Go(func() {
			if ok, err := k.Check(context.Background(), doc); err == nil && ok {
				allowedN.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(50), allowedN.Load())
	assert.Equal(t, 1, fake.Calls())
}

// A caller that gives up gets its context's error at once; the call goes
// on for the others waiting on it.
func TestCallerGivesUp(t *testing.T) {
	fake := kratosauthtest.NewKeto(t)
	fake.Grant("Doc", "readme", "view", "alice")
	fake.Fail(kratosauthtest.Slow(300 * time.Millisecond))
	k := newClient(t, fake.URL)

	other := make(chan error, 1)
	go func() {
		ok, err := k.Check(context.Background(), doc)
		if err == nil && !ok {
			err = errors.New("denied")
		}
		other <- err
	}()
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	allowed, err := k.Check(ctx, doc)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, keto.ErrUnavailable)
	assert.False(t, allowed)
	assert.Less(t, time.Since(start), 200*time.Millisecond)
	require.NoError(t, <-other)
	assert.Equal(t, 1, fake.Calls())
}

func TestNewValidates(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:4466", "ftp://h", "http://", "http://u:p@h", "http://h?x=1", "http://h#f", "http://h:"} {
		_, err := keto.New(u)
		assert.Error(t, err, u)
	}
	for name, opts := range map[string][]keto.Option{
		"nil option":      {nil},
		"nil client":      {keto.WithHTTPClient(nil)},
		"zero timeout":    {keto.WithTimeout(0)},
		"zero body":       {keto.WithMaxResponseBytes(0)},
		"negative allow":  {keto.WithAllowTTL(-1)},
		"negative deny":   {keto.WithDenyTTL(-1)},
		"deny over allow": {keto.WithAllowTTL(time.Second), keto.WithDenyTTL(2 * time.Second)},
		"deny, no cache":  {keto.WithAllowTTL(0), keto.WithDenyTTL(time.Second)},
		"empty key":       {keto.WithAPIKey("")},
		"key with space":  {keto.WithAPIKey("a b")},
		"key with CRLF":   {keto.WithAPIKey("a\r\nX-Evil: 1")},
	} {
		_, err := keto.New("http://127.0.0.1:4466", opts...)
		assert.Error(t, err, name)
	}
	k, err := keto.New("https://slug.projects.oryapis.com/", keto.WithAPIKey("ory_pat_x"), keto.WithAllowTTL(time.Second), keto.WithDenyTTL(time.Second))
	require.NoError(t, err)
	k.Close()
}

// A cached decision costs no allocation (BenchmarkCheckCached).
func TestCachedCheckAllocatesNothing(t *testing.T) {
	fake := kratosauthtest.NewKeto(t)
	fake.Grant("Doc", "readme", "view", "alice")
	k := newClient(t, fake.URL, keto.WithAllowTTL(time.Hour))
	ctx := context.Background()
	_, err := k.Check(ctx, doc)
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = k.Check(ctx, doc) }))
}
