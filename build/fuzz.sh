#!/usr/bin/env bash
# Runs every fuzz target of every package for FUZZTIME (default 10s) each.
# Targets are discovered with `go test -list`, so new ones are picked up
# without editing this script. New inputs are not minimised
# (-fuzzminimizetime=0): minimising each one can take the whole slot.
# A failing input is saved by Go under the package's testdata/fuzz/
# directory; the script runs the remaining targets and exits 1 at the end.
#
# Go 1.26's fuzzing coordinator can fail a target with a bare "context
# deadline exceeded" when -fuzztime ends while a worker is busy (a race
# fixed in Go 1.27, golang/go#75804), having found nothing. Such a run,
# with no failing input written, is run once more, and only a second
# failure counts.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-10s}
failed=()
ran=0
flaked=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# fuzz PKG TARGET: runs one target, printing its output; the status is go test's.
fuzz() {
	go test -run='^$' -fuzz="^$2\$" -fuzztime="$fuzztime" -fuzzminimizetime=0 "$1" 2>&1 | tee "$log"
	return "${PIPESTATUS[0]}"
}

# deadline_only: the last run failed on the coordinator's deadline alone.
deadline_only() {
	grep -q '^    context deadline exceeded$' "$log" && ! grep -q 'Failing input written to' "$log"
}

for pkg in $(go list ./...); do
	list=$(go test -list '^Fuzz' "$pkg")
	targets=$(grep -E '^Fuzz[[:alnum:]_]*$' <<<"$list" || true)
	for target in $targets; do
		ran=$((ran + 1))
		echo "fuzz: $pkg $target ($fuzztime)"
		if fuzz "$pkg" "$target"; then
			continue
		fi
		if deadline_only; then
			flaked=$((flaked + 1))
			echo "fuzz: $target ended on the coordinator's deadline with no failing input; running it again"
			fuzz "$pkg" "$target" && continue
		fi
		failed+=("$pkg $target")
	done
done

if ((${#failed[@]})); then
	printf 'fuzz: FAILED %s\n' "${failed[@]}" >&2
	exit 1
fi
if ((ran == 0)); then
	echo "fuzz: no fuzz targets found"
else
	echo "fuzz: $ran target(s) passed ($flaked run again after a bare deadline)"
fi
