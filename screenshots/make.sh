#!/usr/bin/env bash
# make.sh renders PNG screenshots of the inspector from the real binary:
# it drives crabkv in a detached tmux session, captures the screen with its
# colours (tmux capture-pane -e) and renders the capture with freeze.
#
# Needs tmux, rsvg-convert (Debian librsvg2-bin) and freeze in ./.bin:
#   GOBIN=$PWD/.bin go install github.com/charmbracelet/freeze@v0.2.2
# Run from the repository root: screenshots/make.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/screenshots"
freeze="$root/.bin/freeze"
[ -x "$freeze" ] || { echo "make.sh: $freeze not found; see the comment at the top" >&2; exit 1; }
command -v tmux >/dev/null || { echo "make.sh: tmux not found" >&2; exit 1; }

work=$(mktemp -d)
sock="crabkv-shots-$$"
cleanup() { tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/crabkv" "$root"

# start DIR [ARGS...] runs crabkv in a session called s, 100x30 or $cols
# columns wide.
start() {
	local dir=$1; shift
	tmux -L "$sock" kill-server 2>/dev/null || true
	tmux -L "$sock" new-session -d -s s -x "${cols:-100}" -y 30 \
		"env TERM=xterm-256color COLORTERM=truecolor '$work/crabkv' --dir '$dir' $*"
}

# keys sends keys one at a time: Bubble Tea merges runes read together.
keys() {
	for k in "$@"; do tmux -L "$sock" send-keys -t s "$k"; sleep 0.12; done
}

# wait_for TEXT polls the screen until it shows TEXT.
wait_for() {
	for _ in $(seq 200); do
		tmux -L "$sock" capture-pane -t s -p | grep -qF -- "$1" && return 0
		sleep 0.05
	done
	echo "make.sh: screen never showed '$1':" >&2
	tmux -L "$sock" capture-pane -t s -p >&2
	exit 1
}

# quit presses q and waits for crabkv to exit and let go of its store.
quit() {
	keys q
	for _ in $(seq 200); do
		tmux -L "$sock" has-session -t s 2>/dev/null || return 0
		sleep 0.05
	done
	echo "make.sh: crabkv did not exit after q" >&2
	exit 1
}

# shot NAME renders the current screen to NAME.png.
shot() {
	tmux -L "$sock" capture-pane -t s -e -p > "$work/$1.ansi"
	render "$1"
}

# render NAME turns NAME.ansi into NAME.png. tmux writes "default colour"
# as SGR 39/49, which freeze ignores (the previous colour would run on), so
# they are spelled out as the colours freeze paints the window with, and
# every line ends with a reset.
render() {
	sed -e 's/\x1b\[39m/\x1b[38;2;221;221;221m/g' -e 's/\x1b\[49m/\x1b[48;2;23;23;23m/g' \
		-e 's/$/\x1b[0m/' "$work/$1.ansi" > "$work/$1.fixed.ansi"
	"$freeze" --window --padding 20 --font.family "JetBrains Mono" \
		--background "#171717" --output "$out/$1.png" < "$work/$1.fixed.ansi" >/dev/null
	echo "wrote screenshots/$1.png"
}

# 1. The key list and the value viewer on the demo data, filtered by prefix.
start "$work/demo" demo
wait_for "auto at 33%"
keys / ^ u s e r : 0 0 0 1 Enter j j
wait_for '"email"'
shot list-and-viewer

# 2. The edit form on a text value (a session: plain lines, which the
# built-in editor holds byte for byte).
keys Escape / ^ s e s s i o n : Enter
wait_for "key session:"
keys e
wait_for "Edit session:"
keys C-e Enter n o t e = e d i t e d Space i n Space t h e Space i n s p e c t o r
shot edit-form
keys Escape
quit

# 3. A binary value in a terminal wide enough for 16 bytes a row.
cols=140 start "$work/demo"
wait_for "auto at 33%"
keys / ^ b l o b / Enter
wait_for "view hex (auto)"
shot hex-view
quit

# catch NAME captures the screen until it shows a compaction in progress,
# and renders it as NAME.png.
catch() {
	for _ in $(seq 400); do
		tmux -L "$sock" capture-pane -t s -e -p > "$work/$1.ansi"
		if grep -q "compacting [^…]" <(sed 's/\x1b\[[0-9;]*m//g' "$work/$1.ansi") &&
			grep -q "%" "$work/$1.ansi"; then
			render "$1"
			return 0
		fi
		sleep 0.01
	done
	echo "make.sh: never caught the compaction in progress" >&2
	exit 1
}

# 4. A compaction in progress, on a bigger store (about 50 MiB of log).
"$work/crabkv" --dir "$work/big" demo --scale 25 --fill-only
start "$work/big"
wait_for "auto at 33%"
keys c
catch compacting
quit

# 5. Following a store another program holds open: it writes a key every
# 20ms and compacts when told to. The writer is the tui tests' writing
# program (TestLiveWriterChild), with about 100 MiB of log.
go test -c -o "$work/tui.test" "$root/tui"
mkdir "$work/live"
mkfifo "$work/live.in"
CRABKV_LIVE_WRITER="$work/live" CRABKV_LIVE_BULK=12000 \
	"$work/tui.test" -test.run '^TestLiveWriterChild$' < "$work/live.in" > "$work/live.out" &
writer=$!
exec 3> "$work/live.in"
for _ in $(seq 600); do grep -q '^ready$' "$work/live.out" && break; sleep 0.1; done
cols=110 start "$work/live"
wait_for "written by pid $writer"
sleep 1
echo compact >&3
catch live-compaction
exec 3>&-
kill "$writer"
quit

# 6. The inspector on a crabkv server over the network (crabkv --connect),
# with keys marked for export or deletion.
"$work/crabkv" --dir "$work/demo" serve --addr 127.0.0.1:0 2> "$work/serve.log" &
server=$!
for _ in $(seq 200); do grep -qs "serving" "$work/serve.log" && break; sleep 0.05; done
addr=$(sed -n 's/.* on \(127\.0\.0\.1:[0-9]*\)$/\1/p' "$work/serve.log")
tmux -L "$sock" kill-server 2>/dev/null || true
tmux -L "$sock" new-session -d -s s -x 100 -y 30 \
	"env TERM=xterm-256color COLORTERM=truecolor '$work/crabkv' --connect 'redis://$addr'"
wait_for "redis://$addr"
keys / ^ u s e r : 0 0 0 Enter Space Space j Space j
wait_for "3 marked"
shot connect
quit
kill -INT "$server"
wait "$server"

# 7. Expiring keys and a compressed value: the list marks the keys that
# expire, the viewer counts down the selected one's time left and shows the
# codec and ratio of its value.
"$work/crabkv" --dir "$work/demo" put --ttl 4m12s --codec zstd "session:ttl-demo" \
	"$(for i in $(seq 40); do printf '{"user":"crab","cart":[1,2,3],"step":%d}\n' "$i"; done)" >/dev/null
"$work/crabkv" --dir "$work/demo" put --ttl 90s "session:ttl-short" "logged in" >/dev/null
start "$work/demo"
wait_for "auto at 33%"
keys / ^ s e s s i o n : t t l Enter
wait_for "expires in"
shot ttl
quit

# 8. The key tree: the keys grouped by '/' (s switches from the ':' the
# demo's keys mostly hold), one group open, a key's value beside it.
cols=110 start "$work/demo"
wait_for "auto at 33%"
keys t
wait_for 'Tree by ":"'
keys s
wait_for 'Tree by "/"'
keys j Enter j j Enter
wait_for "▾ config/"
shot tree
keys Escape
quit

# 9. A key's history: four records of config/feature-flags still in the
# log, the first shown, read-only.
for v in '{"dark_mode":false}' '{"dark_mode":true,"beta":false}' '{"dark_mode":true,"beta":true}'; do
	"$work/crabkv" --dir "$work/demo" put config/feature-flags "$v" >/dev/null
done
"$work/crabkv" --dir "$work/demo" delete config/feature-flags >/dev/null
"$work/crabkv" --dir "$work/demo" put config/feature-flags '{"dark_mode":true,"beta":false,"rollout":0.25}' >/dev/null
cols=110 start "$work/demo"
wait_for "auto at 33%"
keys / ^ c o n f i g / f e a t u r e Enter
wait_for "key config/feature-flags"
keys h
wait_for "current"
keys g j Enter
wait_for '"beta": false'
shot history
keys Escape
quit

# 10. The keys of the largest values (s) and the size summary (S).
start "$work/demo"
wait_for "auto at 33%"
keys S
wait_for "ranked"
keys j
shot sizes
quit
