#!/usr/bin/env bash
# Ory Hydra v2.3.0, the OpenID Connect provider of the social sign-in tests
# (internal/testing/kratostest.StartHydra starts it; nothing else runs it).
#
# Usage: scripts/hydra.sh build
#
#   build   build .bin/hydra from tools/hydra (GOWORK=off, CGO on, -tags
#           sqlite) if it is missing or older than tools/hydra/go.mod;
#           no-op otherwise. The Go build cache makes a rebuild quick.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

cmd_build() {
	local bin="$ROOT/.bin/hydra" dir="$ROOT/tools/hydra"
	built "$bin" "$dir/go.mod" || build_server hydra "$dir" github.com/ory/hydra/v2 "$bin" -tags sqlite
}

case "${1:-}" in
build) cmd_build ;;
*)
	sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
