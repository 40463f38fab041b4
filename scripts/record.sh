#!/usr/bin/env bash
# Records the real Kratos' answers the offline tests replay, for each Kratos
# version (the arguments, default every version of
# internal/testing/kratostest/versions.txt):
#
#   scripts/record.sh [VERSION...]      e.g. scripts/record.sh v26.2.0
#
# - whoami answers into kratosauthtest/recorded (v1.3.1) or
#   kratosauthtest/recorded/VERSION (kratosauthtest.WithKratosVersion);
# - self-service flows into selfservice/testdata (v1.3.1) or
#   selfservice/testdata/kratos-VERSION (the catalog and rendering tests).
#
# Builds what is missing first (scripts/kratos.sh, hydra.sh). IDs, e-mail
# addresses and timestamps change on every recording; review the diff.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if (($#)); then versions=("$@"); else mapfile -t versions < <(scripts/kratos.sh versions); fi
scripts/hydra.sh build
for v in "${versions[@]}"; do
	scripts/kratos.sh build "$v"
	echo "== recording Kratos $v"
	KRATOS_VERSION="$v" KRATOSTEST_RECORD=1 go test -count=1 -run '^TestRecord$' ./internal/testing/kratostest
	KRATOS_VERSION="$v" KRATOSAUTH_RECORD=1 KRATOSAUTH_E2E=1 go test -count=1 -run '^TestRecord(Methods)?$' ./selfservice
done
