#!/bin/bash
for t in 1 2; do
for v in A B; do
  echo "== $v trial $t $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
  /tmp/bench$v -trials 1 -engines crabkv -workloads scan-full,scan-seek -scan-n 10000000 -reopen-n '' -json-n 0 -compact-n 0 -dir /tmp/s10/d -out /tmp/s10/o$v$t 2>&1 | grep -v '^wrote'
  python3 - "$v" "$t" <<'PY'
import json,sys
v,t=sys.argv[1],sys.argv[2]
for line in open(f"/tmp/s10/o{v}{t}/trials.jsonl"):
    r=json.loads(line)
    print(v,t,r.get("workload") or r.get("id"), {k:r[k] for k in r if k in("seconds","values","extra")})
PY
done; done
echo done $(date +%T)
