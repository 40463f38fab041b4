// Package redisbench measures the Redis store (cache/redis) for
// BENCHMARKS.md: what a cache hit costs with rueidis' client-side cache,
// with a round trip to Redis (rueidis and go-redis, the client it was
// chosen against), and with the default in-process store; how many whoami
// calls a fleet of replicas makes per session; and how much Redis memory a
// cached session takes. It is a module of its own so that the comparison's
// go-redis is nobody's dependency.
//
//	go test -run '^$' -bench . -benchmem -count 6 .      # hit costs
//	go test -run 'Fleet|Memory' -v .                     # the two tables
//	MEMORY_SESSIONS=100000 go test -run Memory -v .      # more sessions
package redisbench
