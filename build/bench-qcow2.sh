#!/usr/bin/env bash
# Measures reading qcow2 images against `qemu-img convert -O raw`, both
# writing to /dev/shm: a fully allocated image of random data (plain
# clusters), then the same amount of compressible data compressed with
# zlib and with zstd; then the time and peak RSS of opening a 64 TiB image
# and describing it (`vhdx info --json`). Our reader is `vhdx cat`, built here.
#   BENCH_SIZE_MIB=512   BENCH_RUNS=3
set -euo pipefail
cd "$(dirname "$0")/.."

size_mib=${BENCH_SIZE_MIB:-512}
runs=${BENCH_RUNS:-3}
bench=bench-qcow2.sh
# shellcheck source=build/bench-lib.sh
. build/bench-lib.sh
need_tools qemu-img qemu-io base64 /usr/bin/time go
# Source, image and two outputs at a time.
need_mib=$((4 * size_mib + 256))
need_shm "$need_mib" "lower BENCH_SIZE_MIB"

work=$(mktemp -d /dev/shm/qcow2-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
vhdx=$work/vhdx
go build -o "$vhdx" ./cmd/vhdx
bytes=$((size_mib * 1024 * 1024))

ours() { "$vhdx" cat "$1" >"$2"; }
qemu() { qemu-img convert -f qcow2 -O raw "$1" "$2"; }


mbps() { awk -v b="$bytes" -v ns="$1" 'BEGIN { printf "%.0f", b * 1000 / ns }'; }

bench_image() { # LABEL IMAGE TARGET
	local label=$1 img=$2 target=$3 t_ours t_qemu
	t_ours=$(best_ns "$work/ours.raw" ours "$img" "$work/ours.raw")
	t_qemu=$(best_ns "$work/qemu.raw" qemu "$img" "$work/qemu.raw")
	if ! cmp -s "$work/ours.raw" "$work/qemu.raw"; then
		bench_fail "$label: our output differs from qemu-img's"
	fi
	rm -f "$work/ours.raw" "$work/qemu.raw"
	echo "$label, $size_mib MiB, best of $runs:"
	printf '  %-18s %6s MB/s\n' "vhdx cat" "$(mbps "$t_ours")" "qemu-img convert" "$(mbps "$t_qemu")"
	awk -v a="$t_ours" -v b="$t_qemu" -v t="$target" \
		'BEGIN { printf "  time ours/qemu %.2f (target <= %s)\n", a / b, t }'
}

echo "Preparing $size_mib MiB of data in $work ($(nproc) CPUs)"
head -c "$bytes" /dev/urandom >"$work/random.raw"
qemu-img convert -f raw -O qcow2 "$work/random.raw" "$work/plain.qcow2"
rm -f "$work/random.raw"
bench_image "plain clusters (64 KiB, random data)" "$work/plain.qcow2" 1.0
rm -f "$work/plain.qcow2"

# Base64 text compresses to about three quarters: every cluster is stored compressed.
head -c $((bytes * 3 / 4)) /dev/urandom | base64 -w 0 | head -c "$bytes" >"$work/text.raw"
for type in zlib zstd; do
	qemu-img convert -c -f raw -O qcow2 -o compression_type=$type "$work/text.raw" "$work/$type.qcow2"
	bench_image "$type-compressed clusters (64 KiB, base64 text)" "$work/$type.qcow2" 0.7
	rm -f "$work/$type.qcow2"
done
rm -f "$work/text.raw"

echo
echo "vhdx info --json of a 64 TiB qcow2 with a few writes, best of $runs:"
qemu-img create -q -f qcow2 "$work/x.qcow2" 64T
qemu-io -f qcow2 -c "write -P 1 0 64k" -c "write -P 2 32T 64k" "$work/x.qcow2" >/dev/null
read -r best peak_kb <<<"$(best_rss "$vhdx" info --json "$work/x.qcow2")"
echo "  wall time $((best / 1000000)) ms (target < 50), peak RSS $((peak_kb / 1024)) MiB (target < 32)"
