#!/usr/bin/env bash
# Many sessions on one replica (part of `make bench`; method and results
# in BENCHMARKS.md, "Many sessions on one replica").
#
# For each N in MANY_N: a fake whoami admitting N session tokens
# (bench/many -role whoami), the app (a net/http mux, RequireSession,
# cache TTL 10 minutes, the default store sized by the README's rule for N
# sessions unless MANY_CACHE_MB is set) and the bare app (the same mux
# without the library), fresh processes. Every session is first asked for
# once through the app (its own path: miss, whoami, cache write); then, for
# each distribution in MANY_DISTS (uniform: every session alike; zipf:
# session k asked for about 1/k as often), MANY_RUNS alternating wrk runs
# of MANY_SECONDS at MANY_CONNS connections, bare then app, each request
# with a token chosen by the wrk script. Printed per N and distribution:
# median req/s of both, the median run-by-run ratio (min-max), p50/p99
# (medians), whoami calls during the app's runs, and the app's RSS from
# /proc after warm-up and at the end.
#
# Environment (defaults): MANY_N="1 10000 100000 1000000"
#   MANY_DISTS="uniform zipf" MANY_RUNS=5 MANY_SECONDS=3 MANY_CONNS=64
#   MANY_CACHE_MB (unset: the README's rule) MANY_GOGC=100 (the app's GOGC)
#   Ports: 4590 (whoami), 4591 (app), 4592 (bare).
# Output: bench/out/many/ (many.tsv, many.txt, wrk logs, server logs).
# Everything listens on 127.0.0.1; every server exits by itself after a
# bound, and everything started here is stopped on exit.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

MANY_N="${MANY_N:-1 10000 100000 1000000}"
MANY_DISTS="${MANY_DISTS:-uniform zipf}"
MANY_RUNS="${MANY_RUNS:-5}"
MANY_SECONDS="${MANY_SECONDS:-3}"
MANY_CONNS="${MANY_CONNS:-64}"
WHOAMI_PORT=4590 APP_PORT=4591 BARE_PORT=4592
OUT="$ROOT/bench/out/many"
mkdir -p "$OUT/bin"

log() { echo "bench-many.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# cache_mb N: the README's rule for N sessions (README, "Sizing the in-process cache").
cache_mb() { local mb=$(( ($1 * 700 + (1 << 20) - 1) >> 20 )); echo $(( mb > 128 ? mb : 128 )); }

"$ROOT/scripts/deps.sh" bench
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $WHOAMI_PORT $APP_PORT $BARE_PORT; do
	port_in_use "$p" && die "127.0.0.1:$p is in use (another make bench?)"
done
go build -o "$OUT/bin/" ./bench/many

pids=()
stop_all() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}
trap stop_all EXIT INT TERM
start() { # NAME ARGS...: a bench/many server, bounded to 30 minutes
	local name="$1"
	shift
	timeout 1900s "$OUT/bin/many" -max-duration 30m "$@" >"$OUT/$name.log" 2>&1 &
	pids+=($!)
}
ready() {
	local i
	for i in $(seq 1 100); do
		curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
		sleep 0.2
	done
	die "not ready: $1"
}
# The app's pid: the child of its `timeout`.
app_pid() { tr -d " " <"/proc/$1/task/$1/children"; }
# ticks PID: its CPU time (user + system), in clock ticks.
ticks() { local st f; st="$(cat "/proc/$1/stat")"; st="${st##*) }"; read -r -a f <<<"$st"; echo $(( f[11] + f[12] )); }
TICK_US="$(( 1000000 / $(getconf CLK_TCK) ))"
rss_mb() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
calls() { curl -fsS --max-time 5 "http://127.0.0.1:$WHOAMI_PORT/calls"; }
ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }

cat >"$OUT/many.lua" <<'EOF'
-- Each request carries the token of a session chosen at random:
-- uniform over 0..n-1, or Zipf-like (exponent 1: floor((n+1)^u) - 1, so
-- session k comes about 1/(k+1) as often as session 0). Seeded per thread.
local n = tonumber(os.getenv("MANY_SESSIONS"))
local zipf = os.getenv("MANY_DIST") == "zipf"
local logn1 = math.log(n + 1)
local threads = 0
function setup(thread) threads = threads + 1; thread:set("id", threads) end
function init(args) math.randomseed(7919 * id) end
function request()
  local i
  if zipf then i = math.floor(math.exp(math.random() * logn1)) - 1 else i = math.random(n) - 1 end
  if i >= n then i = n - 1 end
  if i < 0 then i = 0 end
  return wrk.format(nil, "/api/me", { ["X-Session-Token"] = string.format("ory_st_%032d", i) })
end
EOF

RESULTS="$OUT/many.tsv"
printf 'n\tdist\trun\tcase\treq_s\tp50_ms\tp99_ms\terrors\twhoami_calls\trequests\tcpu_us_per_req\n' >"$RESULTS"
SUMMARY="$OUT/summary.tsv"
: >"$SUMMARY"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(go version | cut -d' ' -f3-), load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/machine.txt"
for n in $MANY_N; do
	mb="${MANY_CACHE_MB:-$(cache_mb "$n")}"
	start "whoami-$n" -role whoami -addr "127.0.0.1:$WHOAMI_PORT" -n "$n"
	GOGC="${MANY_GOGC:-100}" start "app-$n" -role app -addr "127.0.0.1:$APP_PORT" -kratos "http://127.0.0.1:$WHOAMI_PORT" -cache-mb "$mb"
	app_timeout_pid="${pids[-1]}"
	start "bare-$n" -role bare -addr "127.0.0.1:$BARE_PORT"
	bare_timeout_pid="${pids[-1]}"
	ready "http://127.0.0.1:$WHOAMI_PORT/calls"
	ready "http://127.0.0.1:$BARE_PORT/api/me"
	for _ in $(seq 1 100); do curl -fsS -o /dev/null --max-time 1 -H "X-Session-Token: ory_st_$(printf %032d 0)" "http://127.0.0.1:$APP_PORT/api/me" 2>/dev/null && break; sleep 0.2; done
	app="$(app_pid "$app_timeout_pid")" bare="$(app_pid "$bare_timeout_pid")"
	[[ -n "$app" && -n "$bare" ]] || die "no app process"
	code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Accept: application/json' -H 'X-Session-Token: ory_st_x' "http://127.0.0.1:$APP_PORT/api/me")"
	[[ "$code" == 401 ]] || die "the app answers an unknown token with $code, want 401"
	log "N=$n: cache ${mb} MB; warming every session through the app"
	"$OUT/bin/many" -role warm -addr "127.0.0.1:$APP_PORT" -n "$n" | tee "$OUT/warm-$n.txt"
	rss_warm="$(rss_mb "$app")"
	for dist in $MANY_DISTS; do
		for run in $(seq 1 "$MANY_RUNS"); do
			for case in bare app; do
				port=$BARE_PORT pid=$bare; [[ "$case" == app ]] && port=$APP_PORT pid=$app
				f="$OUT/wrk-$n-$dist-$run-$case.txt"
				c0="$(calls)" t0="$(ticks "$pid")"
				MANY_SESSIONS="$n" MANY_DIST="$dist" wrk -t 2 -c "$MANY_CONNS" -d "${MANY_SECONDS}s" --timeout 5s --latency -s "$OUT/many.lua" "http://127.0.0.1:$port" >"$f"
				t1="$(ticks "$pid")" c1="$(calls)"
				rps="$(awk '/^Requests\/sec:/ { print $2 }' "$f")"
				p50="$(ms "$(awk '$1 == "50%" { print $2 }' "$f")")"
				p99="$(ms "$(awk '$1 == "99%" { print $2 }' "$f")")"
				errs="$(awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' "$f")"
				reqs="$(awk '/ requests in / { print $1 }' "$f")"
				cpu="$(awk -v t=$(( t1 - t0 )) -v us="$TICK_US" -v n="$reqs" 'BEGIN { printf "%.2f", n ? t * us / n : 0 }')"
				printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$dist" "$run" "$case" "$rps" "$p50" "$p99" "$errs" "$(( c1 - c0 ))" "$reqs" "$cpu" >>"$RESULTS"
			done
		done
		log "N=$n $dist done"
	done
	printf '%s\t%s\t%s\t%s\n' "$n" "$mb" "$rss_warm" "$(rss_mb "$app")" >>"$SUMMARY"
	stop_all
done

# Per N and distribution: medians over the runs; the ratio run by run
# (app over the bare run just before it).
{
	sed 's/^/rss\t/' "$SUMMARY"
	tail -n +2 "$RESULTS"
} | awk -F'\t' '
	function sort(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
	function med(a, n) { sort(a, n); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
	$1 == "rss" { mb[$2] = $3; rw[$2] = $4; re[$2] = $5; next }
	{
		k = $1 SUBSEP $2
		if (!(k in seen)) { seen[k] = 1; order[++nk] = k }
		runs[k] = $3 > runs[k] ? $3 : runs[k]
		rps[k, $4, $3] = $5; cpu[k, $4, $3] = $11; p50[k, $4, $3] = $6; p99[k, $4, $3] = $7; err[k] += $8
		if ($4 == "app") { calls[k] += $9; reqs[k] += $10 }
	}
	END {
		printf "%-8s %-8s %9s %9s %7s %15s %14s %14s %11s %9s %6s %18s %8s %12s\n", "sessions", "dist", "app r/s", "bare r/s", "ratio", "(min-max)", "app p50/p99", "bare p50/p99", "CPU us a/b", "CPU ratio", "errors", "whoami/requests", "cache MB", "RSS MiB w/e"
		for (o = 1; o <= nk; o++) {
			k = order[o]; split(k, kk, SUBSEP); r = runs[k]
			delete a; delete b; delete q; delete a50; delete a99; delete b50; delete b99; delete ca; delete cb; delete cq
			for (i = 1; i <= r; i++) {
				ca[i] = cpu[k, "app", i]; cb[i] = cpu[k, "bare", i]; cq[i] = cpu[k, "app", i] ? cpu[k, "bare", i] / cpu[k, "app", i] : 0
				a[i] = rps[k, "app", i]; b[i] = rps[k, "bare", i]; q[i] = a[i] / b[i]
				a50[i] = p50[k, "app", i]; a99[i] = p99[k, "app", i]; b50[i] = p50[k, "bare", i]; b99[i] = p99[k, "bare", i]
			}
			ma = med(a, r); mbr = med(b, r); mq = med(q, r)
			printf "%-8s %-8s %9.0f %9.0f %7.2f %15s %14s %14s %11s %9.2f %6d %18s %8s %12s\n", kk[1], kk[2], ma, mbr, mq, sprintf("(%.2f-%.2f)", q[1], q[r]), \
				sprintf("%.1f/%.1f", med(a50, r), med(a99, r)), sprintf("%.1f/%.1f", med(b50, r), med(b99, r)), sprintf("%.1f/%.1f", med(ca, r), med(cb, r)), med(cq, r), err[k], calls[k] "/" reqs[k], mb[kk[1]], rw[kk[1]] "/" re[kk[1]]
		}
	}' | tee "$OUT/many.txt"
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"
log "done; results in $OUT (many.tsv, many.txt)"
