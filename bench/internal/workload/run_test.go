package workload

import (
	"testing"

	"github.com/crabkv/crabkv/bench/internal/engines"
)

// TestRunSmall runs every workload at a tiny size against every engine,
// checking that each reports its metrics without error.
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("opens real stores")
	}
	specs := Standard(Params{N: 300, SyncN: 20, ReopenNs: []int{300}, ScanNs: []int{300}})
	names := engines.Names()
	for _, engine := range names {
		for _, s := range specs {
			name := engine
			if s.DiskOnly {
				if engine != names[0] {
					continue // no engine involved: once is enough
				}
				name = "disk"
			}
			t.Run(engine+"/"+s.ID, func(t *testing.T) {
				res := Run(s, name, t.TempDir(), 1)
				if res.Error != "" {
					t.Fatal(res.Error)
				}
				for _, m := range s.Metrics() {
					v, ok := res.Values[m.Row]
					if !ok || v <= 0 && m.Row != RowHeap {
						t.Errorf("metric %q = %v, %v", m.Row, v, ok)
					}
				}
			})
		}
	}
}
