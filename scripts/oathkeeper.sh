#!/usr/bin/env bash
# Ory Oathkeeper v0.40.9, the proxy peer of `make bench` (scripts/bench.sh
# starts and stops it; nothing else uses it, `make test` does not build it).
#
# Usage: scripts/oathkeeper.sh build
#
#   build   build .bin/oathkeeper from the tool module tools/oathkeeper
#           (GOWORK=off; its go.mod repeats Oathkeeper's replace of
#           mattn/go-sqlite3) if it is missing or older than
#           tools/oathkeeper/go.mod; no-op otherwise. About 2 minutes the
#           first time, on 2 cores.
#
# Environment: OATHKEEPER_BIN=.bin/oathkeeper
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

OATHKEEPER_VERSION=v0.40.9
OATHKEEPER_BIN="${OATHKEEPER_BIN:-$ROOT/.bin/oathkeeper}"

cmd_build() {
	local mod="$ROOT/tools/oathkeeper/go.mod"
	[[ -f "$mod" ]] || die "$mod not found"
	grep -q "github.com/ory/oathkeeper $OATHKEEPER_VERSION" "$mod" || die "$mod does not require github.com/ory/oathkeeper $OATHKEEPER_VERSION"
	if [[ -x "$OATHKEEPER_BIN" && ! "$mod" -nt "$OATHKEEPER_BIN" ]]; then
		return 0
	fi
	log "building $OATHKEEPER_BIN (GOWORK=off); this takes a few minutes the first time"
	mkdir -p "$(dirname "$OATHKEEPER_BIN")"
	(cd "$ROOT/tools/oathkeeper" && GOWORK=off go build \
		-ldflags "-X github.com/ory/oathkeeper/x.Version=$OATHKEEPER_VERSION" \
		-o "$OATHKEEPER_BIN.tmp" github.com/ory/oathkeeper)
	mv -f "$OATHKEEPER_BIN.tmp" "$OATHKEEPER_BIN"
	log "built $OATHKEEPER_BIN"
}

case "${1:-}" in
build) cmd_build ;;
*)
	sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
