#!/usr/bin/env bash
# Performance check of kratosauth (`make bench`); method and results in
# BENCHMARKS.md.
#
#   1. Go benchmarks of the request path (-benchmem, BENCH_COUNT runs each),
#      summarised by benchstat: cache hit vs the bare handler (serial and in
#      parallel), cache miss vs the raw whoami round trip, entry decoding,
#      memory and GC with 100,000 cached sessions, Traits; the cost of a hit
#      over bare in wall time (medians, min-max) and in CPU time (which
#      other work on the machine inflates much less), and a CPU profile of
#      a hit; then the Redis store's (bench/redis, REDIS_BENCH_COUNT runs)
#      and the gRPC interceptor's (adapters/grpc, BENCH_COUNT runs).
#   2. Load over loopback, every case in one run: a real Kratos v1.3.1
#      (scripts/kratos.sh on KRATOS_PUBLIC_PORT/KRATOS_ADMIN_PORT, default
#      4533/4534, so it does not clash with `make demo` on 4433), a
#      registered user's browser session cookie, and
#        - the three example apps (examples/nethttp, chi, gin, unchanged),
#          GET /api/me with the cached session;
#        - bench/bare for each: the same app, /api/me without RequireSession
#          writing the same JSON (the bare case of that framework); for chi
#          also without the example's otelhttp handler (bare-chi-nootel),
#          which shows what that costs, outside the library;
#        - bench/naive: per-request whoami, as samples online do it;
#        - Ory Oathkeeper v0.40.9 (scripts/oathkeeper.sh build), its
#          cookie_session authenticator in front of net/http's bare app.
#      wrk runs LOAD_RUNS times for LOAD_SECONDS per case at each of
#      LOAD_CONNS connections, the cases interleaved (run 1 of every case,
#      then run 2, ...); a case's ratio is taken run by run against its
#      bare case's run just before it. Printed: median req/s and min-max,
#      median ratio and min-max, p50/p99 (medians), errors, new TIME_WAIT
#      sockets on Kratos' port per run.
#
# Environment (defaults): BENCH_COUNT=8 REDIS_BENCH_COUNT=6 LOAD_SECONDS=2 LOAD_RUNS=7
#   LOAD_CONNS="1 8 64" SKIP_GO=0 SKIP_LOAD=0 USERS=16 (for the -mu cases)
#   LOAD_CASES="bare-nethttp nethttp naive oathkeeper bare-chi chi bare-chi-nootel
#   bare-gin gin"
#   plus, on request, bench/server's cases (its own bare): server-bare cached
#   nocache nocache-mu naive-mu (-mu: USERS users' cookies in turn).
#   Ports: APP_PORT=4555 (bench/server) NAIVE_PORT=4556 EXAMPLE_PORTS=4561-4563
#   BARE_PORTS=4571-4574 OATHKEEPER_PORTS=4581-4583 (proxy, api, metrics).
#   CPU_OPS=2000000 (iterations of a CPU-time measurement)
# Output: bench/out/ (go.txt, benchstat.txt, hit.txt, cpu.tsv, hit-profile.txt,
# load.tsv, load.txt, wrk logs, server logs).
# Everything listens on 127.0.0.1, every load run is bounded, every server
# started here also exits by itself after a bound, and everything started
# here is stopped on exit.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BENCH_COUNT="${BENCH_COUNT:-8}"
REDIS_BENCH_COUNT="${REDIS_BENCH_COUNT:-6}"
LOAD_SECONDS="${LOAD_SECONDS:-2}"
LOAD_RUNS="${LOAD_RUNS:-7}"
LOAD_CONNS="${LOAD_CONNS:-1 8 64}"
LOAD_CASES="${LOAD_CASES:-bare-nethttp nethttp naive oathkeeper bare-chi chi bare-chi-nootel bare-gin gin}"
SKIP_GO="${SKIP_GO:-0}"
SKIP_LOAD="${SKIP_LOAD:-0}"
USERS="${USERS:-16}"
APP_PORT="${APP_PORT:-4555}"
NAIVE_PORT="${NAIVE_PORT:-4556}"
EX_NETHTTP_PORT=4561 EX_CHI_PORT=4562 EX_GIN_PORT=4563
BARE_NETHTTP_PORT=4571 BARE_CHI_PORT=4572 BARE_GIN_PORT=4573 BARE_CHI_NOOTEL_PORT=4574
OK_PROXY_PORT=4581 OK_API_PORT=4582 OK_METRICS_PORT=4583
export KRATOS_PUBLIC_PORT="${KRATOS_PUBLIC_PORT:-4533}"
export KRATOS_ADMIN_PORT="${KRATOS_ADMIN_PORT:-4534}"
export KRATOS_RUN_DIR="$ROOT/bench/out/kratos"
export KRATOS_LOG="$KRATOS_RUN_DIR/kratos.log"
OUT="$ROOT/bench/out"
mkdir -p "$OUT/bin"

log() { echo "bench.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

benchstat_cmd() {
	if [[ -x "$ROOT/.bin/benchstat" ]]; then
		"$ROOT/.bin/benchstat" "$@"
	elif command -v benchstat >/dev/null; then
		benchstat "$@"
	else
		go run golang.org/x/perf/cmd/benchstat@latest "$@"
	fi
}

machine() {
	echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(go version | cut -d' ' -f3-), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

# ---------------------------------------------------------------- Go benchmarks
if [[ "$SKIP_GO" != 1 ]]; then
	machine | tee "$OUT/machine.txt"
	TEST="$OUT/bin/kratosauth.test"
	go test -c -o "$TEST" .
	log "go benchmarks (-count $BENCH_COUNT)"
	"$TEST" -test.run '^$' -test.bench '^Benchmark(BareHandler|RequireSession|WhoamiRoundTrip|DecodeEntry|Traits)' \
		-test.benchmem -test.count "$BENCH_COUNT" | tee "$OUT/go.txt"
	"$TEST" -test.run '^$' -test.bench 'CacheMemory' -test.benchtime 20x -test.count "$(( (BENCH_COUNT + 1) / 2 ))" | tee -a "$OUT/go.txt"
	benchstat_cmd "$OUT/go.txt" | tee "$OUT/benchstat.txt"

	# What a hit costs over the bare handler: medians of the runs above and
	# their min-max (benchmarks run one after the other, so no pairing).
	awk '
		function sort(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
		function med(a, n) { sort(a, n); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
		$1 ~ /^Benchmark(BareHandler|RequireSessionCacheHit)(Parallel)?(-[0-9]+)?$/ {
			name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
			k = ++n[name]; ns[name, k] = $3; allocs[name] = $7; bytes[name] = $5
		}
		END {
			for (p = 0; p <= 1; p++) {
				suf = p ? "Parallel" : ""; b = "BareHandler" suf; h = "RequireSessionCacheHit" suf
				if (!n[b] || !n[h]) continue
				delete x; for (i = 1; i <= n[b]; i++) x[i] = ns[b, i]; bm = med(x, n[b]); bmin = x[1]; bmax = x[n[b]]
				delete x; for (i = 1; i <= n[h]; i++) x[i] = ns[h, i]; hm = med(x, n[h]); hmin = x[1]; hmax = x[n[h]]
				printf "hit over bare%s, wall time: %+.0f ns/op (medians of %d runs: hit %.0f ns [%.0f-%.0f], bare %.1f ns [%.1f-%.1f]); %+d allocs/op, %+d B/op\n", \
					p ? " (parallel)" : "", hm - bm, n[h], hm, hmin, hmax, bm, bmin, bmax, allocs[h] - allocs[b], bytes[h] - bytes[b]
			}
		}' "$OUT/go.txt" | tee "$OUT/hit.txt"

	# The same in CPU time (user + system of the whole process, GC included),
	# which other work on the machine inflates much less than wall time: a
	# run of CPU_OPS iterations minus a run of one, over CPU_OPS; the two
	# benchmarks alternate, BENCH_COUNT times.
	CPU_OPS="${CPU_OPS:-2000000}"
	cpu_s() { # BENCHMARK ITERATIONS: seconds of CPU
		local TIMEFORMAT='%3U %3S' t
		t="$( { time "$TEST" -test.run '^$' -test.bench "^$1\$" -test.benchtime "$2x" -test.count 1 >/dev/null 2>&1; } 2>&1 )"
		awk -v t="$t" 'BEGIN { split(t, a, " "); print a[1] + a[2] }'
	}
	for i in $(seq 1 "$BENCH_COUNT"); do
		for b in BenchmarkBareHandler BenchmarkRequireSessionCacheHit; do
			one="$(cpu_s "$b" 1)"; many="$(cpu_s "$b" "$CPU_OPS")"
			awk -v b="$b" -v one="$one" -v many="$many" -v n="$CPU_OPS" 'BEGIN { printf "%s\t%.1f\n", b, (many - one) / n * 1e9 }'
		done
	done >"$OUT/cpu.tsv"
	awk -F'\t' '
		function sort(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
		function med(a, n) { sort(a, n); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
		$1 ~ /Bare/ { b[++nb] = $2 } $1 ~ /CacheHit/ { h[++nh] = $2; d[nh] = $2 - b[nb] }
		END { bm = med(b, nb); hm = med(h, nh); dm = med(d, nh)
			printf "hit over bare, CPU time: %+.0f ns/op (median of %d alternating pairs, min-max %+.0f to %+.0f; hit %.0f ns, bare %.1f ns)\n", dm, nh, d[1], d[nh], hm, bm }' \
		"$OUT/cpu.tsv" | tee -a "$OUT/hit.txt"

	log "CPU profile of a cache hit"
	"$TEST" -test.run '^$' -test.bench '^BenchmarkRequireSessionCacheHit$' -test.benchtime 3s \
		-test.cpuprofile "$OUT/hit.cpu.pprof" >/dev/null
	{
		go tool pprof -top -nodecount 25 "$TEST" "$OUT/hit.cpu.pprof"
		echo
		go tool pprof -top -cum -nodecount 40 "$TEST" "$OUT/hit.cpu.pprof"
	} 2>/dev/null >"$OUT/hit-profile.txt"
	sed -n '1,20p' "$OUT/hit-profile.txt"

	# The Redis store (BENCHMARKS.md, "Many replicas"): hit costs by store
	# and client, whoami calls per session for fleets, memory per session,
	# invalidation delays; a redis-server on a free loopback port.
	"$ROOT/scripts/deps.sh" bench
	log "Redis store benchmarks (bench/redis)"
	(cd bench/redis && go test -run '^$' -bench . -benchmem -count "$REDIS_BENCH_COUNT" -benchtime 100000x .) | tee "$OUT/redis-go.txt"
	benchstat_cmd "$OUT/redis-go.txt" | tee "$OUT/redis-benchstat.txt"
	(cd bench/redis && MEMORY_SESSIONS=20000 go test -count=1 -run 'Fleet|Memory|Invalidation' -v .) | tee "$OUT/redis-tables.txt"

	# gRPC (BENCHMARKS.md, "gRPC"): the interceptor on a cached session over
	# the bare handler, in process and over loopback.
	log "gRPC interceptor benchmarks (adapters/grpc)"
	(cd adapters/grpc && go test -run '^$' -bench . -benchmem -count "$BENCH_COUNT" .) | tee "$OUT/grpc-go.txt"
	benchstat_cmd "$OUT/grpc-go.txt" | tee "$OUT/grpc-benchstat.txt"
fi
[[ "$SKIP_LOAD" == 1 ]] && exit 0

# ------------------------------------------------------------------------ Load
"$ROOT/scripts/deps.sh" bench
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	scripts/kratos.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

want() { [[ " $LOAD_CASES " == *" $1 "* ]]; }
legacy=0
for c in server-bare cached nocache nocache-mu naive-mu; do want "$c" && legacy=1; done
mu=0
for c in nocache-mu naive-mu; do want "$c" && mu=1; done

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$NAIVE_PORT" $EX_NETHTTP_PORT $EX_CHI_PORT $EX_GIN_PORT $BARE_NETHTTP_PORT $BARE_CHI_PORT $BARE_GIN_PORT $BARE_CHI_NOOTEL_PORT \
	$OK_PROXY_PORT $OK_API_PORT $OK_METRICS_PORT; do
	port_in_use "$p" && die "127.0.0.1:$p is in use (another make bench?)"
done
((legacy)) && port_in_use "$APP_PORT" && die "127.0.0.1:$APP_PORT is in use"

log "building bench programs, the example apps and Oathkeeper"
go build -o "$OUT/bin/" ./bench/server ./bench/naive ./bench/session ./bench/bare
for fw in chi gin; do # outside the root module (otelhttp, gin): built as files in the workspace
	go vet "./bench/bare/$fw/main.go"
	go build -o "$OUT/bin/bare-$fw" "./bench/bare/$fw/main.go"
done
for fw in nethttp chi gin; do # from their directories: each may be its own module
	(cd "examples/$fw" && go build -o "$OUT/bin/example-$fw" .)
done
scripts/oathkeeper.sh build
scripts/kratos.sh build
rm -rf "$KRATOS_RUN_DIR" # fresh database every run
scripts/kratos.sh start
KRATOS="http://127.0.0.1:$KRATOS_PUBLIC_PORT"

creds="$("$OUT/bin/session" -kratos "$KRATOS" -browser-users "$(( mu ? USERS : 1 ))")"
COOKIE="$(sed -n 's/^COOKIE=//p' <<<"$creds" | head -n 1)"
[[ -n "$COOKIE" ]] || die "no session cookie from Kratos"
log "session cookie: ${COOKIE%%=*}, ${#COOKIE} characters with its name"
# The -mu cases spread requests over USERS sessions (one per user), as real
# traffic does: one cookie makes concurrent cache-less requests share one
# whoami call (singleflight), which the naive middleware cannot do.
{
	echo 'local cookies = {'
	sed -n 's/^COOKIE=\(.*\)$/  "\1",/p' <<<"$creds"
	echo '}'
	echo 'local i = 0'
	echo 'function init(args) i = math.random(#cookies) end'
	echo 'function request() i = i % #cookies + 1; return wrk.format(nil, nil, { ["Cookie"] = cookies[i] }) end'
} >"$OUT/users.lua"

ncases=$(wc -w <<<"$LOAD_CASES")
nconns=$(wc -w <<<"$LOAD_CONNS")
max_dur="$(( 180 + (LOAD_RUNS + 1) * ncases * nconns * (LOAD_SECONDS + 2) ))s"
# start NAME CMD...: runs CMD in the background (bounded by max_dur even if
# this script is killed), its output in $OUT/NAME.log.
start() {
	local name="$1"
	shift
	timeout "$max_dur" "$@" >"$OUT/$name.log" 2>&1 &
	pids+=($!)
}
# ready NAME URL: waits up to 20 s for URL to answer.
ready() {
	local i
	for i in $(seq 1 100); do
		curl -fsS -o /dev/null --max-time 1 "$2" 2>/dev/null && return 0
		sleep 0.2
	done
	tail -n 20 "$OUT/$1.log" >&2
	die "$1 not ready at $2"
}

for fw in nethttp chi gin; do
	port_var="EX_${fw^^}_PORT"
	start "example-$fw" env KRATOS_PUBLIC_URL="$KRATOS" ADDR="127.0.0.1:${!port_var}" "$OUT/bin/example-$fw"
done
for fw in nethttp chi gin; do
	port_var="EX_${fw^^}_PORT"
	ready "example-$fw" "http://127.0.0.1:${!port_var}/healthz"
done
# The session's /api/me answer, which the bare apps write too.
ME="$(curl -fsS --max-time 5 -H "Cookie: $COOKIE" "http://127.0.0.1:$EX_NETHTTP_PORT/api/me")" || die "examples/nethttp /api/me with the cookie failed"
log "/api/me: $ME"
start bare-nethttp "$OUT/bin/bare" -addr "127.0.0.1:$BARE_NETHTTP_PORT" -kratos "$KRATOS" -me "$ME" -max-duration "$max_dur"
start bare-chi "$OUT/bin/bare-chi" -addr "127.0.0.1:$BARE_CHI_PORT" -kratos "$KRATOS" -me "$ME" -max-duration "$max_dur"
want bare-chi-nootel &&
	start bare-chi-nootel "$OUT/bin/bare-chi" -otelhttp=false -addr "127.0.0.1:$BARE_CHI_NOOTEL_PORT" -kratos "$KRATOS" -me "$ME" -max-duration "$max_dur"
start bare-gin "$OUT/bin/bare-gin" -addr "127.0.0.1:$BARE_GIN_PORT" -kratos "$KRATOS" -me "$ME" -max-duration "$max_dur"
start naive "$OUT/bin/naive" -addr "127.0.0.1:$NAIVE_PORT" -kratos "$KRATOS" -max-duration "$max_dur"
((legacy)) && start server "$OUT/bin/server" -addr "127.0.0.1:$APP_PORT" -kratos "$KRATOS" -max-duration "$max_dur"

# Oathkeeper: cookie_session (whoami on every request: no cache in this
# release; preserve_path so that it calls /sessions/whoami as configured),
# allow, noop, proxying to net/http's bare app.
mkdir -p "$OUT/oathkeeper"
cat >"$OUT/oathkeeper/rules.json" <<EOF
[{
  "id": "api-me",
  "match": {"url": "http://127.0.0.1:$OK_PROXY_PORT/api/me", "methods": ["GET"]},
  "upstream": {"url": "http://127.0.0.1:$BARE_NETHTTP_PORT"},
  "authenticators": [{"handler": "cookie_session"}],
  "authorizer": {"handler": "allow"},
  "mutators": [{"handler": "noop"}]
}]
EOF
cat >"$OUT/oathkeeper/oathkeeper.yml" <<EOF
log: {level: warn}
serve:
  proxy: {host: 127.0.0.1, port: $OK_PROXY_PORT}
  api: {host: 127.0.0.1, port: $OK_API_PORT}
  prometheus: {host: 127.0.0.1, port: $OK_METRICS_PORT}
access_rules:
  repositories: [file://$OUT/oathkeeper/rules.json]
  matching_strategy: glob
authenticators:
  cookie_session:
    enabled: true
    config:
      check_session_url: $KRATOS/sessions/whoami
      preserve_path: true
      only: [ory_kratos_session]
      subject_from: identity.id
      extra_from: "@this"
authorizers:
  allow: {enabled: true}
mutators:
  noop: {enabled: true}
EOF
start oathkeeper "$ROOT/.bin/oathkeeper" serve -c "$OUT/oathkeeper/oathkeeper.yml" --sqa-opt-out

# Cases: URL, the bare case its ratio is taken against, a label.
declare -A URL BASE LABEL
def() { URL[$1]="$2"; BASE[$1]="$3"; LABEL[$1]="$4"; }
def bare-nethttp "http://127.0.0.1:$BARE_NETHTTP_PORT/api/me" bare-nethttp "bare net/http"
def nethttp "http://127.0.0.1:$EX_NETHTTP_PORT/api/me" bare-nethttp "kratosauth net/http"
def bare-chi "http://127.0.0.1:$BARE_CHI_PORT/api/me" bare-chi "bare chi"
def chi "http://127.0.0.1:$EX_CHI_PORT/api/me" bare-chi "kratosauth chi"
def bare-chi-nootel "http://127.0.0.1:$BARE_CHI_NOOTEL_PORT/api/me" bare-chi "bare chi, no otelhttp"
def bare-gin "http://127.0.0.1:$BARE_GIN_PORT/api/me" bare-gin "bare gin"
def gin "http://127.0.0.1:$EX_GIN_PORT/api/me" bare-gin "kratosauth gin"
def naive "http://127.0.0.1:$NAIVE_PORT/api/me" bare-nethttp "naive whoami"
def oathkeeper "http://127.0.0.1:$OK_PROXY_PORT/api/me" bare-nethttp "oathkeeper"
def server-bare "http://127.0.0.1:$APP_PORT/bare" server-bare "server /bare"
def cached "http://127.0.0.1:$APP_PORT/cached" server-bare "server /cached"
def nocache "http://127.0.0.1:$APP_PORT/nocache" server-bare "server /nocache"
def nocache-mu "http://127.0.0.1:$APP_PORT/nocache" server-bare "/nocache 16u"
def naive-mu "http://127.0.0.1:$NAIVE_PORT/naive" server-bare "naive 16u"
for c in $LOAD_CASES; do
	[[ -n "${URL[$c]:-}" ]] || die "unknown case $c in LOAD_CASES"
	want "${BASE[$c]}" || die "case $c needs its bare case ${BASE[$c]} in LOAD_CASES"
done
for c in $LOAD_CASES; do
	case "$c" in oathkeeper) ready oathkeeper "http://127.0.0.1:$OK_API_PORT/health/ready" ;; esac
	for _ in $(seq 1 100); do curl -fsS -o /dev/null --max-time 1 -H "Cookie: $COOKIE" "${URL[$c]}" 2>/dev/null && break; sleep 0.2; done
done

# Sanity: every /api/me answers the same JSON with the cookie; the
# authenticated ones refuse without it.
for c in $LOAD_CASES; do
	body="$(curl -sS --max-time 5 -H "Cookie: $COOKIE" -w '\n%{http_code}' "${URL[$c]}")" || die "$c: ${URL[$c]} failed"
	code="${body##*$'\n'}"
	[[ "$code" == 200 ]] || die "$c: ${URL[$c]} with the cookie: HTTP $code"
	if [[ "${URL[$c]}" == */api/me ]]; then
		got="$(jq -cS . <<<"${body%$'\n'*}")"
		[[ "$got" == "$(jq -cS . <<<"$ME")" ]] || die "$c answers $got, not $ME"
	fi
	[[ "$c" == bare-* || "$c" == server-bare ]] && continue
	code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Accept: application/json' "${URL[$c]}")"
	[[ "$code" == 401 ]] || die "$c: ${URL[$c]} without a cookie: HTTP $code, want 401"
done

# The server processes (not wrk): the children of the `timeout`s started
# above, and Kratos. server_ticks is their CPU time (user + system, clock
# ticks), for the CPU each request costs the servers: idle ones use next to
# nothing, so the sum over all of them is fair to every case (naive and
# Oathkeeper make Kratos work, the examples do not).
srv_pids=()
for p in "${pids[@]}"; do
	child="$(cat "/proc/$p/task/$p/children" 2>/dev/null || true)"
	[[ -n "$child" ]] || die "no server process under pid $p"
	srv_pids+=($child)
done
srv_pids+=("$(cat "$KRATOS_RUN_DIR/kratos.pid")")
server_ticks() {
	local p t=0 st f
	for p in "${srv_pids[@]}"; do
		st="$(cat "/proc/$p/stat" 2>/dev/null)" || die "server process $p is gone"
		st="${st##*) }" # fields after the command name; utime and stime are the 12th and 13th
		read -r -a f <<<"$st"
		t=$(( t + f[11] + f[12] ))
	done
	echo "$t"
}
TICK_US="$(( 1000000 / $(getconf CLK_TCK) ))"

# time_wait counts TIME_WAIT sockets to or from Kratos' public port.
time_wait() { ss -Htan state time-wait "( sport = :$KRATOS_PUBLIC_PORT or dport = :$KRATOS_PUBLIC_PORT )" | wc -l; }

# ms converts wrk's latency (e.g. 212.00us, 1.53ms, 1.02s) to milliseconds.
ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }

# load CONNS SECONDS CASE FILE: one wrk run; wrk's own CPU time (user and
# system seconds) goes to FILE.cpu.
load() {
	local c="$1" secs="$2" case="$3" f="$4" cred threads=$(( $1 < 2 ? $1 : 2 )) TIMEFORMAT='%3U %3S'
	cred=(-H "Cookie: $COOKIE"); [[ "$case" == *-mu ]] && cred=(-s "$OUT/users.lua")
	{ time wrk -t "$threads" -c "$c" -d "${secs}s" --timeout 5s --latency "${cred[@]}" "${URL[$case]}" >"$f"; } 2>"$f.cpu"
}

log "warm-up: 1 s per case at 8 connections"
for c in $LOAD_CASES; do load 8 1 "$c" "$OUT/wrk-warmup-$c.txt"; done

RESULTS="$OUT/load.tsv"
printf 'conns\trun\tcase\treq_s\tp50_ms\tp99_ms\terrors\ttime_wait_new\tcpu_us_per_req\twrk_cpu_us_per_req\n' >"$RESULTS"
machine | tee "$OUT/machine-load.txt"
for c in $LOAD_CONNS; do
	for run in $(seq 1 "$LOAD_RUNS"); do
		for case in $LOAD_CASES; do
			f="$OUT/wrk-c$c-r$run-$case.txt"
			tw0="$(time_wait)" cpu0="$(server_ticks)"
			load "$c" "$LOAD_SECONDS" "$case" "$f"
			cpu1="$(server_ticks)" tw1="$(time_wait)"
			reqs="$(awk '/ requests in / { print $1 }' "$f")"
			cpu="$(awk -v t=$(( cpu1 - cpu0 )) -v us="$TICK_US" -v n="$reqs" 'BEGIN { printf "%.2f", n ? t * us / n : 0 }')"
			wrk_cpu="$(awk -v n="$reqs" 'END { printf "%.2f", n ? ($1 + $2) * 1e6 / n : 0 }' "$f.cpu")"
			rps="$(awk '/^Requests\/sec:/ { print $2 }' "$f")"
			p50="$(ms "$(awk '$1 == "50%" { print $2 }' "$f")")"
			p99="$(ms "$(awk '$1 == "99%" { print $2 }' "$f")")"
			errs="$(awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' "$f")"
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$run" "$case" "$rps" "$p50" "$p99" "$errs" "$(( tw1 > tw0 ? tw1 - tw0 : 0 ))" "$cpu" "$wrk_cpu" >>"$RESULTS"
		done
		log "$c conns, run $run of $LOAD_RUNS done"
	done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine-load.txt"

# Table: per connections and case, over the runs: median req/s and min-max;
# the ratio to the case's bare case, run by run, median and min-max; median
# p50 and p99; errors (all runs); new TIME_WAIT sockets on Kratos' port
# (median per run); CPU time of the servers per request in microseconds
# (median) and its difference to the bare case's, run by run (median); the
# CPU ratio, run by run (median): the bare case's CPU time per request over
# this case's, servers and wrk together. When wrk and the servers keep both
# cores busy (8 and 64 connections), req/s is the cores' time over that CPU
# time, so the CPU ratio is the req/s ratio that a machine of our own would
# show; other work on the machine moves it much less than req/s.
{
	for c in $LOAD_CASES; do printf 'case\t%s\t%s\t%s\n' "$c" "${BASE[$c]}" "${LABEL[$c]}"; done
	tail -n +2 "$RESULTS"
} | awk -F'\t' -v runs="$LOAD_RUNS" '
	function sort(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
	function med(a, n) { sort(a, n); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
	$1 == "case" { order[++ncase] = $2; base[$2] = $3; label[$2] = $4; next }
	{
		if (!($1 in seen)) { seen[$1] = 1; conns[++nconns] = $1 }
		rps[$1, $3, $2] = $4; p50[$1, $3, $2] = $5; p99[$1, $3, $2] = $6; err[$1, $3] += $7; tw[$1, $3, $2] = $8; cpu[$1, $3, $2] = $9; all[$1, $3, $2] = $9 + $10
	}
	END {
		printf "%-5s %-22s %8s %15s %8s %15s %8s %8s %6s %6s %8s %8s %9s\n", "conns", "case", "req/s", "(min-max)", "vs bare", "(min-max)", "p50 ms", "p99 ms", "errors", "TW/run", "CPU us", "+bare", "CPU ratio"
		for (ci = 1; ci <= nconns; ci++) {
			c = conns[ci]
			for (k = 1; k <= ncase; k++) {
				name = order[k]; b = base[name]
				delete x; delete r; delete l50; delete l99; delete t; delete u; delete du; delete cr
				for (i = 1; i <= runs; i++) {
					x[i] = rps[c, name, i]; r[i] = rps[c, name, i] / rps[c, b, i]
					l50[i] = p50[c, name, i]; l99[i] = p99[c, name, i]; t[i] = tw[c, name, i]
					u[i] = cpu[c, name, i]; du[i] = cpu[c, name, i] - cpu[c, b, i]; cr[i] = all[c, b, i] / all[c, name, i]
				}
				m = med(x, runs); rm = med(r, runs)
				printf "%-5s %-22s %8.0f %15s %7.1f%% %15s %8.3f %8.3f %6d %6d %8.1f %8s %8.1f%%\n", c, label[name], m, sprintf("(%.0f-%.0f)", x[1], x[runs]), \
					100 * rm, name == b ? "" : sprintf("(%.1f-%.1f%%)", 100 * r[1], 100 * r[runs]), med(l50, runs), med(l99, runs), err[c, name], med(t, runs), \
					med(u, runs), name == b ? "" : sprintf("%+.1f", med(du, runs)), 100 * med(cr, runs)
				summary[c, name] = sprintf("%7.0f %6.1f%% %6.1f%%", m, 100 * rm, 100 * med(cr, runs))
			}
			print ""
		}
		# The peer comparison: median req/s and median ratio to the bare case.
		printf "peer comparison: median req/s, ratio to the bare app (kratosauth: its framework'"'"'s; naive, oathkeeper: net/http'"'"'s)\n"
		printf "and CPU ratio (the bare case'"'"'s CPU per request over the case'"'"'s, servers and wrk), %d runs\n", runs
		printf "%-22s", "case"; for (ci = 1; ci <= nconns; ci++) printf " %22s", conns[ci] " conn" (conns[ci] == 1 ? "" : "s"); print ""
		for (k = 1; k <= ncase; k++) {
			printf "%-22s", label[order[k]]; for (ci = 1; ci <= nconns; ci++) printf " %22s", summary[conns[ci], order[k]]; print ""
		}
	}' | tee "$OUT/load.txt"
cat "$OUT/machine-load.txt"
log "done; results in $OUT (load.tsv, load.txt, wrk-*.txt)"
