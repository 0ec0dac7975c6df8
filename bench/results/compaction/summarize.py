import json,sys,statistics as st
rows={}
for path in sys.argv[1:]:
  for l in open(path):
    d=json.loads(l); r=d['r']; e=r.get('extra',{})
    k=(r['workload'],d['v'])
    rows.setdefault(k,[]).append((r['seconds'],e.get('cpu_s'),e.get('live_mib_s'),e.get('disk_mib_s'),e.get('ratio'),d['load'],e.get('live_mib')))
def f(xs,fmt):
  xs=sorted(xs); return (fmt%st.median(xs))+" ("+(fmt%xs[0])+"–"+(fmt%xs[-1])+")"
print("| workload | code | trials | wall s | CPU s | live MiB/s | probe MiB/s | ratio | load avg (1 min) |")
print("|---|---|---|---|---|---|---|---|---|")
for (w,v),xs in sorted(rows.items()):
  c=list(zip(*xs))
  print(f"| {w} ({xs[0][6]:.0f} MiB live) | {v} | {len(xs)} | {f(c[0],'%.2f')} | {f(c[1],'%.3f')} | {f(c[2],'%.1f')} | {f(c[3],'%.0f')} | {f(c[4],'%.3f')} | {f(c[5],'%.1f')} |")
