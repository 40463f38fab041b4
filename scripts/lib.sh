# shellcheck shell=bash
# What scripts/kratos.sh, scripts/keto.sh and scripts/demo.sh share: messages, whether a
# background server of theirs runs, waiting until it is ready, stopping it.
# Source it (`source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"`), don't run it.
#
# It sets ROOT (the repository root) and defines:
#   log MSG...                 "NAME: MSG" on stderr (NAME: the script's file name)
#   die MSG...                 "NAME: error: MSG", exit 1
#   port_in_use PORT           true when something listens on 127.0.0.1:PORT
#   pid_running PIDFILE [CMD...]
#                              true when PIDFILE holds a live pid and, if CMD
#                              is given, `CMD... PID` succeeds (a guard against
#                              pid reuse: is it really our server?)
#   wait_ready NAME URL PID PIDFILE LOG TIMEOUT TAIL
#                              polls URL (curl -f, every 0.2 s) until it answers;
#                              if PID exits first or TIMEOUT seconds pass, stops
#                              PID, removes PIDFILE, prints LOG's last TAIL lines
#                              and exits 1
#   stop_pid NAME PID          SIGTERM, up to 10 s for PID to exit, then SIGKILL
#   built BIN MOD              true when BIN exists and is newer than MOD (a tool
#                              module's go.mod): nothing to build
#   build_server NAME DIR PKG BIN [GO BUILD FLAGS...]
#                              builds the Ory server NAME from DIR (a tool module
#                              under tools/, or a source tree) with GOWORK=off and
#                              cgo (SQLite), through BIN.tmp: an interrupted build
#                              leaves no binary

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIB_SCRIPT="$(basename "$0")"

log() { echo "$LIB_SCRIPT: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pid_running() {
	local file="$1" pid
	shift
	[[ -f "$file" ]] || return 1
	pid="$(cat "$file" 2>/dev/null)" || return 1
	[[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
	(($# == 0)) || "$@" "$pid"
}

wait_ready() {
	local name="$1" url="$2" pid="$3" pid_file="$4" log_file="$5" timeout="$6" tail_lines="$7"
	local deadline=$((SECONDS + timeout))
	until curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f "$pid_file"
			log "$name exited before becoming ready; last log lines ($log_file):"
			tail -n "$tail_lines" "$log_file" >&2
			exit 1
		fi
		if ((SECONDS >= deadline)); then
			kill "$pid" 2>/dev/null || true
			rm -f "$pid_file"
			log "$name not ready at $url after ${timeout}s; last log lines ($log_file):"
			tail -n "$tail_lines" "$log_file" >&2
			exit 1
		fi
		sleep 0.2
	done
}

stop_pid() {
	local name="$1" pid="$2" i
	kill "$pid" 2>/dev/null || true
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$name pid $pid did not exit after SIGTERM; sending SIGKILL"
		kill -9 "$pid" 2>/dev/null || true
	fi
}

built() { [[ -x "$1" && ! "$2" -nt "$1" ]]; }

build_server() {
	local name="$1" dir="$2" pkg="$3" bin="$4"
	shift 4
	[[ -f "$dir/go.mod" ]] || die "$dir/go.mod not found"
	log "building $bin ($name from $dir); this takes a few minutes the first time"
	mkdir -p "$(dirname "$bin")"
	(cd "$dir" && GOWORK=off CGO_ENABLED=1 go build "$@" -o "$bin.tmp" "$pkg") || die "building $name failed"
	mv -f "$bin.tmp" "$bin"
	log "built $bin"
}
