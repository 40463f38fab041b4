#!/usr/bin/env bash
# Performance check of kratosauth (`make bench`); method and results in
# BENCHMARKS.md.
#
#   1. Go benchmarks of the request path (-benchmem, BENCH_COUNT runs each),
#      summarised by benchstat: cache hit vs the bare handler, in parallel,
#      cache miss vs the raw whoami round trip, entry decoding, memory and GC
#      with 100,000 cached sessions; then the Redis store's (bench/redis).
#   2. Load over loopback: a real Kratos v1.3.1 (scripts/kratos.sh on ports
#      KRATOS_PUBLIC_PORT/KRATOS_ADMIN_PORT, default 4533/4534, so it does not
#      clash with `make demo` on 4433), a registered user's browser session
#      cookie, bench/server (/bare, /cached, /nocache) and bench/naive
#      (/naive), each hit by wrk for LOAD_SECONDS at 1, 8 and 64
#      connections, LOAD_ROUNDS times, with one user's cookie and (the -mu
#      cases, cache-less routes) with USERS users' cookies in turn; prints req/s, p50, p99, ratio to /bare
#      of the same round and connections, and the TIME_WAIT sockets to Kratos
#      that each case left behind.
#
# Environment (defaults): BENCH_COUNT=6 LOAD_SECONDS=5 LOAD_ROUNDS=2 USERS=16
#   LOAD_CONNS="1 8 64" SKIP_GO=0 SKIP_LOAD=0 APP_PORT=4555 NAIVE_PORT=4556
# Output: bench/out/ (go.txt, benchstat.txt, load.txt, wrk logs).
# Everything listens on 127.0.0.1, every load run is bounded, and everything
# started here is stopped on exit.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BENCH_COUNT="${BENCH_COUNT:-6}"
LOAD_SECONDS="${LOAD_SECONDS:-5}"
LOAD_ROUNDS="${LOAD_ROUNDS:-2}"
LOAD_CONNS="${LOAD_CONNS:-1 8 64}"
SKIP_GO="${SKIP_GO:-0}"
SKIP_LOAD="${SKIP_LOAD:-0}"
USERS="${USERS:-16}"
APP_PORT="${APP_PORT:-4555}"
NAIVE_PORT="${NAIVE_PORT:-4556}"
export KRATOS_PUBLIC_PORT="${KRATOS_PUBLIC_PORT:-4533}"
export KRATOS_ADMIN_PORT="${KRATOS_ADMIN_PORT:-4534}"
export KRATOS_RUN_DIR="$ROOT/bench/out/kratos"
export KRATOS_LOG="$KRATOS_RUN_DIR/kratos.log"
OUT="$ROOT/bench/out"
mkdir -p "$OUT/bin"

log() { echo "bench.sh: $*" >&2; }

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
	log "go benchmarks (-count $BENCH_COUNT)"
	go test -run '^$' -bench 'BareHandler|RequireSession|WhoamiRoundTrip|DecodeEntry' \
		-benchmem -count "$BENCH_COUNT" . | tee "$OUT/go.txt"
	go test -run '^$' -bench 'CacheMemory' -benchtime 20x -count "$(( (BENCH_COUNT + 1) / 2 ))" . | tee -a "$OUT/go.txt"
	benchstat_cmd "$OUT/go.txt" | tee "$OUT/benchstat.txt"
	# The Redis store (BENCHMARKS.md, "Many replicas"): hit costs by store
	# and client, whoami calls per session for fleets, memory per session,
	# invalidation delays; a redis-server on a free loopback port.
	"$ROOT/scripts/deps.sh" bench
	log "Redis store benchmarks (bench/redis)"
	(cd bench/redis && go test -run '^$' -bench . -benchmem -count "$BENCH_COUNT" -benchtime 100000x .) | tee "$OUT/redis-go.txt"
	benchstat_cmd "$OUT/redis-go.txt" | tee "$OUT/redis-benchstat.txt"
	(cd bench/redis && MEMORY_SESSIONS=20000 go test -count=1 -run 'Fleet|Memory|Invalidation' -v .) | tee "$OUT/redis-tables.txt"
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

log "building bench programs"
go build -o "$OUT/bin/" ./bench/server ./bench/naive ./bench/session
scripts/kratos.sh build
rm -rf "$KRATOS_RUN_DIR" # fresh database every run
scripts/kratos.sh start
KRATOS="http://127.0.0.1:$KRATOS_PUBLIC_PORT"

creds="$("$OUT/bin/session" -kratos "$KRATOS" -browser-users "$USERS")"
COOKIE="$(sed -n 's/^COOKIE=//p' <<<"$creds" | head -n 1)"
[[ -n "$COOKIE" ]] || { log "no session cookie from Kratos"; exit 1; }
log "session cookie: ${COOKIE%%=*}, ${#COOKIE} characters with its name; $USERS users"
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

max_dur="$(( 120 + LOAD_ROUNDS * 6 * 3 * (LOAD_SECONDS + 3) ))s"
"$OUT/bin/server" -addr "127.0.0.1:$APP_PORT" -kratos "$KRATOS" -max-duration "$max_dur" 2>"$OUT/server.log" &
pids+=($!)
"$OUT/bin/naive" -addr "127.0.0.1:$NAIVE_PORT" -kratos "$KRATOS" -max-duration "$max_dur" 2>"$OUT/naive.log" &
pids+=($!)

APP="http://127.0.0.1:$APP_PORT"
NAIVE="http://127.0.0.1:$NAIVE_PORT"
for u in "$APP/bare" "$NAIVE/naive"; do
	for _ in $(seq 1 100); do curl -fsS -o /dev/null --max-time 1 -H "Cookie: $COOKIE" "$u" 2>/dev/null && break; sleep 0.1; done
done
# Sanity: authenticated routes answer 200 with the cookie and refuse without.
for u in "$APP/cached" "$APP/nocache" "$NAIVE/naive"; do
	code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Cookie: $COOKIE" "$u")"
	[[ "$code" == 200 ]] || { log "$u with the cookie: HTTP $code"; exit 1; }
	code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Accept: application/json' "$u")"
	[[ "$code" == 401 ]] || { log "$u without a cookie: HTTP $code, want 401"; exit 1; }
done

# time_wait counts TIME_WAIT sockets to or from Kratos' public port.
time_wait() { ss -Htan state time-wait "( sport = :$KRATOS_PUBLIC_PORT or dport = :$KRATOS_PUBLIC_PORT )" | wc -l; }

# ms converts wrk's latency (e.g. 212.00us, 1.53ms, 1.02s) to milliseconds.
ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }

RESULTS="$OUT/load.tsv"
printf 'round\tconns\tcase\treq_s\tp50_ms\tp99_ms\terrors\ttime_wait_new\n' >"$RESULTS"
machine | tee "$OUT/machine-load.txt"
for round in $(seq 1 "$LOAD_ROUNDS"); do
	for c in $LOAD_CONNS; do
		threads=$(( c < 2 ? c : 2 ))
		for case in bare cached nocache naive nocache-mu naive-mu; do
			path="${case%-mu}"
			url="$APP/$path"; [[ "$path" == naive ]] && url="$NAIVE/naive"
			cred=(-H "Cookie: $COOKIE"); [[ "$case" == *-mu ]] && cred=(-s "$OUT/users.lua")
			tw0="$(time_wait)"
			f="$OUT/wrk-r$round-c$c-$case.txt"
			wrk -t "$threads" -c "$c" -d "${LOAD_SECONDS}s" --timeout 5s --latency "${cred[@]}" "$url" >"$f"
			tw1="$(time_wait)"
			rps="$(awk '/^Requests\/sec:/ { print $2 }' "$f")"
			p50="$(ms "$(awk '$1 == "50%" { print $2 }' "$f")")"
			p99="$(ms "$(awk '$1 == "99%" { print $2 }' "$f")")"
			errs="$(awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' "$f")"
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$c" "$case" "$rps" "$p50" "$p99" "$errs" "$(( tw1 > tw0 ? tw1 - tw0 : 0 ))" >>"$RESULTS"
			log "round $round, $c conns, /$case: $rps req/s"
		done
	done
done

# Table: one line per case, ratio to /bare of the same round and connections.
awk -F'\t' '
	NR == 1 { next }
	{ key = $1 SUBSEP $2; if ($3 == "bare") bare[key] = $4; row[NR] = $0 }
	END {
		printf "%-5s %-6s %-10s %12s %9s %9s %8s %7s %9s\n", "round", "conns", "case", "req/s", "p50 ms", "p99 ms", "vs bare", "errors", "TIME_WAIT+"
		for (i = 2; i <= NR; i++) {
			split(row[i], f, "\t"); key = f[1] SUBSEP f[2]
			printf "%-5s %-6s %-10s %12.0f %9.3f %9.3f %7.1f%% %7d %9d\n", f[1], f[2], f[3], f[4], f[5], f[6], 100 * f[4] / bare[key], f[7], f[8]
		}
	}' "$RESULTS" | tee "$OUT/load.txt"
log "done; results in $OUT (load.tsv, load.txt, wrk-*.txt)"
