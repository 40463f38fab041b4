#!/usr/bin/env bash
# The project's test command (`make test`, and what .ci/run calls): installs
# what the tests need, builds every Kratos version of
# internal/testing/kratostest/versions.txt, Keto v0.13 and Hydra v2.3.0 if needed
# (cached in .bin/), checks formatting and vet, and runs every module's tests
# with the race detector, end-to-end tests against the real Kratos, Keto and
# Hydra included (KRATOSAUTH_E2E=1 makes them fail, not skip, when a binary
# is missing).
#
# The Kratos-facing packages (those whose tests import internal/testing/kratostest
# or internal/testing/exampletest) run once per Kratos version, with KRATOS_VERSION
# set; every other package runs once. The Kratos builds run in the background
# while the other packages are tested. KRATOS_VERSIONS="v1.3.1 ..." limits
# the matrix; KRATOS_MATRIX_JOBS (default 1) runs that many versions at once.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/deps.sh

# Every version is built (or found cached) in the background; the matrix
# below waits for it.
read -r -a VERSIONS <<<"${KRATOS_VERSIONS:-$(scripts/kratos.sh versions | tr '\n' ' ')}"
BUILD_LOG="$(mktemp)" LOG="$(mktemp)" MATRIX_DIR="$(mktemp -d)"
# In a process group of its own (setsid), so that a failure below stops the
# builds too.
setsid bash -c 'for v in "$@"; do
	start=$SECONDS
	scripts/kratos.sh build "$v" || exit 1
	echo "kratos $v ready after $((SECONDS - start)) s"
done' build-kratos "${VERSIONS[@]}" >"$BUILD_LOG" 2>&1 &
BUILD_PID=$!
trap 'kill -- "-$BUILD_PID" 2>/dev/null || true; rm -rf "$LOG" "$BUILD_LOG" "$MATRIX_DIR"' EXIT
scripts/keto.sh build
scripts/hydra.sh build

# Every module but the tool modules of Kratos and Keto (built above, not ours to test).
mapfile -t MODULES < <(find . -name go.mod -not -path './tools/*' -not -path './.*' -printf '%h\n' | sort)

echo "== gofmt"
unformatted="$(gofmt -l $(git ls-files '*.go') 2>/dev/null || true)"
if [[ -n "$unformatted" ]]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go.mod files have no replace directive (go.work is for local development)"
if grep -n '^replace' "${MODULES[@]/%//go.mod}"; then
	echo "users' go get ignores replace directives; put them in go.work"; exit 1
fi

echo "== the root go.mod is tidy (what users' go get reads; scripts/tidy.sh tidies every module)"
GOWORK=off go mod tidy -diff || { echo "run scripts/tidy.sh ."; exit 1; }

echo "== net/http and chi users never get gin, echo, gRPC, Connect, OpenTelemetry, Prometheus, the JOSE library of jwtverify, a Redis client, or the test-only browser driver"
if GOWORK=off go mod graph | grep -E 'gin-gonic|labstack/echo|google\.golang\.org/grpc|connectrpc\.com|chromedp|go\.opentelemetry\.io|prometheus|go-jose|redis/rueidis|redis/go-redis|valkey-io|redigo'; then
	echo "the root module's graph must not contain these"; exit 1
fi
echo "== the library never imports a test harness (internal/testing)"
if go list -deps $(go list ./... | grep -Ev '/internal/testing/|/bench/') | grep '/internal/testing/'; then
	echo "a package of the library imports a test harness; harnesses live in internal/testing and only tests import them"; exit 1
fi
echo "== the HTTP examples share one shared.go (each is a module of its own, to copy alone)"
for f in examples/*/shared.go; do
	cmp -s examples/nethttp/shared.go "$f" || { echo "$f differs from examples/nethttp/shared.go: change them together"; exit 1; }
done
echo "== jwtverify users never get gin"
# Its go.sum holds every module of its pruned graph (go mod graph cannot run
# outside the workspace before the root version it requires is published).
if grep -E 'gin-gonic|chromedp' jwtverify/go.mod jwtverify/go.sum; then
	echo "the jwtverify module's graph must not contain these"; exit 1
fi

# Every go test's output also goes to LOG, for the summary line at the end.

export KRATOSAUTH_E2E=1
for mod in "${MODULES[@]}"; do
	echo "== go vet ($mod)"
	(cd "$mod" && go vet ./...)
done

# kratos_facing MOD: the module's packages whose tests start Kratos.
kratos_facing() {
	(cd "$1" && go list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... |
		awk '$1 ~ /internal\/testing\/kratostest$/ || / [^ ]*\/internal\/testing\/(kratostest|exampletest)( |$)/ {print $1}')
}
declare -A FACING
for mod in "${MODULES[@]}"; do
	FACING[$mod]="$(kratos_facing "$mod" | tr '\n' ' ')"
done

for mod in "${MODULES[@]}"; do
	echo "== go test -race ($mod, packages that do not start Kratos)"
	mapfile -t pkgs < <(cd "$mod" && go list ./... | grep -vxF -f <(tr ' ' '\n' <<<"${FACING[$mod]}" | grep .) || true)
	((${#pkgs[@]})) || continue
	(cd "$mod" && go test -race -count=1 -timeout 20m "${pkgs[@]}") 2>&1 | tee -a "$LOG"
done

echo "== waiting for the Kratos builds"
if ! wait "$BUILD_PID"; then
	cat "$BUILD_LOG"; echo "building Kratos failed"; exit 1
fi
cat "$BUILD_LOG"

# matrix_run VERSION: every Kratos-facing package against that version; its
# output goes to a log of its own, shown when it ends.
matrix_run() {
	local v="$1" out="$MATRIX_DIR/$1.log" start=$SECONDS mod rc=0
	for mod in "${MODULES[@]}"; do
		[[ -n "${FACING[$mod]// /}" ]] || continue
		echo "== go test -race ($mod, Kratos $v)"
		# shellcheck disable=SC2086
		(cd "$mod" && KRATOS_VERSION="$v" go test -race -count=1 -timeout 20m ${FACING[$mod]}) || rc=1
	done >"$out" 2>&1
	echo "== Kratos $v: the Kratos-facing packages took $((SECONDS - start)) s" >>"$out"
	echo "$rc" >"$MATRIX_DIR/$v.rc"
}
JOBS="${KRATOS_MATRIX_JOBS:-1}"
failed=0
for v in "${VERSIONS[@]}"; do
	while (($(jobs -rp | wc -l) >= JOBS)); do wait -n || true; done
	matrix_run "$v" &
done
wait
for v in "${VERSIONS[@]}"; do
	[[ "$(cat "$MATRIX_DIR/$v.rc" 2>/dev/null)" == 0 ]] || failed=1
	cat "$MATRIX_DIR/$v.log"
	sed "s/^\(ok\|FAIL\)\( \)/\1 [kratos $v]\2/" "$MATRIX_DIR/$v.log" >>"$LOG"
done
((failed == 0)) || { echo "== the Kratos version matrix failed"; echo "packages: $(grep -c '^ok ' "$LOG") passed, $(grep -c '^FAIL' "$LOG") failed"; exit 1; }

if [[ -x scripts/fuzz.sh ]]; then
	echo "== fuzz (bounded)"
	scripts/fuzz.sh "${FUZZTIME:-10s}"
fi
echo "== all tests passed"
echo "packages: $(grep -c '^ok ' "$LOG") passed, $(grep -c '^FAIL' "$LOG") failed"
