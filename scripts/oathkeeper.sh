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
	local dir="$ROOT/tools/oathkeeper"
	grep -q "github.com/ory/oathkeeper $OATHKEEPER_VERSION" "$dir/go.mod" || die "$dir/go.mod does not require github.com/ory/oathkeeper $OATHKEEPER_VERSION"
	built "$OATHKEEPER_BIN" "$dir/go.mod" || build_server oathkeeper "$dir" github.com/ory/oathkeeper "$OATHKEEPER_BIN" \
		-ldflags "-X github.com/ory/oathkeeper/x.Version=$OATHKEEPER_VERSION"
}

case "${1:-}" in
build) cmd_build ;;
*)
	sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
