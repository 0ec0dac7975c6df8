import json,statistics,sys
from collections import defaultdict
rows=[json.loads(l) for l in open(sys.argv[1])]
d=defaultdict(list)
for r in rows:
    x=r['r']; w=x['workload']; e=x['extra']
    d[(w,r['v'])].append((x['values'][w], e['ratio'], e['cpu_s']*1000, e['disk_mib_s'], r['load']))
print("| workload | version | trials | ms median (min–max) | ratio median (min–max) | CPU ms median | disk MiB/s median (min–max) | load |")
print("|---|---|---|---|---|---|---|---|")
for k in sorted(d):
    v=d[k]
    ms=[a[0] for a in v]; ra=[a[1] for a in v]; cpu=[a[2] for a in v]; dk=[a[3] for a in v]
    print("| %s | %s | %d | %.1f (%.1f–%.1f) | %.3f (%.3f–%.3f) | %.0f | %.0f (%.0f–%.0f) | %.1f–%.1f |"%(k[0],k[1],len(v),statistics.median(ms),min(ms),max(ms),statistics.median(ra),min(ra),max(ra),statistics.median(cpu),statistics.median(dk),min(dk),max(dk),min(a[4] for a in v),max(a[4] for a in v)))
