#!/usr/bin/env bash
# Local Ory Kratos for kratosauth development and e2e tests, in any of the
# versions the library is tested against: v1.3.1, v25.4.0, v26.2.0.
#
# Usage: scripts/kratos.sh build [VERSION]|start|stop|status|restart|versions
#
#   build   build .bin/kratos-VERSION (VERSION: the argument, else
#           $KRATOS_VERSION, else the default) if it is missing; no-op
#           otherwise. v1.3.1 comes from the Go module proxy (tools/kratos,
#           rebuilt when tools/kratos/go.mod is newer). The calendar versions
#           are not valid Go module versions and are built from source:
#           $KRATOS_SOURCE (a directory or a .tar.gz) if set, else
#           ../shared/kratos-src/kratos-VERSION.tar.gz if present, else a
#           shallow git clone of the public Kratos repository at tag VERSION.
#           All with CGO on and -tags sqlite. .bin/kratos links to v1.3.1.
#   start   render the config for KRATOS_VERSION (go run
#           ./internal/testing/kratostest/cmd/kratosconfig), migrate the SQLite DB
#           and serve in the background; waits for /health/ready
#           (KRATOS_READY_TIMEOUT seconds, default 30)
#   stop    stop the server started by `start` (pid file)
#   status  print whether it is running (exit 0 running, 3 not running)
#   versions  print the versions this script knows, the default first
#
# Environment (defaults):
#   KRATOS_VERSION=v26.2.0 (the default; see docs/kratos-versions.md)
#   KRATOS_PUBLIC_PORT=4433 KRATOS_ADMIN_PORT=4434 APP_URL=http://127.0.0.1:4455
#   KRATOS_RUN_DIR=.run/kratos KRATOS_LOG=$KRATOS_RUN_DIR/kratos.log
#   KRATOS_REQUIRED_AAL=aal1 (session.whoami.required_aal; or highest_available)
#   KRATOS_HOST=127.0.0.1 (host of Kratos' browser URL; localhost for passkeys,
#   with APP_URL on it too) KRATOS_ALL_METHODS= (1: every method of the
#   self-service pages) KRATOS_COURIER_URL= (where the courier POSTs codes;
#   none: the courier does not run)
#   KRATOS_BIN=.bin/kratos-$KRATOS_VERSION
#   KRATOS_SOURCE (build only; see above)
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
# The versions, one a line, the default first: one list for this script and
# internal/testing/kratostest (which embeds it).
VERSIONS_FILE="$ROOT/internal/testing/kratostest/versions.txt"
mapfile -t KRATOS_VERSIONS < <(grep -v '^#' "$VERSIONS_FILE" | grep .)
KRATOS_VERSION="${KRATOS_VERSION:-${KRATOS_VERSIONS[0]}}"
KRATOS_BIN="${KRATOS_BIN:-$ROOT/.bin/kratos-$KRATOS_VERSION}"
PID_FILE="$KRATOS_RUN_DIR/kratos.pid"

# Guard against pid reuse: the process must be a kratos serve.
is_kratos_serve() { grep -qa "serve" "/proc/$1/cmdline" 2>/dev/null; }
is_running() { pid_running "$PID_FILE" is_kratos_serve; }

known_version() {
	local v
	for v in "${KRATOS_VERSIONS[@]}"; do [[ "$v" == "$1" ]] && return 0; done
	return 1
}

# build_from_module: v1.3.1, the last Kratos the Go module proxy serves,
# through tools/kratos (its go.mod pins every dependency).
build_from_module() {
	local bin="$1" mod="$ROOT/tools/kratos/go.mod"
	built "$bin" "$mod" && return 0
	# A .bin/kratos of the layout before versioned names is v1.3.1: keep it.
	if [[ -f "$ROOT/.bin/kratos" && ! -L "$ROOT/.bin/kratos" && ! "$mod" -nt "$ROOT/.bin/kratos" ]]; then
		ln -f "$ROOT/.bin/kratos" "$bin"
		return 0
	fi
	build_server "kratos v1.3.1" "$ROOT/tools/kratos" github.com/ory/kratos "$bin" -tags sqlite \
		-ldflags "-X github.com/ory/kratos/driver/config.Version=v1.3.1"
}

# build_from_source VERSION BIN: the calendar versions, whose go.mod replaces
# github.com/ory/x with the in-tree ./oryx (so they cannot be a Go module
# dependency); every other module comes from the Go module proxy.
build_from_source() {
	local version="$1" bin="$2" work src
	[[ -x "$bin" ]] && return 0
	work="$(mktemp -d)"
	# shellcheck disable=SC2064
	trap "rm -rf '$work'" RETURN
	local shared="$ROOT/../shared/kratos-src/kratos-$version.tar.gz"
	if [[ -n "${KRATOS_SOURCE:-}" && -d "$KRATOS_SOURCE" ]]; then
		src="$KRATOS_SOURCE"
	elif [[ -n "${KRATOS_SOURCE:-}" ]]; then
		[[ -f "$KRATOS_SOURCE" ]] || die "KRATOS_SOURCE=$KRATOS_SOURCE is neither a directory nor a file"
		tar -xzf "$KRATOS_SOURCE" -C "$work" || die "cannot unpack $KRATOS_SOURCE"
		src="$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n 1)"
	elif [[ -f "$shared" ]]; then
		tar -xzf "$shared" -C "$work" || die "cannot unpack $shared"
		src="$work/kratos-$version"
	else
		log "no source for $version here: cloning the public Kratos repository at tag $version"
		git clone -q --depth 1 --branch "$version" https://github.com/ory/kratos "$work/kratos-$version" ||
			die "git clone of Kratos $version failed (no network? set KRATOS_SOURCE to a source directory or tarball)"
		src="$work/kratos-$version"
	fi
	[[ -f "$src/go.mod" ]] && grep -q '^module github.com/ory/kratos$' "$src/go.mod" ||
		die "$src is not the Kratos source (no go.mod of github.com/ory/kratos)"
	build_server "kratos $version (about 6 minutes on 2 cores with a cold module cache)" "$src" . "$bin" -tags sqlite \
		-ldflags "-X github.com/ory/kratos/driver/config.Version=$version"
}

cmd_build() {
	local version="${1:-$KRATOS_VERSION}" bin
	known_version "$version" || die "unknown Kratos version $version (known: ${KRATOS_VERSIONS[*]})"
	bin="$ROOT/.bin/kratos-$version"
	mkdir -p "$ROOT/.bin"
	if [[ "$version" == v1.* ]]; then
		build_from_module "$bin"
		# .bin/kratos: the name of v1.3.1 before versioned names.
		[[ -e "$ROOT/.bin/kratos" ]] || ln -s "kratos-$version" "$ROOT/.bin/kratos"
	else
		build_from_source "$version" "$bin"
	fi
	log "$bin: $("$bin" version 2>/dev/null | grep -i '^version' | head -n 1)"
}

cmd_start() {
	[[ -x "$KRATOS_BIN" ]] || die "$KRATOS_BIN not found; run: scripts/kratos.sh build $KRATOS_VERSION"
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
	cfg="$(go run ./internal/testing/kratostest/cmd/kratosconfig -dir "$run_dir" -version "$KRATOS_VERSION" \
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
	log "Kratos $KRATOS_VERSION ready (pid $pid): public http://127.0.0.1:$KRATOS_PUBLIC_PORT admin http://127.0.0.1:$KRATOS_ADMIN_PORT config $cfg log $KRATOS_LOG"
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
build) cmd_build "${2:-}" ;;
versions) printf '%s\n' "${KRATOS_VERSIONS[@]}" ;;
start) cmd_start ;;
stop) cmd_stop ;;
restart) cmd_stop; cmd_start ;;
status) cmd_status ;;
*)
	sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
