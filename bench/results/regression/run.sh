#!/bin/bash
# Interleaved runs of the standard workloads, CrabKv only, with two builds
# of this harness: bench-pre from the bench module of 5982b0b^ (before the
# key order), bench-fin from this one. Each run is a fresh set of child
# processes, one trial each.
#   (cd "$(git worktree add -f /tmp/wt-pre 5982b0b^ && echo /tmp/wt-pre)/bench" && go build -o /tmp/bench-pre .)
#   (cd bench && go build -o /tmp/bench-fin .)
W='fill-random,fill-sync,fill-sync x8,read-random,read-random x2,read-missing,overwrite,ycsb-a,reopen'
out=${OUT:-/tmp/regression}
for i in 1 2 3 4 5 6 7; do
  for v in pre fin; do
    extra=""
    [ $v = fin ] && extra="-json-n 0 -compact-n 0 -scan-n="
    rm -rf "$out/d-$v"; mkdir -p "$out/d-$v"
    /tmp/bench-$v -trials 1 -engines crabkv -workloads "$W" $extra -dir "$out/d-$v" -out "$out/o-$v-$i"
  done
done
