#!/usr/bin/env bash
# Runs every fuzz target of every package for FUZZTIME (default 10s) each.
# Targets are discovered with `go test -list`, so new ones are picked up
# without editing this script. New inputs are not minimised
# (-fuzzminimizetime=0): minimising each one can take the whole slot. A failing input is saved by Go under the
# package's testdata/fuzz/ directory; the script runs the remaining targets
# and exits 1 at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-10s}
failed=()
ran=0
for pkg in $(go list ./...); do
	list=$(go test -list '^Fuzz' "$pkg")
	targets=$(grep -E '^Fuzz[[:alnum:]_]*$' <<<"$list" || true)
	for target in $targets; do
		ran=$((ran + 1))
		echo "fuzz: $pkg $target ($fuzztime)"
		if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" -fuzzminimizetime=0 "$pkg"; then
			failed+=("$pkg $target")
		fi
	done
done

if ((${#failed[@]})); then
	printf 'fuzz: FAILED %s\n' "${failed[@]}" >&2
	exit 1
fi
if ((ran == 0)); then
	echo "fuzz: no fuzz targets found"
else
	echo "fuzz: $ran target(s) passed"
fi
