#!/usr/bin/env bash
# Measures the writing side of the vhdx command against QEMU:
#   (a) convert: raw -> dynamic VHDX, vhdx convert vs qemu-img convert, on
#       random data with zero regions;
#   (b) merge: a three-level chain made with vhdx create/write merged into
#       one dynamic VHDX, vs the fastest way QEMU makes the same standalone
#       image. QEMU cannot read VHDX differencing chains, so it converts a
#       flat VHDX of the same content (vhdx -> vhdx) instead;
#   (c) reading: vhdx cat through the chain vs vhdx cat of the merged image.
# Times are the best of BENCH_RUNS wall-clock runs; everything lives in
# /dev/shm so the disk does not blur the figures.
#   VHDX=path/to/vhdx (default bin/vhdx)   BENCH_SIZE_MIB=2048 (convert)
#   BENCH_CHAIN_MIB=1024 (chain)   BENCH_RUNS=3
set -euo pipefail
cd "$(dirname "$0")/.."

vhdx=${VHDX:-$PWD/bin/vhdx}
size_mib=${BENCH_SIZE_MIB:-2048}
chain_mib=${BENCH_CHAIN_MIB:-1024}
runs=${BENCH_RUNS:-3}
bench=bench-write.sh
# shellcheck source=build/bench-lib.sh
. build/bench-lib.sh

need_vhdx
need_tools qemu-img
if ((size_mib < 256 || chain_mib < 256)); then
	bench_fail "BENCH_SIZE_MIB and BENCH_CHAIN_MIB must be at least 256"
fi
# Phase (a) holds the source and two images; phase (b) the chain (at most
# 1.5x its size), two merged images and one output of cat.
need_mib=$((3 * size_mib > 5 * chain_mib ? 3 * size_mib : 5 * chain_mib))
need_mib=$((need_mib + 256))
need_shm "$need_mib" "lower BENCH_SIZE_MIB or BENCH_CHAIN_MIB"

work=$(mktemp -d /dev/shm/vhdx-bench-write.XXXXXX)
trap 'rm -rf "$work"' EXIT
MiB=$((1024 * 1024))


mbps() { awk -v b="$1" -v ns="$2" 'BEGIN { printf "%.0f", b * 1000 / ns }'; }             # BYTES NS
ms() { awk -v ns="$1" 'BEGIN { printf "%.0f", ns / 1e6 }'; }                              # NS
speedup() { awk -v ours="$1" -v other="$2" 'BEGIN { printf "%.2f", other / ours }'; }     # times -> speed ratio
row() { printf '  %-44s %8s ms %7s MB/s\n' "$1" "$(ms "$2")" "$(mbps "$3" "$2")"; }      # LABEL NS BYTES
same() {                                                                                   # LABEL VHDX RAW
	if ! "$vhdx" cat "$2" | cmp -s - "$3"; then
		bench_fail "$1: $2 does not hold the expected data"
	fi
}

# ---------------------------------------------------------------------------
# (a) raw -> VHDX

bytes=$((size_mib * MiB))
raw=$work/in.raw
echo "Preparing $size_mib MiB of random data with zero regions in $work"
head -c "$bytes" /dev/urandom >"$raw"
# Zeros as data (not holes), so both tools must find them: 1/32 of the
# file at 1/8, 1/2 and 13/16 of it, and 1/32 + 3 MiB (not a whole number of
# blocks) at 5/16.
zero_mib=0
z=$((size_mib / 32))
for spec in "$((size_mib / 8)) $z" "$((size_mib / 2)) $z" "$((size_mib * 13 / 16)) $z" "$((size_mib * 5 / 16)) $((z + 3))"; do
	read -r at len <<<"$spec"
	dd if=/dev/zero of="$raw" bs=1M seek="$at" count="$len" conv=notrunc status=none
	zero_mib=$((zero_mib + len))
done
if (($(stat -c %s "$raw") != bytes)); then
	bench_fail "the zero regions changed the size of $raw"
fi

t_ours=$(best_ns "$work/out.vhdx" "$vhdx" convert "$raw" "$work/out.vhdx")
same "convert" "$work/out.vhdx" "$raw"
ours_file=$(stat -c %s "$work/out.vhdx")
rm -f "$work/out.vhdx"
t_qemu=$(best_ns "$work/q.vhdx" qemu-img convert -f raw -O vhdx -o subformat=dynamic "$raw" "$work/q.vhdx")
same "qemu-img convert" "$work/q.vhdx" "$raw"
qemu_file=$(stat -c %s "$work/q.vhdx")
rm -f "$work/q.vhdx" "$raw"

echo
echo "(a) raw -> dynamic VHDX, $size_mib MiB (random data, $zero_mib MiB of zeros), best of $runs:"
row "vhdx convert in.raw out.vhdx" "$t_ours" "$bytes"
row "qemu-img convert -O vhdx -o subformat=dynamic" "$t_qemu" "$bytes"
echo "  vhdx/qemu speed $(speedup "$t_ours" "$t_qemu")x (above 1: vhdx is faster); output files: vhdx $((ours_file / MiB)) MiB, qemu $((qemu_file / MiB)) MiB"

# ---------------------------------------------------------------------------
# (b) merge, (c) read through the chain

cbytes=$((chain_mib * MiB))
base=$work/base.vhdx mid=$work/mid.avhdx top=$work/top.avhdx
echo
echo "Building a $chain_mib MiB chain base <- mid <- top with vhdx create and write"
"$vhdx" create "$base" "$cbytes"
head -c "$cbytes" /dev/urandom | "$vhdx" write "$base" 0
# Each child writes 8 runs of 1/32 of the disk (25% in all), starting at
# unaligned offsets so that most blocks they touch are partially present;
# the top's runs overlap half of each of the middle's.
piece=$((cbytes / 32))
"$vhdx" create --parent "$base" "$mid"
for ((i = 0; i < 8; i++)); do
	head -c "$piece" /dev/urandom | "$vhdx" write "$mid" $((i * cbytes / 8 + 5 * MiB + 512))
done
"$vhdx" create --parent "$mid" "$top"
for ((i = 0; i < 8; i++)); do
	head -c "$piece" /dev/urandom | "$vhdx" write "$top" $((i * cbytes / 8 + 5 * MiB + 512 + piece / 2 + 4096 + 7))
done

t_merge=$(best_ns "$work/m.vhdx" "$vhdx" merge "$top" "$work/m.vhdx")
"$vhdx" cat "$top" >"$work/expected.raw"
same "merge" "$work/m.vhdx" "$work/expected.raw"
# The flat image QEMU starts from: the merged image, checked just above.
t_qflat=$(best_ns "$work/q.vhdx" qemu-img convert -f vhdx -O vhdx -o subformat=dynamic "$work/m.vhdx" "$work/q.vhdx")
same "qemu-img convert of the flat image" "$work/q.vhdx" "$work/expected.raw"
rm -f "$work/q.vhdx" "$work/expected.raw"

t_cat_chain=$(best_ns "$work/x" sh -c '"$0" cat "$1" >"$2"' "$vhdx" "$top" "$work/x")
t_cat_flat=$(best_ns "$work/x" sh -c '"$0" cat "$1" >"$2"' "$vhdx" "$work/m.vhdx" "$work/x")
rm -f "$work/x"

echo
echo "(b) $chain_mib MiB three-level chain -> one dynamic VHDX, best of $runs:"
row "vhdx merge top.avhdx m.vhdx" "$t_merge" "$cbytes"
row "qemu-img convert -f vhdx -O vhdx (FLAT input)" "$t_qflat" "$cbytes"
echo "  vhdx/qemu speed $(speedup "$t_merge" "$t_qflat")x. QEMU cannot read VHDX chains: its figure is for a flat"
echo "  image of the same content, so it does less work (one layer, no sector bitmaps)."
echo
echo "(c) reading the whole disk, best of $runs:"
row "vhdx cat top.avhdx (through 3 layers)" "$t_cat_chain" "$cbytes"
row "vhdx cat m.vhdx (merged, flat)" "$t_cat_flat" "$cbytes"
echo "  chain/flat speed $(speedup "$t_cat_chain" "$t_cat_flat")x (1.00: the chain costs nothing extra)"
