#!/usr/bin/env bash
# Measures `vhdx ls -r --deleted` against The Sleuth Kit's `fls -r` (both
# list every name, deleted ones included) on raw filesystem images of
# BENCH_FILES files (default 100000: 100 directories of 1000 files, half of
# them in a subdirectory): ext4 made by mkfs.ext4 -d, and NTFS made by
# mkntfs and filled through an ntfs-3g FUSE mount (ntfscp starts one
# process per file and would take hours; without FUSE the NTFS half is
# skipped with a message). Prints the best of BENCH_RUNS wall-clock times
# and CPU times (user + system) and the ratios ours/fls (target <= 1.0);
# on a shared machine the CPU ratio is the steadier. Everything lives in
# /dev/shm.
#   VHDX=path/to/vhdx (default bin/vhdx)   BENCH_FILES=100000   BENCH_RUNS=3
set -euo pipefail
cd "$(dirname "$0")/.."

vhdx=${VHDX:-$PWD/bin/vhdx}
files=${BENCH_FILES:-100000}
runs=${BENCH_RUNS:-3}
bench=bench-fs.sh
# shellcheck source=build/bench-lib.sh
. build/bench-lib.sh
dirs=100
per=$((files / dirs))

need_vhdx
need_tools fls mkfs.ext4 mkntfs /usr/bin/time

work=$(mktemp -d /dev/shm/vhdx-bench-fs.XXXXXX)
mnt=$work/mnt
cleanup() {
	if mountpoint -q "$mnt" 2>/dev/null; then umount "$mnt"; fi
	rm -rf "$work"
}
trap cleanup EXIT

# make_tree DIR: $dirs directories of $per files each, odd ones in sub/.
make_tree() {
	local d i
	for ((d = 0; d < dirs; d++)); do
		mkdir -p "$1/dir$d/sub"
		for ((i = 0; i < per; i++)); do
			if ((i % 2)); then
				echo "$i" >"$1/dir$d/sub/file-$i.txt"
			else
				echo "$i" >"$1/dir$d/file-$i.txt"
			fi
		done
	done
}

# best CMD...: the best wall and CPU (user + system) times, in seconds, of
# $runs runs of CMD (output discarded).
best() {
	local i out wall=0 cpu=0
	for ((i = 0; i < runs; i++)); do
		out=$(/usr/bin/time -f '%e %U %S' "$@" 2>&1 >/dev/null | tail -n 1)
		read -r wall cpu <<<"$(awk -v o="$out" -v w="$wall" -v c="$cpu" 'BEGIN {
			split(o, f, " "); nw = f[1]; nc = f[2] + f[3]
			if (w == 0 || nw < w) w = nw; if (c == 0 || nc < c) c = nc; print w, c }')"
	done
	echo "$wall $cpu"
}

report() { # LABEL IMAGE
	local n ours theirs
	n=$("$vhdx" ls -r --deleted "$2" 0 / | wc -l)
	ours=$(best "$vhdx" ls -r --deleted "$2" 0 /)
	theirs=$(best fls -r "$2")
	awk -v l="$1" -v n="$n" -v a="$ours" -v b="$theirs" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		printf "%-5s %7d entries   vhdx ls -r %6.2f s (cpu %5.2f s)   fls -r %6.2f s (cpu %5.2f s)   ratio %.2f (cpu %.2f)\n",
			l, n, x[1], x[2], y[1], y[2], x[1] / y[1], x[2] / y[2] }'
}

echo "bench-fs.sh: making $files files" >&2
make_tree "$work/tree"
mkfs.ext4 -q -N $((files + 10000)) -d "$work/tree" "$work/ext4.img" 1G
report ext4 "$work/ext4.img"

truncate -s 1G "$work/ntfs.img"
mkntfs -q -F -Q "$work/ntfs.img" >/dev/null 2>&1
mkdir -p "$mnt"
if command -v ntfs-3g >/dev/null 2>&1 && ntfs-3g "$work/ntfs.img" "$mnt" 2>/dev/null; then
	cp -r "$work/tree/." "$mnt/"
	umount "$mnt"
	report ntfs "$work/ntfs.img"
else
	echo "bench-fs.sh: cannot mount NTFS through FUSE here (ntfs-3g, /dev/fuse, root): NTFS skipped" >&2
fi
