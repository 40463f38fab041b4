package rediscache_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"testing"
	"time"

	rediscache "github.com/kratosauth/kratosauth/cache/redis"
	"github.com/kratosauth/kratosauth/internal/testing/redistest"
)

// TestExploreRevocationList lets seeded schedules of revocations, Redis
// stalls (SIGSTOP) and cuts between the downstream service and Redis (its
// connection frozen while the edge still writes), each up to 2.5 s, try to
// break the list's
// invariant, the one SECURITY.md states for early revocation: a session
// whose revocation Redis acknowledged at T is, from T + maxLag on, either
// reported revoked or the list says it cannot tell; never "not revoked".
// A second list started in the middle of the schedule is held to the same
// rule. Failing seeds become regressions here.
func TestExploreRevocationList(t *testing.T) {
	if testing.Short() {
		t.Skip("stalls Redis for seconds")
	}
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { exploreRevocationList(t, seed) })
	}
}

func exploreRevocationList(t *testing.T, seed uint64) {
	const maxLag = time.Second
	rds := redistest.Start(t)
	edge := newStore(t, rds.URL)
	cut := newFreezingProxy(t, rds.Addr) // the downstream side's way to Redis
	lists := []*rediscache.RevocationList{newStore(t, "redis://"+cut.addr).NewRevocationList(maxLag)}
	t.Cleanup(func() {
		for _, l := range lists {
			l.Close()
		}
	})
	rng := rand.New(rand.NewPCG(seed, 7))
	acked := map[string]time.Time{} // sid -> when Redis acknowledged its revocation
	check := func() {
		for i, l := range lists {
			for sid, at := range acked {
				if time.Since(at) < maxLag+200*time.Millisecond {
					continue
				}
				if revoked, err := l.Revoked(sid); err == nil && !revoked {
					t.Fatalf("seed %d: list %d says %s is not revoked %s after Redis acknowledged it", seed, i, sid, time.Since(at).Round(time.Millisecond))
				}
			}
		}
	}
	end := time.Now().Add(4 * time.Second)
	for n := 0; time.Now().Before(end); n++ {
		switch op := rng.IntN(10); {
		case op < 6:
			sid := fmt.Sprintf("s-%d-%d", seed, n)
			if err := edge.RevokeSession(context.Background(), sid, time.Now().Add(time.Hour)); err == nil {
				acked[sid] = time.Now()
			}
		case op < 7:
			stall := time.Duration(rng.IntN(2500)) * time.Millisecond
			cutOff := rng.IntN(3) > 0
			if cutOff {
				cut.freeze(true)
			} else {
				rds.Pause()
			}
			deadline := time.Now().Add(stall)
			for time.Now().Before(deadline) {
				if cutOff && rng.IntN(2) == 0 { // the edge goes on revoking
					sid := fmt.Sprintf("s-%d-%d-cut", seed, n)
					if err := edge.RevokeSession(context.Background(), sid, time.Now().Add(time.Hour)); err == nil {
						acked[sid] = time.Now()
					}
				}
				check()
				time.Sleep(50 * time.Millisecond)
			}
			if cutOff {
				cut.freeze(false)
			} else {
				rds.Resume()
			}
		case op < 8 && len(lists) == 1:
			lists = append(lists, newStore(t, "redis://"+cut.addr).NewRevocationList(maxLag))
		default:
			time.Sleep(time.Duration(rng.IntN(100)) * time.Millisecond)
		}
		check()
	}
	time.Sleep(maxLag + 300*time.Millisecond)
	check()
}

// freezingProxy forwards TCP connections to Redis and, while frozen,
// holds every byte in both directions: a network cut that TCP does not
// notice.
type freezingProxy struct {
	addr   string
	frozen atomic.Bool
}

func newFreezingProxy(t *testing.T, target string) *freezingProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezingProxy{addr: l.Addr().String()}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			conns = append(conns, c, up)
			go p.pipe(c, up)
			go p.pipe(up, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return p
}

func (p *freezingProxy) freeze(on bool) { p.frozen.Store(on) }

func (p *freezingProxy) pipe(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for p.frozen.Load() {
			time.Sleep(5 * time.Millisecond)
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
