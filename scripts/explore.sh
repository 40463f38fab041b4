#!/usr/bin/env bash
# Runs the revocation explorer (e2e/revocation) on random seeds for a while
# and prints how many schedules it explored and how many broke the
# invariant; each failure prints its seed and schedule for replay.
#
#   scripts/explore.sh 10m                 every store, both profiles
#   EXPLORE_MODE=redis scripts/explore.sh 5m   one store: mem, redis or redis-local
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${1:?usage: scripts/explore.sh DURATION (e.g. 10m)}"
cd "$ROOT/e2e/revocation"
args=(-run '^TestExplore$' -count=1 -v -timeout 0)
[[ -n "${EXPLORE_MODE:-}" ]] && args+=(-mode "$EXPLORE_MODE")
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
EXPLORE_DURATION="$DURATION" go test "${args[@]}" . >"$log" 2>&1 || true
# The failures, each with its replay line, then the summary.
grep -E '^\s+explore_test.go:[0-9]+: seed .*violation\(s\)|^\s+(replay|or):' "$log" || true
if ! grep -E '^schedules explored:' "$log"; then
	tail -40 "$log"
	echo "explore.sh: the explorer did not finish" >&2
	exit 1
fi
