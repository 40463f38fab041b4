#!/usr/bin/env bash
# Local Ory Kratos (v1.3.1) for kratosauth development and e2e tests.
#
# Usage: scripts/kratos.sh build|start|stop|status|restart
#
#   build   build .bin/kratos from tools/kratos (GOWORK=off, CGO on, -tags sqlite)
#           if it is missing or older than tools/kratos/go.mod; no-op otherwise
#   start   render the config (go run ./internal/kratostest/cmd/kratosconfig),
#           migrate the SQLite DB and serve in the background; waits for
#           /health/ready (KRATOS_READY_TIMEOUT seconds, default 30)
#   stop    stop the server started by `start` (pid file)
#   status  print whether it is running (exit 0 running, 3 not running)
#
# Environment (defaults):
#   KRATOS_PUBLIC_PORT=4433 KRATOS_ADMIN_PORT=4434 APP_URL=http://127.0.0.1:4455
#   KRATOS_RUN_DIR=.run/kratos KRATOS_LOG=$KRATOS_RUN_DIR/kratos.log
#   KRATOS_REQUIRED_AAL=aal1 (session.whoami.required_aal; or highest_available)
#   KRATOS_HOST=127.0.0.1 (host of Kratos' browser URL; localhost for passkeys,
#   with APP_URL on it too) KRATOS_ALL_METHODS= (1: every method of the
#   self-service pages) KRATOS_COURIER_URL= (where the courier POSTs codes;
#   none: the courier does not run)
#   KRATOS_BIN=.bin/kratos
# Relative paths are relative to the repository root.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

KRATOS_PUBLIC_PORT="${KRATOS_PUBLIC_PORT:-4433}"
KRATOS_ADMIN_PORT="${KRATOS_ADMIN_PORT:-4434}"
APP_URL="${APP_URL:-http://127.0.0.1:4455}"
KRATOS_RUN_DIR="${KRATOS_RUN_DIR:-.run/kratos}"
KRATOS_LOG="${KRATOS_LOG:-$KRATOS_RUN_DIR/kratos.log}"
KRATOS_REQUIRED_AAL="${KRATOS_REQUIRED_AAL:-aal1}"
KRATOS_HOST="${KRATOS_HOST:-127.0.0.1}"
KRATOS_ALL_METHODS="${KRATOS_ALL_METHODS:-}"
KRATOS_COURIER_URL="${KRATOS_COURIER_URL:-}"
KRATOS_READY_TIMEOUT="${KRATOS_READY_TIMEOUT:-30}"
KRATOS_BIN="${KRATOS_BIN:-$ROOT/.bin/kratos}"
PID_FILE="$KRATOS_RUN_DIR/kratos.pid"

# Guard against pid reuse: the process must be a kratos serve.
is_kratos_serve() { grep -qa "serve" "/proc/$1/cmdline" 2>/dev/null; }
is_running() { pid_running "$PID_FILE" is_kratos_serve; }

cmd_build() {
	local bin="$ROOT/.bin/kratos" mod="$ROOT/tools/kratos/go.mod"
	[[ -f "$mod" ]] || die "$mod not found"
	if [[ -x "$bin" && ! "$mod" -nt "$bin" ]]; then
		return 0
	fi
	log "building $bin (GOWORK=off, CGO_ENABLED=1, -tags sqlite); this takes a few minutes the first time"
	mkdir -p "$ROOT/.bin"
	(cd "$ROOT/tools/kratos" && GOWORK=off CGO_ENABLED=1 go build -tags sqlite \
		-ldflags "-X github.com/ory/kratos/driver/config.Version=v1.3.1" \
		-o "$bin.tmp" github.com/ory/kratos)
	mv -f "$bin.tmp" "$bin"
	log "built $bin"
}

cmd_start() {
	[[ -x "$KRATOS_BIN" ]] || die "$KRATOS_BIN not found; run: scripts/kratos.sh build"
	if is_running; then
		log "already running (pid $(cat "$PID_FILE")), public http://127.0.0.1:$KRATOS_PUBLIC_PORT"
		return 0
	fi
	local port
	for port in "$KRATOS_PUBLIC_PORT" "$KRATOS_ADMIN_PORT"; do
		if port_in_use "$port"; then
			die "127.0.0.1:$port is already in use (another Kratos? try: KRATOS_RUN_DIR=... scripts/kratos.sh stop, or set KRATOS_PUBLIC_PORT/KRATOS_ADMIN_PORT)"
		fi
	done
	mkdir -p "$KRATOS_RUN_DIR" "$(dirname "$KRATOS_LOG")"
	local run_dir cfg
	run_dir="$(cd "$KRATOS_RUN_DIR" && pwd)"
	cfg="$(go run ./internal/kratostest/cmd/kratosconfig -dir "$run_dir" \
		-public-port "$KRATOS_PUBLIC_PORT" -admin-port "$KRATOS_ADMIN_PORT" \
		-app-url "$APP_URL" -required-aal "$KRATOS_REQUIRED_AAL" -host "$KRATOS_HOST" \
		-all-methods="$([[ "$KRATOS_ALL_METHODS" == 1 ]] && echo true || echo false)" \
		-courier-url "$KRATOS_COURIER_URL")" || die "rendering the config failed"

	if ! "$KRATOS_BIN" migrate sql -e --yes -c "$cfg" >>"$KRATOS_LOG" 2>&1; then
		tail -n 30 "$KRATOS_LOG" >&2
		die "kratos migrate failed (log: $KRATOS_LOG)"
	fi

	local watch=false
	[[ -n "$KRATOS_COURIER_URL" ]] && watch=true
	nohup "$KRATOS_BIN" serve -c "$cfg" --dev --watch-courier="$watch" >>"$KRATOS_LOG" 2>&1 </dev/null &
	local pid=$!
	echo "$pid" >"$PID_FILE"
	echo "public http://127.0.0.1:$KRATOS_PUBLIC_PORT admin http://127.0.0.1:$KRATOS_ADMIN_PORT" >"$KRATOS_RUN_DIR/kratos.urls"

	wait_ready kratos "http://127.0.0.1:$KRATOS_PUBLIC_PORT/health/ready" "$pid" "$PID_FILE" "$KRATOS_LOG" "$KRATOS_READY_TIMEOUT" 30
	log "ready (pid $pid): public http://127.0.0.1:$KRATOS_PUBLIC_PORT admin http://127.0.0.1:$KRATOS_ADMIN_PORT config $cfg log $KRATOS_LOG"
}

cmd_stop() {
	if ! is_running; then
		rm -f "$PID_FILE"
		log "not running"
		return 0
	fi
	local pid
	pid="$(cat "$PID_FILE")"
	stop_pid kratos "$pid"
	rm -f "$PID_FILE"
	log "stopped (pid $pid)"
}

cmd_status() {
	if is_running; then
		echo "kratos running (pid $(cat "$PID_FILE")): $(cat "$KRATOS_RUN_DIR/kratos.urls" 2>/dev/null)"
	else
		echo "kratos not running"
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
	sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
