#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo need, when missing:
# gcc (cgo, for the race detector and Kratos' SQLite), curl and jq (demo), and Debian's
# Chromium for the browser test (no browser is downloaded from elsewhere).
# `deps.sh bench` also installs wrk, for the load comparison of make bench.
set -euo pipefail
need=()
command -v gcc >/dev/null || need+=(gcc libc6-dev)
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
command -v chromium >/dev/null || need+=(chromium)
if [[ "${1:-}" == bench ]]; then
	command -v wrk >/dev/null || need+=(wrk)
fi
if ((${#need[@]})); then
	echo "deps.sh: installing ${need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO=sudo
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
