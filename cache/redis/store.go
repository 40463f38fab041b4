// Package rediscache is a kratosauth session cache (cache.Store and
// cache.IdentityIndex) in Redis 7 or Valkey, standalone or Cluster, shared
// by every replica of an app: a session is fetched from Kratos once for the
// fleet, and a logout, a refusal or an identity eviction on one replica is
// seen by all of them.
//
//	store, err := rediscache.New(os.Getenv("REDIS_URL")) // redis://127.0.0.1:6379/0
//	if err != nil { ... }
//	defer store.Close()
//	auth, err := kratosauth.New(kratosURL, kratosauth.WithCache(store))
//
// It is a module of its own, so that apps without Redis never download a
// Redis client. It uses github.com/redis/rueidis with server-assisted
// client-side caching (RESP3 CLIENT TRACKING): a cache hit is a read of
// this process's memory, and Redis tells every replica to drop its copy of
// a key that any replica writes, before it answers that write.
//
// Redis is never in the way of a request: every call is bounded by a short
// timeout (WithTimeout), a failure is a cache miss (kratosauth then asks
// Kratos, one call per credential at a time), and after a few failures in a
// row a circuit breaker answers at once without calling Redis while a
// background probe waits for Redis to come back. Failures are logged when
// the breaker opens and when it closes, not per request.
//
// # Keys
//
// Every key starts with the prefix (WithPrefix, "kratosauth:"). kratosauth's
// keys are hex SHA-256 digests of its namespace (Kratos URL, cookie name)
// and a credential; an entry is kratosauth's binary entry bytes, stored
// with a Lua script's SET ... PX, the entry's own lifetime. An identity's index is a
// sorted set under prefix+"idx:"+digest, whose members are the keys of the
// identity's sessions scored by their expiry; it expires with its last
// member. Every command names one key, and the index scripts touch only
// their index, so in a Cluster an identity's index and its sessions may
// live on different nodes: no hash tags, no cross-slot command.
//
// # Memory
//
// About 1 KB of Redis memory per cached session with its index member (see
// BENCHMARKS.md for the measurement); give Redis a maxmemory that holds
// every session cached within the TTL, with the noeviction policy: an
// evicting policy could drop a revocation's fence or an index hold before
// its time. Writes refused at maxmemory fail closed (a revocation returns
// an error; a session is not cached).
//
// # Fencing
//
// Every value starts with its key's fence (16 decimal digits, microseconds
// of Redis' clock) and the run_id of the Redis instance that wrote it.
// Begin, Put and Revoke are Lua scripts on the key, so Redis itself orders
// a cache write against the revocations of its key, on its own clock,
// whenever the write arrives; a ticket carries the server's run_id, which a
// restart or failover changes, so a ticket issued before Redis lost its
// fences is refused. A value is read only while its run_id is the key's
// node's: a Redis restarted from a snapshot, or a replica promoted before
// it received the latest writes, may hold entries whose revocation it lost.
package rediscache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/redis/rueidis"
	"golang.org/x/sync/singleflight"

	"github.com/kratosauth/kratosauth/cache"
)

// Store is a cache.Store and cache.IdentityIndex in Redis. Build it with
// New; it is safe for concurrent use. Close it after the Authenticators
// that use it (they do not close a store passed with WithCache).
type Store struct {
	conn       atomic.Pointer[rueidis.Client] // nil until Redis first answered
	co         rueidis.ClientOption
	cfg        config
	localCache bool
	written    writtenKeys
	epochs     epochs
	confirming singleflight.Group // currentEpoch's questions, by run_id
	breaker    *breaker
	add, take  *rueidis.Lua
	begin      *rueidis.Lua
	put        *rueidis.Lua
	revoke     *rueidis.Lua
}

var (
	_ cache.Store         = (*Store)(nil)
	_ cache.IdentityIndex = (*Store)(nil)
)

// ErrUnavailable is returned (wrapped) by every method while the circuit
// breaker is open: Redis failed several times in a row and has not answered
// a probe since. kratosauth treats it as a cache miss.
var ErrUnavailable = errors.New("rediscache: Redis unavailable (circuit open)")

// New returns a Store for the Redis at redisURL, connecting to it. The URL
// is redis://[user:password@]host:port[/db] (rediss:// for TLS); for a
// Cluster, name one or more nodes, e.g. redis://node1:6379?addr=node2:6379:
// the client discovers the others (a single address that is not a cluster
// node is used as a standalone server). New fails for a malformed URL or
// option, not when Redis is down: an app must start during a Redis outage,
// so the Store then starts unavailable (a WARN is logged) and connects when
// Redis answers, as after any outage.
func New(redisURL string, opts ...Option) (*Store, error) {
	cfg := config{
		prefix:       DefaultPrefix,
		timeout:      DefaultTimeout,
		localCacheMB: DefaultLocalCacheMB,
		maxIndexKeys: DefaultMaxIndexKeys,
		failures:     DefaultBreakerFailures,
		logger:       slog.Default(),
	}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("rediscache: nil Option")
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	co, err := rueidis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("rediscache: invalid Redis URL: %w", redactURL(err, redisURL))
	}
	co.DisableCache = cfg.localCacheMB == 0
	// One connection per node (rueidis pipelines concurrent calls on it):
	// a key's reads and writes then share a connection, whose replies and
	// invalidations Redis sends in order.
	co.PipelineMultiplex = -1
	co.CacheSizeEachConn = max(cfg.localCacheMB<<20, 1<<20)
	co.Dialer.Timeout = max(cfg.timeout, time.Second)
	// An idle connection is pinged every KeepAlive, and closed when the
	// answer takes longer than ConnWriteTimeout; its local cache goes with
	// it. A replica cut off from Redis (which then cannot tell it what
	// other replicas write) thus stops serving local copies within about
	// a second.
	co.Dialer.KeepAlive = 500 * time.Millisecond
	co.ConnWriteTimeout = max(5*cfg.timeout, 500*time.Millisecond)
	co.ClientName = "kratosauth"
	// A failed call is a cache miss, and Kratos answers: retrying within
	// the timeout would only make the request wait.
	co.DisableRetry = true
	for _, f := range cfg.clientOptions {
		f(&co)
	}
	s := &Store{
		co:         co,
		cfg:        cfg,
		localCache: !co.DisableCache,
		add:        rueidis.NewLuaScript(addScript),
		take:       rueidis.NewLuaScript(takeScript),
		begin:      rueidis.NewLuaScript(beginScript),
		put:        rueidis.NewLuaScript(putScript),
		revoke:     rueidis.NewLuaScript(revokeScript),
	}
	s.breaker = newBreaker(cfg.failures, cfg.logger, s.ping)
	if err := s.connect(); err != nil {
		s.breaker.trip(err)
	}
	return s, nil
}

// localTTL bounds how long a local copy is trusted; Redis' own expiry of the
// key (read with it) is usually shorter, and an invalidation ends it sooner.
const localTTL = time.Hour

// Get implements cache.Store: a copy of the entry, read from this process's
// memory when the key was read before and no replica changed it since.
func (s *Store) Get(key string) ([]byte, error) {
	if err := s.breaker.allow(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.timeout)
	defer cancel()
	k := s.cfg.prefix + key
	c := s.client()
	var res rueidis.RedisResult
	if s.localCache && !s.written.recent(k) {
		res = c.DoCache(ctx, c.B().Get().Key(k).Cache(), localTTL)
	} else {
		res = c.Do(ctx, c.B().Get().Key(k).Build())
	}
	v, err := res.ToString()
	if rueidis.IsRedisNil(err) {
		s.breaker.success()
		return nil, cache.ErrNotFound
	}
	if err != nil {
		s.failed(err)
		return nil, fmt.Errorf("rediscache: get: %w", err)
	}
	s.breaker.success()
	if len(v) < headerLen {
		return nil, fmt.Errorf("rediscache: get: a value of %d bytes is not one of ours", len(v))
	}
	switch current, err := s.currentEpoch(key, v[fenceLen:headerLen]); {
	case err != nil:
		return nil, err
	case !current:
		// Written by an instance that may have lost its revocation since.
		return nil, cache.ErrNotFound
	}
	// The reply may be the local cache's own copy: the caller gets its own.
	return bytes.Clone(unsafeBytes(v[headerLen:])), nil
}

// epochFresh is how long a run_id seen on a node is taken to be that
// node's: after a restart or a failover, values of the old instance may be
// read for this long at most. A check costs a round trip per node and run_id.
const epochFresh = 250 * time.Millisecond

// currentEpoch reports whether epoch is the run_id of key's node, asking
// the node (Begin) unless it said so within epochFresh.
func (s *Store) currentEpoch(key, epoch string) (bool, error) {
	if s.epochs.isFresh(epoch) {
		return true, nil
	}
	// One question per run_id at a time: every local hit of a node's keys
	// needs it when the answer goes stale.
	current, err, _ := s.confirming.Do(epoch, func() (any, error) {
		t, err := s.Begin(key)
		return t.Epoch, err
	})
	if err != nil {
		return false, err
	}
	return current.(string) == epoch, nil
}

// epochs are the run_ids nodes reported (Begin), with when (monotonic):
// known for an hour, fresh for epochFresh. A run_id not known before is a
// node that restarted or failed over (or one not asked yet): every other
// run_id must then be confirmed again before its values are read, since
// this process cannot tell which node's run_id the new one replaced.
type epochs struct {
	mu           sync.Mutex
	origin       time.Time
	known, fresh map[string]time.Duration
}

const epochKnown = time.Hour

func (e *epochs) now() time.Duration {
	if e.origin.IsZero() {
		e.origin = time.Now()
	}
	return time.Since(e.origin)
}

func (e *epochs) saw(epoch string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	if e.known == nil {
		e.known, e.fresh = make(map[string]time.Duration), make(map[string]time.Duration)
	}
	if _, ok := e.known[epoch]; !ok {
		clear(e.fresh)
		for k, at := range e.known {
			if now-at >= epochKnown {
				delete(e.known, k)
			}
		}
	}
	e.known[epoch] = now
	e.fresh[epoch] = now
}

func (e *epochs) isFresh(epoch string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	at, ok := e.fresh[epoch]
	return ok && e.now()-at < epochFresh
}

// Begin implements cache.Store: Redis' clock and instance (its run_id, new
// after a restart or a failover) from the node that holds key.
func (s *Store) Begin(key string) (cache.Ticket, error) {
	var t cache.Ticket
	err := s.do("begin", func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
		res := s.begin.Exec(ctx, c, []string{s.cfg.prefix + key}, nil)
		if v, err := res.ToArray(); err == nil && len(v) == 2 {
			t.Epoch, _ = v[0].ToString()
			us, _ := v[1].AsInt64()
			t.At = us * int64(time.Microsecond)
		}
		return res
	})
	if err == nil && (len(t.Epoch) != epochLen || t.At <= 0) {
		err = errors.New("rediscache: begin: malformed reply")
	}
	if err == nil {
		s.epochs.saw(t.Epoch)
	}
	return t, err
}

// Put implements cache.Store with one script on key: Redis checks the
// ticket against its own clock, instance and key's fence, and writes.
func (s *Store) Put(key string, entry []byte, ttl time.Duration, t cache.Ticket, maxAge time.Duration) error {
	k := s.cfg.prefix + key
	s.wrote(k)
	var n int64
	err := s.do("put", func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
		res := s.put.Exec(ctx, c, []string{k}, []string{
			rueidis.BinaryString(entry), millis(ttl), t.Epoch,
			strconv.FormatInt(t.At/int64(time.Microsecond), 10), strconv.FormatInt(maxAge.Microseconds(), 10)})
		n, _ = res.AsInt64()
		return res
	})
	if err == nil && n != 1 {
		return cache.ErrFenced
	}
	return err
}

// Revoke implements cache.Store with one script on key.
func (s *Store) Revoke(key string, marker []byte, ttl, fence time.Duration) error {
	k := s.cfg.prefix + key
	s.wrote(k)
	return s.do("revoke", func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
		return s.revoke.Exec(ctx, c, []string{k}, []string{
			rueidis.BinaryString(marker), millis(max(ttl, fence)), strconv.FormatInt(fence.Microseconds(), 10)})
	})
}

func millis(d time.Duration) string { return strconv.FormatInt(max(d.Milliseconds(), 1), 10) }

// wrote makes this process read k from Redis, not from its local copy, for
// a while after writing it: Redis invalidates that copy with a message it
// may send after the write's reply, so the next read could otherwise beat
// it. Other replicas' copies are invalidated by the same kind of message,
// within its network delay (BENCHMARKS.md).
func (s *Store) wrote(k string) {
	if s.localCache {
		s.written.add(k)
	}
}

// AddToIndex implements cache.IdentityIndex with one script on the index's
// key (atomic; Redis' own clock decides expiries).
func (s *Store) AddToIndex(index, key string, ttl time.Duration) error {
	if key == heldMember {
		return fmt.Errorf("rediscache: %q cannot be indexed", key)
	}
	var n int64
	err := s.do("index add", func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
		res := s.add.Exec(ctx, c, []string{s.cfg.prefix + "idx:" + index},
			[]string{key, strconv.FormatInt(max(ttl.Milliseconds(), 1), 10), strconv.Itoa(s.cfg.maxIndexKeys)})
		n, _ = res.AsInt64()
		return res
	})
	switch {
	case err != nil:
		return err
	case n == -1:
		return cache.ErrIndexHeld
	case n == -2:
		return cache.ErrIndexFull
	}
	return nil
}

// TakeIndex implements cache.IdentityIndex with one script on the index's key.
func (s *Store) TakeIndex(index string, hold time.Duration) ([]string, error) {
	var keys []string
	err := s.do("index take", func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
		res := s.take.Exec(ctx, c, []string{s.cfg.prefix + "idx:" + index},
			[]string{strconv.FormatInt(max(hold.Milliseconds(), 0), 10)})
		keys, _ = res.AsStrSlice()
		return res
	})
	return keys, err
}

// Claim implements cache.Claimer with SET NX PX on prefix+"claim:"+key:
// one replica of a fleet wins, on Redis' clock.
func (s *Store) Claim(key string, ttl time.Duration) (bool, error) {
	if err := s.breaker.allow(); err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.timeout)
	defer cancel()
	c := s.client()
	err := c.Do(ctx, c.B().Set().Key(s.cfg.prefix+"claim:"+key).Value("1").Nx().PxMilliseconds(max(ttl.Milliseconds(), 1)).Build()).Error()
	if rueidis.IsRedisNil(err) { // not set: held by another
		s.breaker.success()
		return false, nil
	}
	if err != nil {
		s.failed(err)
		return false, fmt.Errorf("rediscache: claim: %w", err)
	}
	s.breaker.success()
	return true, nil
}

// Close stops the breaker's probe and closes the connections.
func (s *Store) Close() error {
	s.breaker.close()
	if c := s.conn.Load(); c != nil {
		(*c).Close()
	}
	return nil
}

// do runs one command within the timeout, through the breaker.
func (s *Store) do(what string, cmd func(context.Context, rueidis.Client) rueidis.RedisResult) error {
	if err := s.breaker.allow(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.timeout)
	defer cancel()
	if err := cmd(ctx, s.client()).Error(); err != nil {
		s.failed(err)
		return fmt.Errorf("rediscache: %s: %w", what, err)
	}
	s.breaker.success()
	return nil
}

// failed counts err against the breaker unless Redis answered it: an error
// reply (a Redis at maxmemory refusing writes, say) is quick, and reads
// still work, so it is no reason to stop calling Redis.
func (s *Store) failed(err error) {
	if _, answered := rueidis.IsRedisErr(err); answered {
		s.breaker.success()
		return
	}
	s.breaker.failure(err)
}

// connect makes the client; rueidis dials (and learns a Cluster's nodes)
// when it is made.
func (s *Store) connect() error {
	c, err := rueidis.NewClient(s.co)
	if err != nil {
		return fmt.Errorf("connecting to Redis: %w", err)
	}
	s.conn.Store(&c)
	return nil
}

// ping is the breaker's probe: Redis answers, or the client can be made.
func (s *Store) ping(ctx context.Context) error {
	c := s.conn.Load()
	if c == nil {
		return s.connect()
	}
	return (*c).Do(ctx, (*c).B().Ping().Build()).Error()
}

// client is the connected client; the breaker is open until there is one.
func (s *Store) client() rueidis.Client { return *s.conn.Load() }

// heldMember marks a held index; kratosauth's keys are hex, never this.
const heldMember = "!held"

// addScript: KEYS[1] index; ARGV key, ttl ms, max keys. Returns 1, or -1
// while held, or -2 when full. Expired members (and an ended hold) are
// dropped first, so they never count against the bound. The index lives as
// long as its longest-lived member.
const addScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local held = redis.call('ZSCORE', KEYS[1], '!held')
if held and tonumber(held) > now then return -1 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ttl = tonumber(ARGV[2])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return -2 end
redis.call('ZADD', KEYS[1], 'GT', now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1`

// takeScript: KEYS[1] index; ARGV hold ms. Drops the expired members and
// returns the others, which stay (a retry after failed revocations finds
// them again), and holds the index until the later of this hold and an
// earlier one; the index lives at least as long as its hold.
const takeScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local held = tonumber(redis.call('ZSCORE', KEYS[1], '!held') or 0)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local keys = redis.call('ZRANGE', KEYS[1], '(' .. now, '+inf', 'BYSCORE')
local hold = math.max(now + tonumber(ARGV[1]), held) - now
if hold > 0 then
  redis.call('ZADD', KEYS[1], now + hold, '!held')
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl >= 0 and ttl < hold or ttl == -1 then redis.call('PEXPIRE', KEYS[1], hold) end
end
local out = {}
for _, k in ipairs(keys) do if k ~= '!held' then out[#out + 1] = k end end
return out`

// A value is its key's fence, in microseconds of Redis' clock as fenceLen
// decimal digits, the run_id of the instance that wrote it (epochLen hex
// digits), then the entry or marker.
const (
	fenceLen  = 16
	epochLen  = 40
	headerLen = fenceLen + epochLen
)

// fenceLua is the scripts' shared part: now (microseconds of Redis' clock)
// and, from KEYS[1]'s value, its fence (0 without one) and remaining ttl.
// A value that is not ours has an unknown fence: the maximum, so that no
// write lands on it.
const fenceLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local old = redis.call('GET', KEYS[1])
local fence = 0
if old then fence = tonumber(string.sub(old, 1, 16)) or 9e15 end
local keep = redis.call('PTTL', KEYS[1])
`

// beginScript: KEYS[1] the key (it only routes the call to the key's node).
// Returns the node's run_id and now.
const beginScript = `
local t = redis.call('TIME')
local id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
return {id, tonumber(t[1]) * 1000000 + tonumber(t[2])}`

// putScript: KEYS[1] key; ARGV entry, ttl ms, ticket's run_id, ticket's
// time (µs), max age (µs). Writes and returns 1 when the ticket is of this
// instance, no older than max age, and later than the key's fence; returns
// 0 otherwise. The fence is kept, and so is a longer remaining ttl; the
// value carries the run_id.
const putScript = fenceLua + `
local at = tonumber(ARGV[4])
if string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') ~= ARGV[3] then return 0 end
if at > now or now - at > tonumber(ARGV[5]) or at <= fence then return 0 end
redis.call('SET', KEYS[1], string.format('%016d', fence) .. ARGV[3] .. ARGV[1], 'PX', math.max(tonumber(ARGV[2]), keep))
return 1`

// revokeScript: KEYS[1] key; ARGV marker, ttl ms, fence µs from now.
// Writes the marker with the later of the key's fence and now + fence, and
// this instance's run_id, kept for the longer of ttl and the remaining one.
const revokeScript = fenceLua + `
fence = math.max(fence, now + tonumber(ARGV[3]))
local id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
redis.call('SET', KEYS[1], string.format('%016d', fence) .. id .. ARGV[1], 'PX', math.max(tonumber(ARGV[2]), keep))
return 1`

// unsafeBytes views s without copying; the caller copies before handing it out.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// writtenFor is how long reads of a key this process wrote bypass its local
// copy: far longer than an invalidation message takes to arrive (sub-
// millisecond, tens of milliseconds on an overloaded machine), short enough
// that a busy key is soon read locally again.
const writtenFor = time.Second

// writtenKeys are the keys written in the last writtenFor, with when.
type writtenKeys struct {
	mu    sync.RWMutex
	m     map[string]int64
	prune int64 // next time expired keys are dropped
}

func (w *writtenKeys) add(k string) {
	now := time.Now().UnixNano()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = make(map[string]int64)
	}
	if now >= w.prune {
		for key, until := range w.m {
			if now >= until {
				delete(w.m, key)
			}
		}
		w.prune = now + int64(writtenFor)
	}
	w.m[k] = now + int64(writtenFor)
}

func (w *writtenKeys) recent(k string) bool {
	w.mu.RLock()
	until, ok := w.m[k]
	w.mu.RUnlock()
	return ok && time.Now().UnixNano() < until
}
