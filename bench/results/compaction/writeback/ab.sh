#!/bin/bash
# Interleaved A/B of 'compaction 100B synced writers': A is the engine
# before the paced write-out (937582e) built with this bench's workload,
# B the engine after it. Usage: WORK=/tmp/dir ab.sh (bench-A and bench-B
# built into $WORK first; see README.md).
cd "$WORK" || exit 1
for t in 1 2 3; do
  for v in A B; do
    echo "== $v trial $t $(date +%T) load: $(cut -d' ' -f1-3 /proc/loadavg)" >> ab.log
    ./bench-$v -trials 1 -engines crabkv -workloads 'compaction 100B synced writers' \
      -reopen-n '' -scan-n '' -json-n 0 -dir "$WORK/e$v" -out "$WORK/p$v$t" >> ab.log 2>&1
    rm -rf "$WORK/e$v"
  done
done
