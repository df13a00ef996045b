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
for tool in qemu-img qemu-io base64 /usr/bin/time go; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "bench-qcow2.sh: $tool not found: run build/setup.sh" >&2
		exit 1
	fi
done
# Source, image and two outputs at a time.
need_mib=$((4 * size_mib + 256))
free_mib=$(df -Pm /dev/shm | awk 'NR == 2 { print $4 }')
if ((free_mib < need_mib)); then
	echo "bench-qcow2.sh: /dev/shm has $free_mib MiB free, $need_mib MiB needed (lower BENCH_SIZE_MIB)" >&2
	exit 1
fi

work=$(mktemp -d /dev/shm/qcow2-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
vhdx=$work/vhdx
go build -o "$vhdx" ./cmd/vhdx
bytes=$((size_mib * 1024 * 1024))

ours() { "$vhdx" cat "$1" >"$2"; }
qemu() { qemu-img convert -f qcow2 -O raw "$1" "$2"; }

# best_ns FUNC IN OUT: the best wall time of $runs runs, in nanoseconds.
best_ns() {
	local best=0 t0 t1 i
	for ((i = 0; i < runs; i++)); do
		rm -f "$3"
		t0=$(date +%s%N)
		"$1" "$2" "$3"
		t1=$(date +%s%N)
		if ((best == 0 || t1 - t0 < best)); then best=$((t1 - t0)); fi
	done
	echo "$best"
}

mbps() { awk -v b="$bytes" -v ns="$1" 'BEGIN { printf "%.0f", b * 1000 / ns }'; }

bench_image() { # LABEL IMAGE TARGET
	local label=$1 img=$2 target=$3 t_ours t_qemu
	t_ours=$(best_ns ours "$img" "$work/ours.raw")
	t_qemu=$(best_ns qemu "$img" "$work/qemu.raw")
	if ! cmp -s "$work/ours.raw" "$work/qemu.raw"; then
		echo "bench-qcow2.sh: $label: our output differs from qemu-img's" >&2
		exit 1
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
best=0
peak_kb=0
for ((i = 0; i < runs; i++)); do
	t0=$(date +%s%N)
	/usr/bin/time -v -o "$work/time.txt" "$vhdx" info --json "$work/x.qcow2" >/dev/null
	t1=$(date +%s%N)
	if ((best == 0 || t1 - t0 < best)); then best=$((t1 - t0)); fi
	kb=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$work/time.txt")
	if ((kb > peak_kb)); then peak_kb=$kb; fi
done
echo "  wall time $((best / 1000000)) ms (target < 50), peak RSS $((peak_kb / 1024)) MiB (target < 32)"
