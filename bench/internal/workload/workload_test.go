package workload

import (
	"sync"
	"testing"
)

func TestStandardAndSelect(t *testing.T) {
	specs := Standard(Params{N: 200000, SyncN: 5000, ReopenNs: []int{200000, 1000000}})
	ids := map[string]bool{}
	for _, s := range specs {
		if ids[s.ID] {
			t.Fatalf("duplicate workload ID %q", s.ID)
		}
		ids[s.ID] = true
		if s.Threads < 1 || s.N < 1 || s.Doc == "" {
			t.Errorf("spec %q is incomplete: %+v", s.ID, s)
		}
	}
	for _, want := range []string{"fdatasync", "fill-random", "fill-sync", "fill-sync x8", "fill-batch 100", "fill-batch 1000", "read-random", "read-random x2", "read-missing", "overwrite", "overwrite-all", "ycsb-a", "fill-stall", "read-random 4KiB", "read-random 64KiB", "fill 4KiB", "fill 64KiB", "fill-sync 4KiB", "fill-sync 64KiB", "reopen 200k", "reopen 1M", "reopen no hint 200k", "reopen no hint 1M"} {
		if !ids[want] {
			t.Errorf("missing workload %q", want)
		}
	}
	tests := []struct {
		names []string
		want  int
	}{
		{nil, len(specs)},
		{[]string{"reopen"}, 2},
		{[]string{"reopen-nohint"}, 2},
		{[]string{"read"}, 4},
		{[]string{"stall"}, 1},
		{[]string{"read-missing", "overwrite"}, 2},
		{[]string{"nothing"}, 0},
	}
	for _, tc := range tests {
		if got := len(Select(specs, tc.names)); got != tc.want {
			t.Errorf("Select(%q) = %d specs, want %d", tc.names, got, tc.want)
		}
	}
}

func TestMetrics(t *testing.T) {
	specs := Standard(Params{N: 10, SyncN: 10, ReopenNs: []int{10}})
	for _, s := range specs {
		m := s.Metrics()
		if m[0].Row != s.ID {
			t.Errorf("%s: first metric row %q", s.ID, m[0].Row)
		}
		wantLen, wantUnit := 1, OpsPerSec
		switch s.ID {
		case "fill-random":
			wantLen = 4
		case "fill 4KiB", "fill 64KiB", "fill-sync 4KiB", "fill-sync 64KiB":
			wantLen = 2
			if m[1].Row != PeakRSSRow(s.ID) || m[1].Unit != Bytes {
				t.Errorf("%s: second metric %+v, want its peak RSS", s.ID, m[1])
			}
		case "reopen 10", "reopen no hint 10":
			wantUnit = Millis
		case "overwrite-all":
			wantLen = 2
			if m[1].Row != RowDiskOverwrite || m[1].Unit != Bytes {
				t.Errorf("%s: second metric %+v, want the disk after it", s.ID, m[1])
			}
		case "fill-stall":
			wantLen, wantUnit = 4, Millis
			if m[2].Row != RowStallPuts || m[3].Row != RowStallGets || m[2].Unit != OpsPerSec || m[3].Unit != OpsPerSec {
				t.Errorf("%s: metrics %+v, want the Puts and Gets a second last", s.ID, m)
			}
		}
		if len(m) != wantLen || m[0].Unit != wantUnit {
			t.Errorf("%s: metrics %+v", s.ID, m)
		}
	}
	if !OpsPerSec.HigherBetter() || Millis.HigherBetter() || Bytes.HigherBetter() {
		t.Error("unit directions wrong")
	}
}

func TestParallelCoversEachIndexOnce(t *testing.T) {
	for _, threads := range []int{1, 2, 8} {
		const n = 1001
		var mu sync.Mutex
		seen := make([]int, n)
		_, err := parallel(threads, n, func(int) opFunc {
			return func(i uint64) error {
				mu.Lock()
				seen[i]++
				mu.Unlock()
				return nil
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("threads=%d: index %d run %d times", threads, i, c)
			}
		}
	}
}

func TestShortCount(t *testing.T) {
	for n, want := range map[int]string{200000: "200k", 1000000: "1M", 1500: "1500", 2000: "2k", 7: "7"} {
		if got := shortCount(n); got != want {
			t.Errorf("shortCount(%d) = %q, want %q", n, got, want)
		}
	}
}
