# Shell functions shared by the bench scripts (bench.sh, bench-write.sh,
# bench-qcow2.sh, bench-qcow2-write.sh, bench-fs.sh). Source it after
# setting bench (the script's name, for messages) and runs (BENCH_RUNS).

# bench_fail MESSAGE...: prints the message under the script's name and
# stops the script.
bench_fail() {
	echo "$bench: $*" >&2
	exit 1
}

# need_vhdx: the vhdx command at $vhdx must be built.
need_vhdx() {
	if [[ ! -x $vhdx ]]; then
		bench_fail "$vhdx not found: run 'make build' first"
	fi
}

# need_tools TOOL...: every tool must be installed.
need_tools() {
	local tool
	for tool; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			bench_fail "$tool not found: run build/setup.sh"
		fi
	done
}

# need_shm MIB HINT: /dev/shm must have MIB MiB free; HINT says how to
# need less.
need_shm() {
	local free_mib
	free_mib=$(df -Pm /dev/shm | awk 'NR == 2 { print $4 }')
	if ((free_mib < $1)); then
		bench_fail "/dev/shm has $free_mib MiB free, $1 MiB needed ($2)"
	fi
}

# best_ns OUT CMD...: runs CMD $runs times, its standard output discarded,
# removing OUT before each run (the tools refuse or append to an existing
# output), and prints the best wall time in nanoseconds. The last OUT is
# left in place.
best_ns() {
	local out=$1 best=0 t0 t1 i
	shift
	for ((i = 0; i < runs; i++)); do
		rm -f "$out"
		t0=$(date +%s%N)
		"$@" >/dev/null
		t1=$(date +%s%N)
		if ((best == 0 || t1 - t0 < best)); then best=$((t1 - t0)); fi
	done
	echo "$best"
}

# best_rss CMD...: runs CMD $runs times, its standard output discarded, and
# prints the best wall time in nanoseconds and the highest peak resident
# set size in KiB.
best_rss() {
	local best=0 peak_kb=0 t0 t1 kb i stats
	stats=$(mktemp)
	for ((i = 0; i < runs; i++)); do
		t0=$(date +%s%N)
		/usr/bin/time -v -o "$stats" "$@" >/dev/null
		t1=$(date +%s%N)
		if ((best == 0 || t1 - t0 < best)); then best=$((t1 - t0)); fi
		kb=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$stats")
		if ((kb > peak_kb)); then peak_kb=$kb; fi
	done
	rm -f "$stats"
	echo "$best $peak_kb"
}
