package kratosjwt_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kratosauth/kratosauth"
	"github.com/kratosauth/kratosauth/internal/testing/jwtkit"
	kratosjwt "github.com/kratosauth/kratosauth/jwtverify"
)

// An attacker's unknown kid spends the read that the rate limit allows;
// Kratos then rotates in a key. A genuine token of that key, within the
// rate-limit window, is not refused as invalid (the key may exist: the
// JWKS was read before the token was asked about): it is unavailable,
// with the time to the next read, and verifies once the window is over.
func TestRotationRightAfterAnUnknownKidIsNotRefused(t *testing.T) {
	t.Parallel()               // mostly sleeping through windows
	const window = time.Second // long enough for the steps inside it on a busy machine
	old, rotated := jwtkit.NewES256("old"), jwtkit.NewES256("rotated")
	srv := newJWKSServer(t, jwtkit.PublicJWKS(old))
	v := newVerifier(t, srv.URL, kratosjwt.WithMinRefreshInterval(window), kratosjwt.WithRefreshInterval(time.Hour))
	_, err := v.Verify(context.Background(), old.Sign(claims(time.Minute)))
	require.NoError(t, err)
	time.Sleep(window + 50*time.Millisecond)

	attacker := jwtkit.NewES256("attacker").Sign(claims(time.Minute))
	_, err = v.Verify(context.Background(), attacker)
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession, "asked before the read started: the read proves it absent")
	require.Equal(t, int64(2), srv.reads.Load())

	srv.set(jwtkit.PublicJWKS(rotated, old), http.StatusOK)
	genuine := rotated.Sign(claims(time.Minute))
	_, err = v.Verify(context.Background(), genuine)
	require.ErrorIs(t, err, kratosauth.ErrUnavailable, "a key that may exist is never a 401")
	var e *kratosauth.Error
	require.ErrorAs(t, err, &e)
	assert.Positive(t, e.RetryAfter)
	assert.LessOrEqual(t, e.RetryAfter, time.Second, "the window's rest, in whole seconds")
	_, err = v.Verify(context.Background(), attacker)
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession, "still proven absent: 401 without a read")
	assert.Equal(t, int64(2), srv.reads.Load(), "no read within the window")

	time.Sleep(window)
	_, err = v.Verify(context.Background(), genuine)
	assert.NoError(t, err)
	assert.Equal(t, int64(3), srv.reads.Load())
	_, err = v.Verify(context.Background(), attacker)
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession, "absent from the new read as well: still a 401")
	assert.Equal(t, int64(3), srv.reads.Load())
}

// Through the middleware, an unknown kid within the window is a 503 with
// Retry-After, and is not logged as a JWKS failure: an attacker's kids
// would otherwise make one WARN line each. A JWKS that cannot be read
// still is logged.
func TestUnknownKidWithinTheWindowIsA503WithoutLog(t *testing.T) {
	key := jwtkit.NewES256("k1")
	srv := newJWKSServer(t, jwtkit.PublicJWKS(key))
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	v := newVerifier(t, srv.URL, kratosjwt.WithLogger(logger), kratosjwt.WithMinRefreshInterval(time.Minute), kratosjwt.WithRefreshInterval(time.Hour))
	h := v.Middleware(http.NotFoundHandler())
	serve := func(token string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/orders", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	assert.Equal(t, http.StatusNotFound, serve(key.Sign(claims(time.Minute))).Code, "verified, on to the handler")
	attacker := jwtkit.NewES256("evil")
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			tok := attacker.SignWithHeader(map[string]any{"alg": "ES256", "kid": fmt.Sprintf("evil-%d", i)}, claims(time.Minute))
			w := serve(tok)
			assert.Equal(t, http.StatusServiceUnavailable, w.Code)
			assert.Equal(t, "60", w.Header().Get("Retry-After"))
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1), srv.reads.Load(), "200 random kids within the window: no read")
	mu.Lock()
	assert.Empty(t, logs.String())
	mu.Unlock()

	srv.set(nil, http.StatusBadGateway)
	down := newVerifier(t, srv.URL, kratosjwt.WithLogger(logger))
	assert.Equal(t, http.StatusServiceUnavailable, func() int {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/orders", nil)
		r.Header.Set("Authorization", "Bearer "+key.Sign(claims(time.Minute)))
		down.Middleware(http.NotFoundHandler()).ServeHTTP(w, r)
		return w.Code
	}())
	mu.Lock()
	assert.Contains(t, logs.String(), "JWKS unavailable")
	mu.Unlock()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// A kid asked about within the window (503) is proven absent by the next
// read, whoever causes it: a client holding a token of a removed key gets
// its 401 after at most one window, not a 503 at every other request.
func TestKidAskedWithinTheWindowIsSettledByTheNextRead(t *testing.T) {
	t.Parallel() // mostly sleeping through windows
	const window = 500 * time.Millisecond
	key := jwtkit.NewES256("k1")
	srv := newJWKSServer(t, jwtkit.PublicJWKS(key))
	v := newVerifier(t, srv.URL, kratosjwt.WithMinRefreshInterval(window), kratosjwt.WithRefreshInterval(time.Hour))
	_, err := v.Verify(context.Background(), jwtkit.NewES256("a").Sign(claims(time.Minute)))
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)
	removed := jwtkit.NewES256("removed").Sign(claims(time.Minute))
	_, err = v.Verify(context.Background(), removed)
	assert.ErrorIs(t, err, kratosauth.ErrUnavailable, "within the window")

	time.Sleep(window + 20*time.Millisecond)
	_, err = v.Verify(context.Background(), jwtkit.NewES256("b").Sign(claims(time.Minute)))
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)
	_, err = v.Verify(context.Background(), removed)
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession, "asked before the read that b caused")
	assert.Equal(t, int64(2), srv.reads.Load())

	// Not asked between the next two reads: proven absent by the read
	// before them, so by them as well.
	for _, other := range []string{"c", "d"} {
		time.Sleep(window + 20*time.Millisecond)
		_, err = v.Verify(context.Background(), jwtkit.NewES256(other).Sign(claims(time.Minute)))
		assert.ErrorIs(t, err, kratosauth.ErrInvalidSession)
	}
	_, err = v.Verify(context.Background(), removed)
	assert.ErrorIs(t, err, kratosauth.ErrInvalidSession, "proven absent by an earlier read")
	assert.Equal(t, int64(4), srv.reads.Load())
}

// TestUnknownKidExplorer: seeded workers mix genuine tokens of keys that
// Kratos keeps rotating in, an attacker's random kids and repeated ones.
// Invariants:
//
//   - a token whose key the JWKS listed before Verify was called is never
//     refused as invalid (401);
//   - the JWKS is read at most once per window for unknown kids (the
//     refresh interval is an hour: no periodic read);
//   - once the flood stops and a window passes, every key verifies.
//
// Failing seeds are kept in the list as regressions.
func TestUnknownKidExplorer(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 20261203} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { exploreUnknownKids(t, seed) })
	}
}

func exploreUnknownKids(t *testing.T, seed uint64) {
	const (
		window  = 40 * time.Millisecond
		run     = 300 * time.Millisecond
		workers = 3
	)
	keys := make([]*jwtkit.Key, 6)
	for i := range keys {
		keys[i] = jwtkit.NewES256(fmt.Sprintf("k%d", i))
	}
	srv := newJWKSServer(t, jwtkit.PublicJWKS(keys[0]))
	var published atomic.Int32 // keys[:published] are listed by the JWKS
	published.Store(1)
	v := newVerifier(t, srv.URL, kratosjwt.WithMinRefreshInterval(window), kratosjwt.WithRefreshInterval(time.Hour))
	repeated := jwtkit.NewES256("repeated").Sign(claims(time.Minute))

	start := time.Now()
	var rotate sync.Mutex
	var wg sync.WaitGroup
	for w := range workers {
		rng := rand.New(rand.NewPCG(seed, uint64(w)))
		wg.Go(func() {
			for time.Since(start) < run {
				switch n := rng.IntN(10); {
				case n == 0: // Kratos rotates a key in
					rotate.Lock()
					if p := int(published.Load()); p < len(keys) {
						srv.set(jwtkit.PublicJWKS(keys[:p+1]...), http.StatusOK)
						published.Store(int32(p + 1))
					}
					rotate.Unlock()
				case n <= 4: // a genuine token of a published key
					k := keys[rng.IntN(int(published.Load()))]
					_, err := v.Verify(context.Background(), k.Sign(claims(time.Minute)))
					if err != nil {
						assert.ErrorIs(t, err, kratosauth.ErrUnavailable, "seed %d: key %s was published before the request", seed, k.KID)
					}
				case n <= 8: // an attacker's fresh kid
					kid := fmt.Sprintf("evil-%d", rng.Uint64())
					_, err := v.Verify(context.Background(), jwtkit.NewES256(kid).Sign(claims(time.Minute)))
					assert.Error(t, err)
				default:
					_, err := v.Verify(context.Background(), repeated)
					assert.Error(t, err)
				}
				time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	bound := int64(elapsed/window) + 2 // the first read, and one per window since
	assert.LessOrEqual(t, srv.reads.Load(), bound, "seed %d: JWKS reads in %s", seed, elapsed)

	time.Sleep(window + 10*time.Millisecond)
	for _, k := range keys[:published.Load()] {
		_, err := v.Verify(context.Background(), k.Sign(claims(time.Minute)))
		assert.NoError(t, err, "seed %d: key %s after the flood", seed, k.KID)
	}
}
