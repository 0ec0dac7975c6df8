#!/bin/sh
# Runs redis-benchmark against crabkv serve and against redis-server, at the
# same durability, and prints a Markdown table of the medians.
#
#   bench/resp/run.sh [trials]       (default 3 trials)
#
# MODES="durable nosync" and PIPES="16 1" (the defaults) choose what runs;
# N (default 200000) is the requests per test.
#
# Pairs compared:
#   durable: crabkv serve (fsync, group commit)  vs  redis appendonly yes, appendfsync always
#   no sync: crabkv serve --no-sync             vs  redis appendonly yes, appendfsync no
# Each is measured with
#   redis-benchmark -t set,get -n 200000 -c 50 -P 16 -q     and with -P 1
# against a freshly started server on its own loopback port and a fresh
# data directory; one server runs at a time, and the trials of the two
# servers alternate so that drift in the machine hits both alike.
# Needs: go, redis-server, redis-benchmark (Debian: redis-server, redis-tools).
set -eu

trials=${1:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
name=run.sh
. "$root/bench/resp/servers.sh"
trap cleanup EXIT INT TERM

for tool in redis-server redis-benchmark redis-cli go; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool is not installed" >&2; exit 2; }
done
(cd "$root" && go build -o "$work/crabkv" .)

port=6391
n=${N:-200000}

results="$work/results"
: >"$results"
modes=${MODES:-durable nosync}
pipes=${PIPES:-16 1}
for mode in $modes; do
	for p in $pipes; do
		t=1
		while [ $t -le "$trials" ]; do
			for kind in crabkv redis; do
				server=$kind
				[ "$kind" = redis ] || server="$work/crabkv"
				start "$server" $mode
				redis-benchmark -p $port -t set,get -n "$n" -c 50 -P "$p" -q 2>/dev/null |
					tr '\r' '\n' | awk -v k=$kind -v m=$mode -v p=$p '
						/^SET: [0-9.]+ requests per second/ { print k, m, p, "SET", $2 }
						/^GET: [0-9.]+ requests per second/ { print k, m, p, "GET", $2 }' >>"$results"
				stop
			done
			t=$((t + 1))
		done
	done
done

# median and spread of every (kind, mode, pipeline, test)
summary() { # kind mode p test
	grep "^$1 $2 $3 $4 " "$results" | awk '{print $5}' | median '%d %d %d\n'
}

echo "redis-benchmark -t set,get -n $n -c 50 -P {$(echo $pipes | tr ' ' ,)} -q; $trials trials; requests/s, median (min–max)"
echo "$(nproc) CPUs, $(redis-server --version | cut -d' ' -f1-3), $(go version | cut -d' ' -f3)"
echo
echo "| durability | -P | test | crabkv serve | redis-server | crabkv / redis |"
echo "| --- | --- | --- | --- | --- | --- |"
for mode in $modes; do
	label="fsync (redis appendfsync always)"
	[ $mode = durable ] || label="--no-sync (redis appendfsync no)"
	for p in $pipes; do
		for test in SET GET; do
			c=$(summary crabkv $mode $p $test)
			r=$(summary redis $mode $p $test)
			echo "$c $r" | awk -v l="$label" -v p=$p -v t=$test '{
				printf "| %s | %s | %s | %d (%d–%d) | %d (%d–%d) | %.2f |\n", l, p, t, $1, $2, $3, $4, $5, $6, ($4 > 0 ? $1 / $4 : 0)
			}'
		done
	done
done
