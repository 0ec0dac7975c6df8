#!/usr/bin/env bash
# make-cluster.sh renders screenshots/cluster.png: the inspector connected
# to a follower of a three-node cluster (crabkv serve --cluster), with the
# cluster line under the title. The terminal session is the one of the tui
# test TestClusterInTmux, which starts the cluster, writes the data and
# captures the screen (tmux capture-pane -e) when CRABKV_CLUSTER_SHOT names
# a file; the capture is rendered with freeze as in make.sh.
#
# Needs tmux, rsvg-convert (Debian librsvg2-bin) and freeze in ./.bin:
#   GOBIN=$PWD/.bin go install github.com/charmbracelet/freeze@v0.2.2
# Run from the repository root: screenshots/make-cluster.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
freeze=${FREEZE:-$root/.bin/freeze}
[ -x "$freeze" ] || { echo "make-cluster.sh: $freeze not found; see the comment at the top" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$root" && CRABKV_CLUSTER_SHOT="$work/cluster.ansi" go test ./tui -run '^TestClusterInTmux$' -count=1)
# As make.sh's render: spell out tmux's default colours for freeze.
sed -e 's/\x1b\[39m/\x1b[38;2;221;221;221m/g' -e 's/\x1b\[49m/\x1b[48;2;23;23;23m/g' \
	-e 's/$/\x1b[0m/' "$work/cluster.ansi" > "$work/cluster.fixed.ansi"
"$freeze" --window --padding 20 --font.family "JetBrains Mono" \
	--background "#171717" --output "$root/screenshots/cluster.png" < "$work/cluster.fixed.ansi" >/dev/null
echo "wrote screenshots/cluster.png"
