#!/usr/bin/env bash
# Measures `vhdx cat` throughput against `qemu-img convert` and plain cat on
# fully allocated images (fixed, and dynamic with 32 MiB blocks), then the
# time and peak RSS of `vhdx info` on a 64 TiB dynamic image.
# Everything lives in /dev/shm so the disk does not blur the figures.
#   VHDX=path/to/vhdx (default bin/vhdx)   BENCH_SIZE_MIB=2048   BENCH_RUNS=3
set -euo pipefail
cd "$(dirname "$0")/.."

vhdx=${VHDX:-$PWD/bin/vhdx}
size_mib=${BENCH_SIZE_MIB:-2048}
runs=${BENCH_RUNS:-3}
bench=bench.sh
# shellcheck source=build/bench-lib.sh
. build/bench-lib.sh

need_vhdx
need_tools qemu-img /usr/bin/time
# Source, two images and one output at a time, plus ~520 MiB for the 64 TiB image.
need_mib=$((4 * size_mib + 1024))
need_shm "$need_mib" "lower BENCH_SIZE_MIB"

work=$(mktemp -d /dev/shm/vhdx-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
raw=$work/source.raw
bytes=$((size_mib * 1024 * 1024))

ours() { "$vhdx" cat "$1" >"$2"; }
qemu() { qemu-img convert -f vhdx -O raw "$1" "$2"; }
plain() { cat "$1" >"$2"; }


mbps() { awk -v b="$bytes" -v ns="$1" 'BEGIN { printf "%.0f", b * 1000 / ns }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; } # speed ratio from times

bench_image() { # LABEL IMAGE
	local label=$1 img=$2 t_ours t_qemu t_cat
	t_ours=$(best_ns "$work/out.raw" ours "$img" "$work/out.raw")
	if ! cmp -s "$raw" "$work/out.raw"; then
		bench_fail "$label: vhdx cat output differs from the source data"
	fi
	rm -f "$work/out.raw"
	t_qemu=$(best_ns "$work/out2.raw" qemu "$img" "$work/out2.raw")
	rm -f "$work/out2.raw"
	t_cat=$(best_ns "$work/out3.raw" plain "$raw" "$work/out3.raw")
	rm -f "$work/out3.raw"
	echo "$label, $size_mib MiB of random data, best of $runs:"
	printf '  %-18s %6s MB/s\n' "vhdx cat" "$(mbps "$t_ours")" \
		"qemu-img convert" "$(mbps "$t_qemu")" "cat (raw file)" "$(mbps "$t_cat")"
	echo "  ours/qemu $(ratio "$t_ours" "$t_qemu")x   ours/cat $(ratio "$t_ours" "$t_cat")x   (throughput ratios; above 1 means vhdx is faster)"
}

echo "Preparing $size_mib MiB of random data in $work"
head -c "$bytes" /dev/urandom >"$raw"

qemu-img convert -f raw -O vhdx -o subformat=fixed "$raw" "$work/fixed.vhdx"
block=$(qemu-img info --output=json "$work/fixed.vhdx" | sed -n 's/.*"cluster-size": *\([0-9]*\).*/\1/p')
bench_image "fixed VHDX ($((block / 1024 / 1024)) MiB blocks)" "$work/fixed.vhdx"
rm -f "$work/fixed.vhdx"

qemu-img convert -f raw -O vhdx -o subformat=dynamic,block_size=32M "$raw" "$work/dynamic.vhdx"
bench_image "dynamic VHDX (32 MiB blocks)" "$work/dynamic.vhdx"
rm -f "$work/dynamic.vhdx" "$raw"

echo
echo "vhdx info on a 64 TiB dynamic VHDX with 1 MiB blocks, best of $runs:"
qemu-img create -q -f vhdx -o block_size=1M,subformat=dynamic "$work/x.vhdx" 64T
read -r best peak_kb <<<"$(best_rss "$vhdx" info "$work/x.vhdx")"
echo "  image file $(($(stat -c %s "$work/x.vhdx") / 1024 / 1024)) MiB"
echo "  wall time $((best / 1000000)) ms, peak RSS $((peak_kb / 1024)) MiB"
