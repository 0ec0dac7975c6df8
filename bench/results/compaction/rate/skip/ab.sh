#!/bin/bash
# Interleaved A/B of the compaction workloads: cb-old against cb-new, each trial in a fresh process.
out=${OUT:-/tmp/ab/results.jsonl}
for t in 1 2 3 4 5; do
 for spec in '{"ID":"compaction 100B","Kind":"compaction","N":1000000,"Threads":1,"CrabOnly":true}' '{"ID":"compaction 1KiB","Kind":"compaction","N":125000,"Threads":1,"ValueSize":1024,"CrabOnly":true}'; do
  for v in old new; do
   d=/work/main/bench/.work/ab-$v; rm -rf $d; mkdir -p $d
   load=$(cut -d' ' -f1 /proc/loadavg)
   r=$(/tmp/cb-$v -child "{\"Spec\":$spec,\"Engine\":\"crabkv\",\"Trial\":$t,\"Seed\":$t,\"Dir\":\"$d\"}" 2>/dev/null | tail -1)
   echo "{\"v\":\"$v\",\"load\":$load,\"r\":$r}" >> $out
   rm -rf $d; sync
  done
 done
done
echo finished
