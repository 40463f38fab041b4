#!/usr/bin/env bash
# Local Ory Keto (v0.13.0-alpha.0) for kratosauth's permission checks: the
# e2e tests (internal/testing/ketotest starts its own) and the demo.
#
# Usage: scripts/keto.sh build|start|stop|status|restart
#
#   build   build .bin/keto from tools/keto (GOWORK=off, CGO on, -tags sqlite)
#           if it is missing or older than tools/keto/go.mod; no-op otherwise
#   start   render the config (go run ./internal/testing/ketotest/cmd/ketoconfig:
#           namespaces Group and Doc, as the tests), migrate the SQLite DB
#           and serve in the background; waits for /health/ready
#           (KETO_READY_TIMEOUT seconds, default 30)
#   stop    stop the server started by `start` (pid file)
#   status  print whether it is running (exit 0 running, 3 not running)
#
# Environment (defaults):
#   KETO_READ_PORT=4466 KETO_WRITE_PORT=4467 KETO_OPL_PORT=4469 KETO_METRICS_PORT=4468
#   KETO_RUN_DIR=.run/keto KETO_LOG=$KETO_RUN_DIR/keto.log KETO_BIN=.bin/keto
# Relative paths are relative to the repository root.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

KETO_READ_PORT="${KETO_READ_PORT:-4466}"
KETO_WRITE_PORT="${KETO_WRITE_PORT:-4467}"
KETO_METRICS_PORT="${KETO_METRICS_PORT:-4468}"
KETO_OPL_PORT="${KETO_OPL_PORT:-4469}"
KETO_RUN_DIR="${KETO_RUN_DIR:-.run/keto}"
KETO_LOG="${KETO_LOG:-$KETO_RUN_DIR/keto.log}"
KETO_READY_TIMEOUT="${KETO_READY_TIMEOUT:-30}"
KETO_BIN="${KETO_BIN:-$ROOT/.bin/keto}"
PID_FILE="$KETO_RUN_DIR/keto.pid"

# Guard against pid reuse: the process must be a keto serve.
is_keto_serve() { grep -qa "serve" "/proc/$1/cmdline" 2>/dev/null; }
is_running() { pid_running "$PID_FILE" is_keto_serve; }

cmd_build() {
	local bin="$ROOT/.bin/keto" dir="$ROOT/tools/keto"
	built "$bin" "$dir/go.mod" || build_server keto "$dir" github.com/ory/keto "$bin" -tags sqlite \
		-ldflags "-X github.com/ory/keto/internal/driver/config.Version=v0.13.0-alpha.0"
}

cmd_start() {
	[[ -x "$KETO_BIN" ]] || die "$KETO_BIN not found; run: scripts/keto.sh build"
	if is_running; then
		log "already running (pid $(cat "$PID_FILE")), read http://127.0.0.1:$KETO_READ_PORT write http://127.0.0.1:$KETO_WRITE_PORT"
		return 0
	fi
	local port
	for port in "$KETO_READ_PORT" "$KETO_WRITE_PORT" "$KETO_METRICS_PORT" "$KETO_OPL_PORT"; do
		if port_in_use "$port"; then
			die "127.0.0.1:$port is already in use (another Keto? try: KETO_RUN_DIR=... scripts/keto.sh stop, or set KETO_*_PORT)"
		fi
	done
	mkdir -p "$KETO_RUN_DIR" "$(dirname "$KETO_LOG")"
	local run_dir cfg
	run_dir="$(cd "$KETO_RUN_DIR" && pwd)"
	cfg="$(go run ./internal/testing/ketotest/cmd/ketoconfig -dir "$run_dir" \
		-read-port "$KETO_READ_PORT" -write-port "$KETO_WRITE_PORT" \
		-opl-port "$KETO_OPL_PORT" -metrics-port "$KETO_METRICS_PORT")" || die "rendering the config failed"

	if ! "$KETO_BIN" migrate up -y -c "$cfg" >>"$KETO_LOG" 2>&1; then
		tail -n 30 "$KETO_LOG" >&2
		die "keto migrate failed (log: $KETO_LOG)"
	fi

	nohup "$KETO_BIN" serve -c "$cfg" >>"$KETO_LOG" 2>&1 </dev/null &
	local pid=$!
	echo "$pid" >"$PID_FILE"
	echo "read http://127.0.0.1:$KETO_READ_PORT write http://127.0.0.1:$KETO_WRITE_PORT" >"$KETO_RUN_DIR/keto.urls"

	wait_ready keto "http://127.0.0.1:$KETO_READ_PORT/health/ready" "$pid" "$PID_FILE" "$KETO_LOG" "$KETO_READY_TIMEOUT" 30
	log "ready (pid $pid): read http://127.0.0.1:$KETO_READ_PORT write http://127.0.0.1:$KETO_WRITE_PORT config $cfg log $KETO_LOG"
}

cmd_stop() {
	if ! is_running; then
		rm -f "$PID_FILE"
		log "not running"
		return 0
	fi
	local pid
	pid="$(cat "$PID_FILE")"
	stop_pid keto "$pid"
	rm -f "$PID_FILE"
	log "stopped (pid $pid)"
}

cmd_status() {
	if is_running; then
		echo "keto running (pid $(cat "$PID_FILE")): $(cat "$KETO_RUN_DIR/keto.urls" 2>/dev/null)"
	else
		echo "keto not running"
		return 3
	fi
}

case "${1:-}" in
build) cmd_build ;;
start) cmd_start ;;
stop) cmd_stop ;;
restart) cmd_stop; cmd_start ;;
status) cmd_status ;;
*)
	sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
