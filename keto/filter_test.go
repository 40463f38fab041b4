package keto_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth/keto"
	"github.com/kratosauth/kratosauth/kratosauthtest"
)

func TestFilterPermitted(t *testing.T) {
	fake := kratosauthtest.NewKeto(t)
	var objects []string
	for i := range 20 {
		objects = append(objects, fmt.Sprintf("doc-%d", i))
		if i%3 == 0 {
			fake.Grant("Doc", objects[i], "view", "alice")
		}
	}
	fake.Grant("Doc", "doc-1", "edit", "alice") // another relation
	fake.Grant("Doc", "doc-2", "view", "bob")   // another subject
	k := newClient(t, fake.URL, keto.WithAllowTTL(time.Minute), keto.WithDenyTTL(time.Minute))
	ctx := context.Background()

	asked := append(objects, "doc-3", "doc-4") // listed twice: returned as listed, asked once
	got, err := k.FilterPermitted(ctx, "Doc", "view", "alice", asked)
	require.NoError(t, err)
	assert.Equal(t, []string{"doc-0", "doc-3", "doc-6", "doc-9", "doc-12", "doc-15", "doc-18", "doc-3"}, got)
	assert.Equal(t, 20, fake.Calls(), "one check per distinct object")

	// The decisions are Check's, and Check's are FilterPermitted's.
	allowed, err := k.Check(ctx, keto.Tuple{Namespace: "Doc", Object: "doc-6", Relation: "view", SubjectID: "alice"})
	require.NoError(t, err)
	assert.True(t, allowed)
	allowed, err = k.Check(ctx, keto.Tuple{Namespace: "Doc", Object: "doc-99", Relation: "view", SubjectID: "alice"})
	require.NoError(t, err)
	assert.False(t, allowed)
	assert.Equal(t, 21, fake.Calls())
	got, err = k.FilterPermitted(ctx, "Doc", "view", "alice", []string{"doc-99", "doc-0", "doc-1"})
	require.NoError(t, err)
	assert.Equal(t, []string{"doc-0"}, got)
	assert.Equal(t, 21, fake.Calls(), "all three cached")

	got, err = k.FilterPermitted(ctx, "Doc", "view", "alice", nil)
	require.NoError(t, err)
	assert.NotNil(t, got)
	assert.Empty(t, got)
}

func TestFilterPermittedInvalid(t *testing.T) {
	fake := kratosauthtest.NewKeto(t)
	k := newClient(t, fake.URL)
	for _, args := range [][4]string{{"", "view", "alice", "a"}, {"Doc", "", "alice", "a"}, {"Doc", "view", "", "a"}, {"Doc", "view", "alice", ""}} {
		got, err := k.FilterPermitted(context.Background(), args[0], args[1], args[2], []string{"ok", args[3]})
		assert.ErrorIs(t, err, keto.ErrInvalidTuple, "%q", args)
		assert.Nil(t, got)
	}
	assert.Zero(t, fake.Calls())
}

// perObject is a Keto whose answer for an object is decide's.
func perObject(t *testing.T, decide func(object string) (status int, body string)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, body := decide(r.URL.Query().Get("object"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// One object Keto cannot answer for makes the whole list an error, never
// the list of the others; no check starts after the failure.
func TestFilterPermittedAllOrNothing(t *testing.T) {
	var calls atomic.Int64
	srv := perObject(t, func(object string) (int, string) {
		calls.Add(1)
		switch object {
		case "broken":
			return http.StatusInternalServerError, `{"error":{}}`
		case "garbled":
			return http.StatusOK, `{"allowed":true,"allowed":false}`
		}
		time.Sleep(5 * time.Millisecond)
		return http.StatusOK, `{"allowed":true}`
	})
	k := newClient(t, srv.URL, keto.WithMaxConcurrentChecks(2))
	for _, bad := range []string{"broken", "garbled"} {
		calls.Store(0)
		objects := []string{"a", bad}
		for i := range 50 {
			objects = append(objects, fmt.Sprintf("after-%d", i))
		}
		got, err := k.FilterPermitted(context.Background(), "Doc", "view", "alice", objects)
		assert.ErrorIs(t, err, keto.ErrUnavailable, bad)
		assert.Contains(t, err.Error(), bad)
		assert.Nil(t, got, bad)
		assert.Less(t, calls.Load(), int64(10), "%s: checks kept starting after the failure", bad)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	objects := make([]string, 100)
	for i := range objects {
		objects[i] = fmt.Sprintf("slow-%d", i)
	}
	got, err := k.FilterPermitted(ctx, "Doc", "view", "alice", objects)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, keto.ErrUnavailable)
	assert.Nil(t, got)
}

// At most WithMaxConcurrentChecks checks are in flight, and that many are.
func TestFilterPermittedBoundsConcurrency(t *testing.T) {
	var inFlight, peak atomic.Int64
	srv := perObject(t, func(string) (int, string) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(10 * time.Millisecond)
		return http.StatusOK, `{"allowed":false}`
	})
	k := newClient(t, srv.URL, keto.WithMaxConcurrentChecks(3))
	objects := make([]string, 30)
	for i := range objects {
		objects[i] = fmt.Sprintf("doc-%d", i)
	}
	got, err := k.FilterPermitted(context.Background(), "Doc", "view", "alice", objects)
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.Equal(t, int64(3), peak.Load())
}

func TestForget(t *testing.T) {
	fake := kratosauthtest.NewKeto(t)
	k := newClient(t, fake.URL, keto.WithAllowTTL(time.Hour))
	ctx := context.Background()
	check := func(object, subject string) bool {
		t.Helper()
		ok, err := k.Check(ctx, keto.Tuple{Namespace: "Doc", Object: object, Relation: "view", SubjectID: subject})
		require.NoError(t, err)
		return ok
	}
	for _, o := range []string{"a", "b"} {
		for _, s := range []string{"alice", "bob"} {
			fake.Grant("Doc", o, "view", s)
			require.True(t, check(o, s))
			fake.Revoke("Doc", o, "view", s) // cached: still allowed
		}
	}
	assert.True(t, check("a", "alice"))

	k.ForgetObject("Doc", "a")
	assert.False(t, check("a", "alice"))
	assert.False(t, check("a", "bob"))
	assert.True(t, check("b", "alice"), "another object's decisions stay")
	k.ForgetObject("Group", "b") // another namespace's object of the same name
	assert.True(t, check("b", "alice"))

	k.ForgetSubject("alice")
	assert.False(t, check("b", "alice"))
	assert.True(t, check("b", "bob"), "another subject's decisions stay")

	k.ForgetAll()
	assert.False(t, check("b", "bob"))
}

// A check in flight when Forget is called returns its answer but does not
// cache it, and a check started after Forget does not share its call.
func TestForgetFencesChecksInFlight(t *testing.T) {
	var allowed atomic.Bool
	allowed.Store(true)
	arrived := make(chan struct{}, 4)
	release := make(chan struct{})
	var calls atomic.Int64
	srv := perObject(t, func(string) (int, string) {
		calls.Add(1)
		answer := allowed.Load()
		arrived <- struct{}{}
		<-release
		return http.StatusOK, fmt.Sprintf(`{"allowed":%t}`, answer)
	})
	k := newClient(t, srv.URL, keto.WithAllowTTL(time.Hour))
	tu := keto.Tuple{Namespace: "Doc", Object: "a", Relation: "view", SubjectID: "alice"}
	var wg sync.WaitGroup
	var before, after bool
	wg.Go(func() { before, _ = k.Check(context.Background(), tu) })
	<-arrived // Keto has read the state: allowed
	allowed.Store(false)
	k.ForgetObject("Doc", "a")
	wg.Go(func() { after, _ = k.Check(context.Background(), tu) })
	select {
	case <-arrived: // a second call, not a share of the first
	case <-time.After(2 * time.Second):
		close(release)
		wg.Wait()
		t.Fatal("the check started after Forget shared the call made before it")
	}
	close(release)
	wg.Wait()
	assert.True(t, before)
	assert.False(t, after)
	again, err := k.Check(context.Background(), tu)
	require.NoError(t, err)
	assert.False(t, again, "the answer from before Forget was not cached")
	assert.Equal(t, int64(3), calls.Load(), "denials are not cached: the third check asked Keto")
}
