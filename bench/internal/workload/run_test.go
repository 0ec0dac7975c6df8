package workload

import (
	"testing"
)

// TestRunSmall runs every workload at a tiny size against CrabKv and one
// peer, checking that each reports its metrics without error.
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("opens real stores")
	}
	specs := Standard(Params{N: 300, SyncN: 20, ReopenNs: []int{300}})
	for _, engine := range []string{"crabkv", "leveldb"} {
		for _, s := range specs {
			name := engine
			if s.DiskOnly {
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
