// Package revocation is the revocation explorer: a seeded search for
// interleavings and faults in which a fleet of replicas keeps serving a
// session after it was revoked. It holds tests only, in a module of its
// own (it needs the Redis store and a Redis client; the library never
// imports it).
//
// # The invariant
//
// Once a revocation has taken effect, no request that starts afterwards,
// on any replica, is admitted unless Kratos admits the credential again.
//
// A revocation takes effect when a library call reporting it returns
// success (Invalidate or InvalidateIdentity returns nil, the webhook
// answers 2xx), or when the store records a refusal of a credential Kratos
// has revoked. A logout whose Invalidate fails stops there, as an app that
// answers 503 does: Kratos keeps the session, and nothing was promised. Kratos never admits a revoked session again, so any
// admission of a request that started after that moment is a violation.
// The converse is checked too: a session Kratos never revoked is never
// refused as logged out (unavailable is allowed, under faults).
//
// A request that starts while its replica has a whoami call under way for
// the same credential shares that call; when Kratos fixed the call's answer
// before the revocation, the request must not be admitted by it either.
//
// One thing the invariant excuses: with rueidis' client-side cache, a
// replica whose link from Redis is held cannot hear Redis' invalidation
// messages; an admission there is excused while the hold spans the whole
// time from the revocation to the request (the store documents the
// message's network delay as its bound).
//
// # The fleet
//
// Two to four replicas, each a kratosauth.Authenticator built with the
// public options, share one store: a cache.BigCache (mode mem), or a real
// redis-server with one rediscache.Store per replica, each through its own
// fault proxy, with rueidis' client-side cache off (redis) or on
// (redis-local). Every replica's store is wrapped in a spy that counts
// calls under way and records revocation writes; every replica's whoami
// goes to one fake Kratos, which parks each call until the scheduler has
// it evaluated (the answer is fixed from the sessions' state then) and
// delivered (possibly after a revocation).
//
// # Schedules
//
// A seed (math/rand/v2's PCG) draws the fleet's shape and its steps:
// requests, evaluations and deliveries of parked calls, logouts
// (Invalidate, then Kratos revokes), identity evictions and webhook calls
// (Kratos revokes first), Kratos-side revocations, waits past every TTL,
// and Redis faults: a command held before Redis runs it, a reply held
// after (from now, or from the next write on), connections cut, a replica
// refused until its circuit breaker opens, Redis restarted empty. After
// each step the scheduler waits until nothing moves but what it controls.
// The schedule ends with every fault healed and every credential asked for
// on every replica.
//
// A failure prints the seed and the schedule. Replay it, from this
// directory:
//
//	go test -run TestExplore -seed 95 -mode mem
//	go test -run TestExplore -schedule "mode=mem replicas=3 negative=on: req r0 A1; ..."
//
// (-v prints the transcript of a passing replay too). go test runs the
// regression schedules (TestRegressions) and a few seeds per store and
// profile (EXPLORE_SCHEDULES, default 3); scripts/explore.sh DURATION runs
// random seeds for longer.
package revocation
