#!/bin/sh
# Runs redis-benchmark against the leader of a three-node crabkv cluster
# (crabkv serve --cluster, three processes on loopback) and against a
# single crabkv serve, both durable, and prints the medians and ranges.
#
#   bench/resp/cluster.sh [trials]   (default 3)
#
# Each trial starts fresh processes and data directories and runs
#   redis-benchmark -t set,get -n $N -c 20 -q     (N=20000 by default)
# the single server and the cluster alternating, so that drift in the
# machine hits both alike. Needs: go, redis-cli, redis-benchmark.
set -eu

trials=${1:-3}
n=${N:-20000}
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
(cd "$root" && go build -o "$work/crabkv" .)

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
bench() { # port -> "set get" requests per second
	redis-benchmark -p "$1" -t set,get -n "$n" -c 20 -q 2>/dev/null | tr '\r' '\n' |
		awk '/^SET:/{s=$2} /^GET:/{g=$2} END{print s, g}'
}

for t in $(seq "$trials"); do
	d=$(mktemp -d "$work/single.XXXXXX")
	"$work/crabkv" serve --dir "$d" --addr 127.0.0.1:6481 2>"$d.log" & pids="$!"
	waitfor 6481
	echo "single $(bench 6481)" >>"$work/results"
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
	echo "cluster $(bench 6491)" >>"$work/results"
	stopall
done

# median and range of column $2 for rows starting $1
stat() {
	grep "^$1 " "$work/results" | awk -v c="$2" '{print $c}' | sort -n |
		awk '{v[NR]=$1} END{m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%.0f (%.0f–%.0f)", m, v[1], v[NR]}'
}
echo "| redis-benchmark -n $n -c 20, $trials trials | SET req/s median (min–max) | GET req/s median (min–max) |"
echo "|---|---|---|"
echo "| crabkv serve | $(stat single 2) | $(stat single 3) |"
echo "| 3-node cluster, leader | $(stat cluster 2) | $(stat cluster 3) |"
