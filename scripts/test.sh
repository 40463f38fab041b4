#!/usr/bin/env bash
# The project's test command (`make test`, and what .ci/run calls): installs
# what the tests need, builds Kratos v1.3.1, Keto v0.13 and Hydra v2.3.0 if
# needed (cached in .bin/), checks formatting and vet, and runs every
# module's tests with the race detector, end-to-end tests against the real
# Kratos, Keto and Hydra included (KRATOSAUTH_E2E=1 makes them fail, not
# skip, when a binary is missing).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/deps.sh
scripts/kratos.sh build
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

echo "== net/http and chi users never get gin, echo, gRPC, Connect, OpenTelemetry, Prometheus, the JOSE library of jwtverify, a Redis client, or the test-only browser driver"
if GOWORK=off go mod graph | grep -E 'gin-gonic|labstack/echo|google\.golang\.org/grpc|connectrpc\.com|chromedp|go\.opentelemetry\.io|prometheus|go-jose|redis/rueidis|redis/go-redis|valkey-io|redigo'; then
	echo "the root module's graph must not contain these"; exit 1
fi
echo "== jwtverify users never get gin"
# Its go.sum holds every module of its pruned graph (go mod graph cannot run
# outside the workspace before the root version it requires is published).
if grep -E 'gin-gonic|chromedp' jwtverify/go.mod jwtverify/go.sum; then
	echo "the jwtverify module's graph must not contain these"; exit 1
fi

# Every go test's output also goes to LOG, for the summary line at the end.
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT

export KRATOSAUTH_E2E=1
for mod in "${MODULES[@]}"; do
	echo "== go vet ($mod)"
	(cd "$mod" && go vet ./...)
done
for mod in "${MODULES[@]}"; do
	echo "== go test -race ($mod)"
	(cd "$mod" && go test -race -count=1 -timeout 20m ./...) 2>&1 | tee -a "$LOG"
done
if [[ -x scripts/fuzz.sh ]]; then
	echo "== fuzz (bounded)"
	scripts/fuzz.sh "${FUZZTIME:-10s}"
fi
echo "== all tests passed"
echo "packages: $(grep -c '^ok ' "$LOG") passed, $(grep -c '^FAIL' "$LOG") failed"
