#!/usr/bin/env bash
# Measures the qcow2 writer: vhdx convert in.raw out.qcow2 against
# qemu-img convert -O qcow2 on the same raw file, plain, zlib-compressed
# (--compress zlib vs -c) and zstd-compressed (--compress zstd vs -c -o
# compression_type=zstd). The source mixes random data, program files from
# /usr (data that compresses as a disk's does) and zero regions written as
# data. Both tools read the whole file and leave zero clusters out. Times
# are the best of BENCH_RUNS wall-clock runs; everything lives in /dev/shm
# so the disk does not blur the figures. Each output is checked with
# qemu-img check and compare.
#   VHDX=path/to/vhdx (default bin/vhdx)   BENCH_SIZE_MIB=512   BENCH_RUNS=3
set -euo pipefail
cd "$(dirname "$0")/.."

vhdx=${VHDX:-$PWD/bin/vhdx}
size_mib=${BENCH_SIZE_MIB:-512}
runs=${BENCH_RUNS:-3}
bench=bench-qcow2-write.sh
# shellcheck source=build/bench-lib.sh
. build/bench-lib.sh

need_vhdx
need_tools qemu-img
if ((size_mib < 64)); then
	bench_fail "BENCH_SIZE_MIB must be at least 64"
fi
# The source and two images at most of its size.
need_mib=$((3 * size_mib + 64))
need_shm "$need_mib" "lower BENCH_SIZE_MIB"

work=$(mktemp -d /dev/shm/qcow2-bench-write.XXXXXX)
trap 'rm -rf "$work"' EXIT
MiB=$((1024 * 1024))
bytes=$((size_mib * MiB))
raw=$work/in.raw

echo "Preparing $size_mib MiB in $work: 3/8 random, 3/8 files from /usr, zero regions"
head -c $((bytes * 3 / 8)) /dev/urandom >"$raw"
find /usr/bin /usr/lib -type f -size +16k -print0 2>/dev/null | sort -z | xargs -0 cat 2>/dev/null |
	head -c $((bytes * 3 / 8)) >>"$raw" || true
head -c $((bytes - $(stat -c %s "$raw"))) /dev/urandom >>"$raw"
# Zeros as data (not holes), so both tools must find them: 1/32 of the
# file at 1/8, 1/2 and 13/16 of it, and 1/32 + 3 MiB at 5/16.
z=$((size_mib / 32))
for spec in "$((size_mib / 8)) $z" "$((size_mib / 2)) $z" "$((size_mib * 13 / 16)) $z" "$((size_mib * 5 / 16)) $((z + 3))"; do
	read -r at len <<<"$spec"
	dd if=/dev/zero of="$raw" bs=1M seek="$at" count="$len" conv=notrunc status=none
done
if (($(stat -c %s "$raw") != bytes)); then
	bench_fail "$raw is not $bytes bytes"
fi



# cpu_s OUT CMD...: runs CMD once more and prints its user + system CPU
# seconds, a figure other load on the machine blurs less than wall time.
cpu_s() {
	local out=$1
	shift
	rm -f "$out"
	/usr/bin/time -f '%U %S' -o "$work/time" "$@" >/dev/null
	awk '{ printf "%.2f", $1 + $2 }' "$work/time"
}

mbps() { awk -v b="$1" -v ns="$2" 'BEGIN { printf "%.0f", b * 1000 / ns }'; }         # BYTES NS
ms() { awk -v ns="$1" 'BEGIN { printf "%.0f", ns / 1e6 }'; }                          # NS
speedup() { awk -v ours="$1" -v other="$2" 'BEGIN { printf "%.2f", other / ours }'; } # times -> speed ratio
mib() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f", b / 1048576 }'; }       # FILE
same() {                                                                              # LABEL IMAGE
	if ! qemu-img compare -q -f qcow2 -F raw "$2" "$raw"; then
		bench_fail "$1: $2 does not hold the source's data"
	fi
	if ! qemu-img check -q -f qcow2 "$2"; then
		bench_fail "$1: qemu-img check finds errors or leaks in $2"
	fi
}

echo
echo "raw -> qcow2 (64 KiB clusters), $size_mib MiB, best of $runs:"
printf '  %-6s %9s %9s %10s %10s %9s %9s %9s %9s\n' "" "vhdx ms" "qemu ms" "vhdx MB/s" "qemu MB/s" "vhdx CPU" "qemu CPU" "vhdx MiB" "qemu MiB"
for comp in none zlib zstd; do
	case $comp in
	none) opts=() qopts=() ;;
	zlib) opts=(--compress zlib) qopts=(-c) ;;
	zstd) opts=(--compress zstd) qopts=(-c -o compression_type=zstd) ;;
	esac
	ours=("$vhdx" convert "${opts[@]}" "$raw" "$work/ours.qcow2")
	qemu=(qemu-img convert -f raw -O qcow2 "${qopts[@]}" "$raw" "$work/qemu.qcow2")
	t_ours=$(best_ns "$work/ours.qcow2" "${ours[@]}")
	c_ours=$(cpu_s "$work/ours.qcow2" "${ours[@]}")
	same "vhdx, $comp" "$work/ours.qcow2"
	t_qemu=$(best_ns "$work/qemu.qcow2" "${qemu[@]}")
	c_qemu=$(cpu_s "$work/qemu.qcow2" "${qemu[@]}")
	same "qemu-img, $comp" "$work/qemu.qcow2"
	printf '  %-6s %9s %9s %10s %10s %8ss %8ss %9s %9s   vhdx/qemu speed %sx, CPU %sx\n' "$comp" \
		"$(ms "$t_ours")" "$(ms "$t_qemu")" "$(mbps "$bytes" "$t_ours")" "$(mbps "$bytes" "$t_qemu")" "$c_ours" "$c_qemu" \
		"$(mib "$work/ours.qcow2")" "$(mib "$work/qemu.qcow2")" "$(speedup "$t_ours" "$t_qemu")" "$(speedup "$c_ours" "$c_qemu")"
	rm -f "$work/ours.qcow2" "$work/qemu.qcow2"
done
echo "  (ratios above 1: vhdx is faster or takes less CPU; $(nproc) CPUs, GOMAXPROCS ${GOMAXPROCS:-default})"
