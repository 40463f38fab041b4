#!/usr/bin/env bash
# The demo (`make demo`, `make demo-stop`): Ory Kratos ($KRATOS_VERSION,
# default the newest tested, see scripts/kratos.sh) with every method of the
# self-service pages (internal/testing/kratostest/kratos.yml.tmpl, the configuration
# the browser test uses), Ory Keto v0.13, the chi example app (examples/chi)
# and a mailbox for Kratos' codes, on loopback. Browsers reach the app and
# Kratos at localhost, where passkeys work (a WebAuthn relying party id
# cannot be an IP address); both listen on 127.0.0.1.
#
# Usage: scripts/demo.sh start|stop|status
#
#   start   install what is missing (scripts/deps.sh), build Kratos and Keto
#           if needed, start the mailbox on 127.0.0.1:4436 (it prints each
#           code Kratos sends to .run/demo/courier.log), Kratos on
#           localhost:4433 (public) and :4434 (admin) and Keto on :4466
#           (read) and :4467 (write), build the chi example and start it in
#           the background on localhost:4455 (its /admin needs
#           Group:admins#members in Keto), wait for /healthz and print how
#           to try it. Idempotent.
#           The gRPC example (examples/grpc) runs beside it on
#           127.0.0.1:4457 (DEMO_GRPC_PORT; /healthz on the next port).
#   stop    stop the app, the gRPC example, Kratos, Keto and the mailbox.
#   status  say what is running (exit 0 when all run).
#
# Everything lives in .run/demo: app.pid, app.log, the app binary, Kratos'
# config, SQLite database, pid and log in .run/demo/kratos, and Keto's in
# .run/demo/keto. Each start with Kratos (Keto) stopped begins with an empty
# database, so the curl lines it prints can be run again. DEMO_APP_PORT,
# DEMO_KRATOS_PUBLIC_PORT, DEMO_KRATOS_ADMIN_PORT, DEMO_KETO_READ_PORT,
# DEMO_KETO_WRITE_PORT and DEMO_COURIER_PORT change the ports (defaults
# 4455, 4433, 4434, 4466, 4467, 4436; Keto also takes the two after its
# write port).
# METRICS=1 and TRACES=stdout are passed on to the app: /metrics, and
# spans in app.log (see examples/chi).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

APP_PORT="${DEMO_APP_PORT:-4455}"
KRATOS_PUBLIC_PORT="${DEMO_KRATOS_PUBLIC_PORT:-4433}"
KRATOS_ADMIN_PORT="${DEMO_KRATOS_ADMIN_PORT:-4434}"
KETO_READ_PORT="${DEMO_KETO_READ_PORT:-4466}"
KETO_WRITE_PORT="${DEMO_KETO_WRITE_PORT:-4467}"
COURIER_PORT="${DEMO_COURIER_PORT:-4436}"
GRPC_PORT="${DEMO_GRPC_PORT:-4457}" # and its /healthz on the next port
APP_ADDR="127.0.0.1:$APP_PORT"
APP_URL="http://localhost:$APP_PORT"           # what browsers use
KRATOS_URL="http://127.0.0.1:$KRATOS_PUBLIC_PORT" # what the app and curl use
KRATOS_BROWSER_URL="http://localhost:$KRATOS_PUBLIC_PORT"
COURIER_URL="http://127.0.0.1:$COURIER_PORT"
RUN_DIR=.run/demo
KRATOS_RUN_DIR="$RUN_DIR/kratos"
KETO_RUN_DIR="$RUN_DIR/keto"
KETO_READ_URL="http://127.0.0.1:$KETO_READ_PORT"
KETO_WRITE_URL="http://127.0.0.1:$KETO_WRITE_PORT"
PID_FILE="$RUN_DIR/app.pid"
LOG_FILE="$RUN_DIR/app.log"
BIN="$RUN_DIR/app"
COURIER_PID_FILE="$RUN_DIR/courier.pid"
COURIER_LOG="$RUN_DIR/courier.log"
COURIER_BIN="$RUN_DIR/courier"
GRPC_ADDR="127.0.0.1:$GRPC_PORT"
GRPC_HEALTH_URL="http://127.0.0.1:$((GRPC_PORT + 1))/healthz"
GRPC_PID_FILE="$RUN_DIR/grpc.pid"
GRPC_LOG="$RUN_DIR/grpc.log"
GRPC_BIN="$RUN_DIR/grpc"
READY_TIMEOUT=30

kratos() {
	KRATOS_PUBLIC_PORT="$KRATOS_PUBLIC_PORT" KRATOS_ADMIN_PORT="$KRATOS_ADMIN_PORT" APP_URL="$APP_URL" KRATOS_RUN_DIR="$KRATOS_RUN_DIR" \
		KRATOS_HOST=localhost KRATOS_ALL_METHODS=1 KRATOS_COURIER_URL="$COURIER_URL/messages" \
		KRATOS_LOG="$KRATOS_RUN_DIR/kratos.log" scripts/kratos.sh "$@"
}

keto() {
	KETO_READ_PORT="$KETO_READ_PORT" KETO_WRITE_PORT="$KETO_WRITE_PORT" \
		KETO_METRICS_PORT="$((KETO_WRITE_PORT + 1))" KETO_OPL_PORT="$((KETO_WRITE_PORT + 2))" \
		KETO_RUN_DIR="$KETO_RUN_DIR" KETO_LOG="$KETO_RUN_DIR/keto.log" scripts/keto.sh "$@"
}

# Guard against pid reuse: it must be our binary.
is_app() { [[ "$(readlink "/proc/$1/exe" 2>/dev/null)" == "$ROOT/$BIN"* ]]; }
app_running() { pid_running "$PID_FILE" is_app; }
is_courier() { [[ "$(readlink "/proc/$1/exe" 2>/dev/null)" == "$ROOT/$COURIER_BIN"* ]]; }
courier_running() { pid_running "$COURIER_PID_FILE" is_courier; }
is_grpc() { [[ "$(readlink "/proc/$1/exe" 2>/dev/null)" == "$ROOT/$GRPC_BIN"* ]]; }
grpc_running() { pid_running "$GRPC_PID_FILE" is_grpc; }

# The gRPC example (examples/grpc), beside the app, on the same Kratos.
grpc_start() {
	if grpc_running; then
		return 0
	fi
	if port_in_use "$GRPC_PORT" || port_in_use "$((GRPC_PORT + 1))"; then
		die "127.0.0.1:$GRPC_PORT or the next port is already in use by another process (set DEMO_GRPC_PORT)"
	fi
	mkdir -p "$RUN_DIR"
	log "building examples/grpc"
	go build -C examples/grpc -o "$ROOT/$GRPC_BIN" . # a module of its own
	KRATOS_PUBLIC_URL="$KRATOS_URL" ADDR="$GRPC_ADDR" HEALTH_ADDR="127.0.0.1:$((GRPC_PORT + 1))" \
		nohup "$ROOT/$GRPC_BIN" serve >>"$GRPC_LOG" 2>&1 </dev/null &
	local pid=$!
	echo "$pid" >"$GRPC_PID_FILE"
	wait_ready "the gRPC example" "$GRPC_HEALTH_URL" "$pid" "$GRPC_PID_FILE" "$GRPC_LOG" "$READY_TIMEOUT" 20
	log "gRPC example ready (pid $pid) on $GRPC_ADDR"
}

grpc_stop() {
	if grpc_running; then
		local pid
		pid="$(cat "$GRPC_PID_FILE")"
		stop_pid "gRPC example" "$pid"
		log "gRPC example stopped (pid $pid)"
	fi
	rm -f "$GRPC_PID_FILE"
}

courier_start() {
	if courier_running; then
		return 0
	fi
	if port_in_use "$COURIER_PORT"; then
		die "127.0.0.1:$COURIER_PORT is already in use by another process (set DEMO_COURIER_PORT)"
	fi
	mkdir -p "$RUN_DIR"
	go build -o "$ROOT/$COURIER_BIN" ./internal/testing/kratostest/cmd/courier
	nohup "$ROOT/$COURIER_BIN" -addr "127.0.0.1:$COURIER_PORT" >>"$COURIER_LOG" 2>&1 </dev/null &
	local pid=$!
	echo "$pid" >"$COURIER_PID_FILE"
	wait_ready "the mailbox" "$COURIER_URL/healthz" "$pid" "$COURIER_PID_FILE" "$COURIER_LOG" "$READY_TIMEOUT" 10
	log "mailbox ready (pid $pid): codes go to $COURIER_LOG"
}

courier_stop() {
	if courier_running; then
		local pid
		pid="$(cat "$COURIER_PID_FILE")"
		stop_pid courier "$pid"
		log "mailbox stopped (pid $pid)"
	fi
	rm -f "$COURIER_PID_FILE"
}

print_usage() {
	cat <<EOF

The demo runs: app $APP_URL (examples/chi), the gRPC example $GRPC_ADDR (examples/grpc), Kratos $KRATOS_BROWSER_URL (admin http://127.0.0.1:$KRATOS_ADMIN_PORT),
Keto $KETO_READ_URL (write $KETO_WRITE_URL), with every sign-in method of the self-service pages.
Open $APP_URL in a browser (localhost, not 127.0.0.1: passkeys need a domain): sign up with a password,
a passkey or a code, then visit the dashboard, the settings (TOTP, backup codes, security keys, passkeys),
and $APP_URL/admin (403 until granted, below). The codes Kratos sends are printed in $COURIER_LOG:

tail -f $COURIER_LOG

Or from a shell:

# register through the API flow and keep the session token
flow=\$(curl -s $KRATOS_URL/self-service/registration/api | jq -r .id)
token=\$(curl -s -X POST "$KRATOS_URL/self-service/registration?flow=\$flow" -H 'Content-Type: application/json' \\
  -d '{"method":"password","traits":{"email":"ada@example.com"},"password":"a-long-demo-password-1"}' | jq -r .session_token)
curl -s $APP_URL/api/me -H "X-Session-Token: \$token"
curl -s $APP_URL/admin -H "X-Session-Token: \$token"     # 403: not in Group:admins yet

# grant the permission of /admin (Group:admins#members) to the demo user, then /admin answers 200
id=\$(curl -s $APP_URL/api/me -H "X-Session-Token: \$token" | jq -r .identity_id)
curl -s -X PUT $KETO_WRITE_URL/admin/relation-tuples -d "{\"namespace\":\"Group\",\"object\":\"admins\",\"relation\":\"members\",\"subject_id\":\"\$id\"}"
curl -s $APP_URL/admin -H "X-Session-Token: \$token"

# the same session on the gRPC example (examples/grpc) on $GRPC_ADDR
$ROOT/$GRPC_BIN call -addr $GRPC_ADDR -token "\$token"
$ROOT/$GRPC_BIN call -addr $GRPC_ADDR -token nonsense      # Unauthenticated

(A user signed up in the browser: take their identity ID from $APP_URL/api/me in that browser.)

Logs: $LOG_FILE, $GRPC_LOG, $KRATOS_RUN_DIR/kratos.log, $KETO_RUN_DIR/keto.log; Kratos' configuration: $KRATOS_RUN_DIR/kratos.yml.
Stop with: make demo-stop
EOF
}

cmd_start() {
	scripts/deps.sh demo
	kratos build
	keto build
	if ! kratos status >/dev/null; then
		rm -f "$KRATOS_RUN_DIR/db.sqlite" # a fresh Kratos for each demo
	fi
	if ! keto status >/dev/null; then
		rm -f "$KETO_RUN_DIR/keto.sqlite" # and a fresh Keto
	fi
	courier_start
	if app_running; then
		kratos start # says "already running" when it is
		keto start
		grpc_start
		log "already running (app pid $(cat "$PID_FILE"))"
		print_usage
		return 0
	fi
	if port_in_use "$APP_PORT"; then
		die "$APP_ADDR is already in use by another process"
	fi
	kratos start
	keto start

	mkdir -p "$RUN_DIR"
	log "building examples/chi"
	go build -C examples/chi -o "$ROOT/$BIN" . # a module of its own
	KRATOS_PUBLIC_URL="$KRATOS_URL" KRATOS_BROWSER_URL="$KRATOS_BROWSER_URL" APP_URL="$APP_URL" ADDR="$APP_ADDR" KETO_READ_URL="$KETO_READ_URL" \
		nohup "$ROOT/$BIN" >>"$LOG_FILE" 2>&1 </dev/null &
	local pid=$!
	echo "$pid" >"$PID_FILE"

	wait_ready "the app" "$APP_URL/healthz" "$pid" "$PID_FILE" "$LOG_FILE" "$READY_TIMEOUT" 20
	log "app ready (pid $pid)"
	grpc_start
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
	grpc_stop
	kratos stop
	keto stop
	courier_stop
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
	keto status || rc=3
	if courier_running; then
		echo "mailbox running (pid $(cat "$COURIER_PID_FILE")): $COURIER_URL, codes in $COURIER_LOG"
	else
		echo "mailbox not running"
		rc=3
	fi
	if grpc_running; then
		echo "gRPC example running (pid $(cat "$GRPC_PID_FILE")): $GRPC_ADDR"
	else
		echo "gRPC example not running"
		rc=3
	fi
	return "$rc"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*)
	sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
