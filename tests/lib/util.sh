# tests/lib/util.sh - small helpers shared by tests, benchmarks and the demo.

# eventually SECONDS command...: retry until it succeeds or time runs out.
eventually() {
	local end=$(( $(date +%s%N) + ${1%.*} * 1000000000 )); shift
	while :; do
		"$@" && return 0
		[ "$(date +%s%N)" -ge "$end" ] && return 1
		sleep 0.05
	done
}
