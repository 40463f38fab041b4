#!/usr/bin/env bash
# `go mod tidy` in every module of the repository (tools/kratos excluded: tidy
# it by hand, with GOWORK=off, when changing the Kratos version).
#
#   scripts/tidy.sh           tidy every module
#   scripts/tidy.sh DIR...    tidy these modules only (e.g. adapters/gin)
#
# Why a script: `go mod tidy` ignores go.work, and a sub-module requires the
# root module (and e2e, examples/gin the gin adapter) at the version that is
# about to be released, which the module proxy does not have yet. go.work
# has a `replace PATH VERSION => DIR` line for each such unpublished version.
# For the tidy, this script adds the same replacements to the module's go.mod,
# runs `GOWORK=off go mod tidy`, and removes them again, so that go.mod files
# never keep a replace directive. go.sum gets no line for a replaced version
# (there is no published zip to hash yet); once the version is published and
# its line in go.work removed (RELEASING.md), the tidy fetches it like any
# other module and records its checksums.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [[ $# -gt 0 ]]; then
	MODULES=("$@")
else
	mapfile -t MODULES < <(find . -name go.mod -not -path './tools/*' -not -path './.*' -printf '%h\n' | sort)
fi

# "PATH VERSION DIR" for each versioned replacement by a directory in go.work,
# in the one-line or the block form.
mapfile -t REPLACES < <(awk '
	/^replace[ \t]*\(/ { block = 1; next }
	block && /^\)/ { block = 0; next }
	block { print; next }
	/^replace[ \t]/ { sub(/^replace[ \t]+/, ""); print }
' go.work | awk '$3 == "=>" && NF == 4 && $4 ~ /^(\.|\/)/ { print $1, $2, $4 }')

for mod in "${MODULES[@]}"; do
	mod="${mod%/}"
	[[ -f "$mod/go.mod" ]] || { echo "tidy.sh: $mod/go.mod not found" >&2; exit 1; }
	self="$(awk '$1 == "module" { print $2; exit }' "$mod/go.mod")"
	add=() drop=()
	for r in "${REPLACES[@]}"; do
		read -r path version dir <<<"$r"
		[[ "$path" == "$self" ]] && continue
		rel="$(realpath -m --relative-to="$ROOT/$mod" "$ROOT/$dir")"
		[[ "$rel" == .* ]] || rel="./$rel"
		add+=("-replace=$path@$version=$rel")
		drop+=("-dropreplace=$path@$version")
	done
	echo "== go mod tidy ($mod)${add[*]:+, with ${#add[@]} replacement(s) from go.work}"
	if ((${#add[@]} == 0)); then
		(cd "$mod" && GOWORK=off go mod tidy)
		continue
	fi
	cp "$mod/go.mod" "$mod/go.mod.tidy-bak"
	if ! (cd "$mod" && go mod edit "${add[@]}" && GOWORK=off go mod tidy); then
		mv -f "$mod/go.mod.tidy-bak" "$mod/go.mod"
		echo "tidy.sh: go mod tidy failed in $mod; go.mod restored" >&2
		exit 1
	fi
	(cd "$mod" && go mod edit "${drop[@]}")
	rm -f "$mod/go.mod.tidy-bak"
	if grep -q '^replace' "$mod/go.mod"; then
		echo "tidy.sh: $mod/go.mod has a replace directive; go.mod files must not (use go.work)" >&2
		exit 1
	fi
done
