#!/bin/sh
# Runs redis-benchmark and a Go client (go-redis: BenchmarkRESPClient in
# cluster/) against the leader of a three-node crabkv cluster (crabkv serve
# --cluster, three processes on loopback) and against a single crabkv
# serve, both durable, and prints Markdown tables of the medians and
# ranges: requests per second, the p50 and p99 latency of a round trip,
# and the CPU time the servers spent (all three nodes for the cluster) per
# 10,000 requests.
#
#   bench/resp/cluster.sh [trials]   (default 3)
#
# Each trial starts fresh processes and data directories and runs, for
# each P in PIPES (default "1 16"),
#   redis-benchmark -t set,get -n $N -c $C -P $P --csv   (N=50000, C=50)
# and the same through go-redis (50 clients, N/P round trips of P
# commands), the single server and the cluster alternating, so that drift
# in the machine hits both alike. Needs: go, redis-cli, redis-benchmark.
set -eu

trials=${1:-3}
n=${N:-50000}
c=${C:-50}
pipes=${PIPES:-1 16}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM
for tool in redis-benchmark redis-cli go; do
	command -v "$tool" >/dev/null || { echo "cluster.sh: $tool is not installed" >&2; exit 2; }
done
(cd "$root" && go build -o "$work/crabkv" . && go test -c -o "$work/cluster.test" ./cluster)
tick=$(getconf CLK_TCK)

waitfor() { # port
	i=0
	until redis-cli -p "$1" PING >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 300 ] || { echo "cluster.sh: nothing on port $1" >&2; exit 1; }
		sleep 0.1
	done
}
stopall() {
	for p in $pids; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	pids=
}
cpu() { # CPU seconds (user+system) of the running servers
	for p in $pids; do cat "/proc/$p/stat"; done |
		awk -v t="$tick" '{sub(/^.*\) /, ""); s += $12 + $13} END{printf "%.3f", s / t}'
}
bench() { # kind port: rows of "kind client P test rps p50 p99 cpu-per-10k"
	for p in $pipes; do
		for test in set get; do
			before=$(cpu)
			line=$(redis-benchmark -p "$2" -t "$test" -n "$n" -c "$c" -P "$p" --csv 2>/dev/null | tail -1)
			after=$(cpu)
			echo "$line" | tr -d '"' | awk -F, -v k="$1" -v p="$p" -v t="$test" -v b="$before" -v a="$after" -v n="$n" \
				'{printf "%s redis-benchmark %s %s %.0f %s %s %.3f\n", k, p, t, $2, $5, $7, (a - b) * 10000 / n}' >>"$work/results"
			before=$(cpu)
			line=$(CRABKV_BENCH_ADDR=127.0.0.1:$2 "$work/cluster.test" -test.run '^$' \
				-test.bench "RESPClient/^$test-P$p\$" -test.benchtime "$((n / p))x" | grep '^BenchmarkRESPClient')
			after=$(cpu)
			echo "$line" | awk -v k="$1" -v p="$p" -v t="$test" -v b="$before" -v a="$after" -v n="$n" \
				'{for (i = 3; i < NF; i++) m[$(i+1)] = $i
				  printf "%s go-redis %s %s %.0f %s %s %.3f\n", k, p, t, m["req/s"], m["p50-ms"], m["p99-ms"], (a - b) * 10000 / n}' >>"$work/results"
		done
	done
}

for t in $(seq "$trials"); do
	d=$(mktemp -d "$work/single.XXXXXX")
	"$work/crabkv" serve --dir "$d" --addr 127.0.0.1:6481 2>"$d.log" & pids="$!"
	waitfor 6481
	bench single 6481
	stopall

	d=$(mktemp -d "$work/cluster.XXXXXX")
	"$work/crabkv" serve --dir "$d/n1" --addr 127.0.0.1:6491 --cluster --node-id n1 \
		--raft-addr 127.0.0.1:7491 --bootstrap 2>"$d/n1.log" & pids="$!"
	waitfor 6491
	for i in 2 3; do
		"$work/crabkv" serve --dir "$d/n$i" --addr 127.0.0.1:649$i --cluster --node-id n$i \
			--raft-addr 127.0.0.1:749$i --join 127.0.0.1:6491 2>"$d/n$i.log" & pids="$pids $!"
		waitfor 649$i
	done
	redis-cli -p 6491 INFO cluster | grep -q '^cluster_role:leader' ||
		{ echo "cluster.sh: n1 is not the leader" >&2; exit 1; }
	bench cluster 6491
	stopall
done
[ -z "${KEEP:-}" ] || cp "$work/results" "$KEEP"

# median (min–max) of column $5 for rows starting "$1 $2 $3 $4 "
stat() {
	grep "^$1 $2 $3 $4 " "$work/results" | awk -v c="$5" '{print $c}' | sort -g |
		awk '{v[NR]=$1} END{m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%g (%g–%g)", m, v[1], v[NR]}'
}
for p in $pipes; do
	echo
	echo "-n $n -c $c -P $p, $trials trials; load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "| server | client | test | req/s | p50 ms | p99 ms | server CPU s per 10k req |"
	echo "|---|---|---|---|---|---|---|"
	for k in single cluster; do
		for cl in redis-benchmark go-redis; do
			for test in set get; do
				name="crabkv serve"; [ "$k" = single ] || name="3-node cluster, leader"
				echo "| $name | $cl | $(echo $test | tr a-z A-Z) | $(stat $k $cl $p $test 5) | $(stat $k $cl $p $test 6) | $(stat $k $cl $p $test 7) | $(stat $k $cl $p $test 8) |"
			done
		done
	done
done
