# bench/lib.sh - sourced by the benchmark scripts: paths, the test world,
# the tools, the machine line.  bench_init NAME skips (exit 0) unless root.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
BIN=$TOP/$BUILD
. "$TOP/tests/lib/util.sh"

bench_init() {
	BENCH_NAME=$1
	cd "$TOP" || exit 1
	[ "$(id -u)" -eq 0 ] || { echo "$BENCH_NAME: needs root; skipped"; exit 0; }
	[ -x "$BIN/dracd" ] || { echo "$BENCH_NAME: $BIN/dracd missing (make all)"; exit 1; }
	. "$TOP/tests/lib/world.sh"
	. "$TOP/tests/lib/dracd.sh"
}

# bench_tool NAME: build/bench/tool_NAME, built by make when missing.
bench_tool() {
	make -s -C "$TOP" "$BUILD/bench/tool_$1" >/dev/null ||
		{ echo "$BENCH_NAME: cannot build tool_$1"; exit 1; }
}

bench_machine() {
	echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r)"
	echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
}
