#!/usr/bin/env bash
# Measures `vhdx ls -r --deleted` against The Sleuth Kit's `fls -r` (both
# list every name, deleted ones included) on raw filesystem images of
# BENCH_FILES files (default 100000: 100 directories of 1000 files, half of
# them in a subdirectory): ext4 made by mkfs.ext4 -d, and NTFS made by
# mkntfs and filled through an ntfs-3g FUSE mount (ntfscp starts one
# process per file and would take hours; without FUSE the NTFS half is
# skipped with a message). Prints the best of BENCH_RUNS wall-clock times
# and the ratio ours/fls (target <= 1.0). Everything lives in /dev/shm.
#   VHDX=path/to/vhdx (default bin/vhdx)   BENCH_FILES=100000   BENCH_RUNS=3
set -euo pipefail
cd "$(dirname "$0")/.."

vhdx=${VHDX:-$PWD/bin/vhdx}
files=${BENCH_FILES:-100000}
runs=${BENCH_RUNS:-3}
dirs=100
per=$((files / dirs))

if [[ ! -x $vhdx ]]; then
	echo "bench-fs.sh: $vhdx not found: run 'make build' first" >&2
	exit 1
fi
for tool in fls mkfs.ext4 mkntfs; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "bench-fs.sh: $tool not found: run build/setup.sh" >&2
		exit 1
	fi
done

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

# best_ns CMD...: the best wall time of $runs runs of CMD (output discarded).
best_ns() {
	local best=0 t0 t1 i
	for ((i = 0; i < runs; i++)); do
		t0=$(date +%s%N)
		"$@" >/dev/null
		t1=$(date +%s%N)
		if ((best == 0 || t1 - t0 < best)); then best=$((t1 - t0)); fi
	done
	echo "$best"
}

report() { # LABEL IMAGE
	local n t_ours t_fls
	n=$("$vhdx" ls -r --deleted "$2" 0 / | wc -l)
	t_ours=$(best_ns "$vhdx" ls -r --deleted "$2" 0 /)
	t_fls=$(best_ns fls -r "$2")
	awk -v l="$1" -v n="$n" -v a="$t_ours" -v b="$t_fls" 'BEGIN {
		printf "%-5s %7d entries   vhdx ls -r %7.3f s   fls -r %7.3f s   ratio %.2f\n", l, n, a / 1e9, b / 1e9, a / b }'
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
