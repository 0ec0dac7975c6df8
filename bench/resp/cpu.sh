#!/bin/sh
# Measures the server's CPU time per request under redis-benchmark: the
# user and system time the server process spent (from /proc/<pid>/stat)
# during each test, divided by the requests. On a machine whose cores the
# benchmark client shares, this is steadier than requests per second,
# which mostly measure the scheduler.
#
#   bench/resp/cpu.sh [trials] [binary...]
#
# Each binary (default: crabkv built from this tree) and redis-server are
# measured in turn, trial by trial (A, B, …, A, B, …), so that drift in the
# machine hits all alike. MODES="durable nosync" and PIPES="16 1" (the
# defaults) choose what runs; N (default 200000) is the requests per test.
# Prints one line per trial and a table of medians (min–max) in µs.
# Linux only (reads /proc). Needs: redis-server, redis-benchmark, redis-cli.
set -eu

trials=${1:-3}
[ $# -gt 0 ] && shift
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
name=cpu.sh
. "$root/bench/resp/servers.sh"
trap cleanup EXIT INT TERM

for tool in redis-server redis-benchmark redis-cli; do
	command -v "$tool" >/dev/null || { echo "cpu.sh: $tool is not installed" >&2; exit 2; }
done
if [ $# -eq 0 ]; then
	(cd "$root" && go build -o "$work/crabkv" .)
	set -- "$work/crabkv"
fi
n=${N:-200000}
port=6393
tick=$(getconf CLK_TCK)


# cputicks: the server's user + system clock ticks so far.
cputicks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

results="$work/results"
: >"$results"
for mode in ${MODES:-durable nosync}; do
	for p in ${PIPES:-16 1}; do
		t=1
		while [ "$t" -le "$trials" ]; do
			for kind in "$@" redis; do
				start "$kind" "$mode"
				for test in set get; do
					a=$(cputicks)
					redis-benchmark -p $port -t $test -n "$n" -c 50 -P "$p" -q >/dev/null 2>&1
					b=$(cputicks)
					us=$(awk -v d=$((b - a)) -v tk="$tick" -v n="$n" 'BEGIN { printf "%.3f", d / tk * 1e6 / n }')
					label=$(basename "$kind")
					echo "$label $mode $p $test $us" | tee -a "$results"
				done
				stop
			done
			t=$((t + 1))
		done
	done
done

echo
echo "server CPU µs per request, median (min–max) of $trials; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| server | durability | -P | SET | GET |"
echo "| --- | --- | --- | --- | --- |"
for kind in "$@" redis; do
	label=$(basename "$kind")
	for mode in ${MODES:-durable nosync}; do
		for p in ${PIPES:-16 1}; do
			row="| $label | $mode | $p"
			for test in set get; do
				row="$row | $(grep "^$label $mode $p $test " "$results" | awk '{print $5}' | median '%.2f (%.2f–%.2f)')"
			done
			echo "$row |"
		done
	done
done
