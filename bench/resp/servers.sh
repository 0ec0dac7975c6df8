# Shared by run.sh and cpu.sh (sourced, not run): starting and stopping one
# server at a time on $port, with a fresh data directory under $work.
# The sourcing script sets work, port and name (its own name, for errors),
# and traps EXIT to call cleanup.

pid=

cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}

# start SERVER MODE: starts SERVER (a crabkv binary, or redis) on $port
# with a fresh directory, at MODE's durability (durable or nosync), and
# waits until it answers PING. CrabKv's default (fsync, group commit) is
# matched with Redis's appendfsync always; --no-sync with appendfsync no.
start() {
	dir=$(mktemp -d "$work/data.XXXXXX")
	if [ "$1" = redis ]; then
		fsync=always
		[ "$2" = durable ] || fsync=no
		redis-server --bind 127.0.0.1 --port $port --dir "$dir" --save '' \
			--appendonly yes --appendfsync "$fsync" --logfile "$dir.log" &
	elif [ "$2" = durable ]; then
		"$1" serve --dir "$dir" --addr 127.0.0.1:$port 2>"$dir.log" &
	else
		"$1" serve --dir "$dir" --addr 127.0.0.1:$port --no-sync 2>"$dir.log" &
	fi
	pid=$!
	i=0
	until redis-cli -p $port PING >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "$name: $1 did not start" >&2; cat "$dir.log" >&2; exit 1; }
		sleep 0.1
	done
}

stop() {
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
}

# median FORMAT: reads numbers, one a line, and prints their median, lowest
# and highest with FORMAT (three printf conversions), or "-" for none.
median() {
	sort -n | awk -v f="$1" '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "-"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf f, m, v[1], v[NR]
		}'
}
