#!/usr/bin/env bash
# Installs the Debian packages a command needs, when missing:
#   deps.sh [test]  gcc (cgo: the race detector, Kratos' SQLite), curl, jq,
#                   Debian's Chromium for the browser test (no browser is
#                   downloaded from elsewhere), and Node.js with npm, which
#                   installs the browser test's pinned axe-core
#                   (e2e/browser/package-lock.json, npm ci) when missing,
#                   and Debian's redis-server for the shared cache's tests
#                   (started by internal/testing/redistest on a free loopback port,
#                   never as a system service)
#   deps.sh demo    gcc, curl, jq (the README's curl lines use jq)
#   deps.sh bench   gcc, curl, jq, wrk for the load comparison, and
#                   redis-server for the Redis store's benchmarks
set -euo pipefail
mode="${1:-test}"
need=()
command -v gcc >/dev/null || need+=(gcc libc6-dev)
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
case "$mode" in
test)
	command -v chromium >/dev/null || need+=(chromium)
	command -v npm >/dev/null || need+=(nodejs npm)
	command -v redis-server >/dev/null || need+=(redis-server)
	;;
bench)
	command -v wrk >/dev/null || need+=(wrk)
	command -v redis-server >/dev/null || need+=(redis-server)
	;;
demo) ;;
*) echo "deps.sh: unknown mode $mode (test, demo or bench)" >&2; exit 2 ;;
esac
if ((${#need[@]})); then
	echo "deps.sh: installing ${need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO=sudo
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [[ "$mode" == test ]]; then
	# The accessibility checks' axe-core, exactly as locked; again when the
	# lock file changed since the last install.
	browser="$(cd "$(dirname "${BASH_SOURCE[0]}")/../e2e/browser" && pwd)"
	if [[ ! -f "$browser/node_modules/axe-core/axe.min.js" || "$browser/package-lock.json" -nt "$browser/node_modules/.package-lock.json" ]]; then
		echo "deps.sh: npm ci in e2e/browser (axe-core)" >&2
		(cd "$browser" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
	fi
fi
