#!/usr/bin/env bash
# Runs every fuzz target of the repository, one after the other, for
# DURATION each (default 10s; CI uses 10s, a local hunt a few minutes):
#
#   scripts/fuzz.sh [DURATION]      e.g. scripts/fuzz.sh 5m
#
# `go test -fuzz` fuzzes one target of one package per invocation, so the
# targets are discovered by grepping for `func FuzzXxx(` in _test.go files
# (tools/ and hidden directories excluded) and run from their own module.
# A failure leaves the crasher in <package>/testdata/fuzz/<target>/ (it then
# runs as a regression case with every `go test`) and makes the script fail.
# FUZZ_MATCH=regexp limits the targets by name; FUZZ_PARALLEL sets -parallel.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION="${1:-10s}"
MATCH="${FUZZ_MATCH:-.}"
PARALLEL="${FUZZ_PARALLEL:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}"

# "dir target" pairs, sorted for a stable order.
mapfile -t TARGETS < <(
	grep -rEo --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]*)\(' . \
		| grep -v -e '^\./tools/' -e '^\./\.' \
		| sed -E 's#^(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\($#\1 \2#' \
		| sort -u
)
if [[ ${#TARGETS[@]} -eq 0 ]]; then
	echo "fuzz.sh: no fuzz targets found"; exit 0
fi

# moduleDir prints the nearest directory at or above $1 holding a go.mod.
moduleDir() {
	local d="$1"
	while [[ "$d" != "." && ! -f "$d/go.mod" ]]; do d="$(dirname "$d")"; done
	echo "$d"
}

# fuzzOnce runs one target; go's fuzzer sometimes reports its own -fuzztime
# deadline, reached while it minimizes a new input, as a failure ("context
# deadline exceeded", no failing input written): that run is tried again,
# once. A real failure always writes its input.
fuzzOnce() {
	local out; out="$(mktemp)"
	if (cd "$1" && go test -run '^$' -fuzz "^${2}\$" -fuzztime "$DURATION" -parallel "$PARALLEL" "$3") 2>&1 | tee "$out"; [[ ${PIPESTATUS[0]} -eq 0 ]]; then
		rm -f "$out"; return 0
	fi
	if grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written' "$out"; then
		rm -f "$out"
		echo "fuzz.sh: $2 hit go's fuzz deadline while minimizing; running it again"
		(cd "$1" && go test -run '^$' -fuzz "^${2}\$" -fuzztime "$DURATION" -parallel "$PARALLEL" "$3")
		return
	fi
	rm -f "$out"; return 1
}

failed=()
for entry in "${TARGETS[@]}"; do
	dir="${entry% *}"; target="${entry#* }"
	[[ "$target" =~ $MATCH ]] || continue
	mod="$(moduleDir "$dir")"
	pkg="./${dir#"$mod"}"; pkg="${pkg/#.\/\//./}"; [[ "$pkg" == "./" ]] && pkg="."
	echo "== fuzz $target ($dir) for $DURATION"
	if ! fuzzOnce "$mod" "$target" "$pkg"; then
		failed+=("$dir:$target")
	fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
	echo "fuzz.sh: failing targets: ${failed[*]} (crashers are in their testdata/fuzz/)"; exit 1
fi
echo "== fuzz: all targets passed"
