#!/usr/bin/env bash
# The demo (`make demo`, `make demo-stop`): Ory Kratos v1.3.1 and the chi
# example app (examples/chi) on 127.0.0.1.
#
# Usage: scripts/demo.sh start|stop|status
#
#   start   install what is missing (scripts/deps.sh), build Kratos if needed,
#           start it on 127.0.0.1:4433 (public) and :4434 (admin), build the
#           chi example and start it in the background on 127.0.0.1:4455,
#           wait for /healthz and print how to try it. Idempotent.
#   stop    stop the app and Kratos.
#   status  say what is running (exit 0 when both run).
#
# Everything lives in .run/demo: app.pid, app.log, the app binary, and
# Kratos' config, SQLite database, pid and log in .run/demo/kratos. Each
# start with Kratos stopped begins with an empty database, so the curl lines
# it prints can be run again. DEMO_APP_PORT, DEMO_KRATOS_PUBLIC_PORT and
# DEMO_KRATOS_ADMIN_PORT change the ports (defaults 4455, 4433, 4434).
# METRICS=1 and TRACES=stdout are passed on to the app: /metrics, and
# spans in app.log (see examples/chi).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

APP_PORT="${DEMO_APP_PORT:-4455}"
KRATOS_PUBLIC_PORT="${DEMO_KRATOS_PUBLIC_PORT:-4433}"
KRATOS_ADMIN_PORT="${DEMO_KRATOS_ADMIN_PORT:-4434}"
APP_ADDR="127.0.0.1:$APP_PORT"
APP_URL="http://$APP_ADDR"
KRATOS_URL="http://127.0.0.1:$KRATOS_PUBLIC_PORT"
RUN_DIR=.run/demo
KRATOS_RUN_DIR="$RUN_DIR/kratos"
PID_FILE="$RUN_DIR/app.pid"
LOG_FILE="$RUN_DIR/app.log"
BIN="$RUN_DIR/app"
READY_TIMEOUT=30

kratos() {
	KRATOS_PUBLIC_PORT="$KRATOS_PUBLIC_PORT" KRATOS_ADMIN_PORT="$KRATOS_ADMIN_PORT" APP_URL="$APP_URL" KRATOS_RUN_DIR="$KRATOS_RUN_DIR" \
		KRATOS_LOG="$KRATOS_RUN_DIR/kratos.log" scripts/kratos.sh "$@"
}

# Guard against pid reuse: it must be our binary.
is_app() { [[ "$(readlink "/proc/$1/exe" 2>/dev/null)" == "$ROOT/$BIN"* ]]; }
app_running() { pid_running "$PID_FILE" is_app; }

print_usage() {
	cat <<EOF

The demo runs: app $APP_URL (examples/chi), Kratos $KRATOS_URL (admin http://127.0.0.1:$KRATOS_ADMIN_PORT).
Open $APP_URL in a browser: sign up, then visit the dashboard.

Or from a shell:

# register through the API flow and keep the session token
flow=\$(curl -s $KRATOS_URL/self-service/registration/api | jq -r .id)
token=\$(curl -s -X POST "$KRATOS_URL/self-service/registration?flow=\$flow" -H 'Content-Type: application/json' \\
  -d '{"method":"password","traits":{"email":"ada@example.com"},"password":"a-long-demo-password-1"}' | jq -r .session_token)
curl -s $APP_URL/api/me -H "X-Session-Token: \$token"

Logs: $LOG_FILE and $KRATOS_RUN_DIR/kratos.log. Stop with: make demo-stop
EOF
}

cmd_start() {
	scripts/deps.sh demo
	kratos build
	if ! kratos status >/dev/null; then
		rm -f "$KRATOS_RUN_DIR/db.sqlite" # a fresh Kratos for each demo
	fi
	if app_running; then
		kratos start # says "already running" when it is
		log "already running (app pid $(cat "$PID_FILE"))"
		print_usage
		return 0
	fi
	if port_in_use "$APP_PORT"; then
		die "$APP_ADDR is already in use by another process"
	fi
	kratos start

	mkdir -p "$RUN_DIR"
	log "building examples/chi"
	go build -C examples/chi -o "$ROOT/$BIN" . # a module of its own
	KRATOS_PUBLIC_URL="$KRATOS_URL" APP_URL="$APP_URL" ADDR="$APP_ADDR" \
		nohup "$ROOT/$BIN" >>"$LOG_FILE" 2>&1 </dev/null &
	local pid=$!
	echo "$pid" >"$PID_FILE"

	wait_ready "the app" "$APP_URL/healthz" "$pid" "$PID_FILE" "$LOG_FILE" "$READY_TIMEOUT" 20
	log "app ready (pid $pid)"
	print_usage
}

cmd_stop() {
	if app_running; then
		local pid
		pid="$(cat "$PID_FILE")"
		stop_pid app "$pid"
		log "app stopped (pid $pid)"
	else
		log "app not running"
	fi
	rm -f "$PID_FILE"
	kratos stop
}

cmd_status() {
	local rc=0
	if app_running; then
		echo "app running (pid $(cat "$PID_FILE")): $APP_URL"
	else
		echo "app not running"
		rc=3
	fi
	kratos status || rc=3
	return "$rc"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*)
	sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
