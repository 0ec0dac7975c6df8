package workload

import "testing"

// TestCompactionSmall runs the compaction workloads at a tiny size and
// checks that each reports its figures, and that the variant with writers
// reports how they fared.
func TestCompactionSmall(t *testing.T) {
	for _, s := range CompactionSpecs(2000) {
		t.Run(s.ID, func(t *testing.T) {
			res := Run(s, "crabkv", t.TempDir(), 1)
			if res.Error != "" {
				t.Fatal(res.Error)
			}
			want := []string{"live_mib", "live_mib_s", "cpu_s", "disk_mib_s", "ratio"}
			if s.Threads > 1 {
				want = append(want, "alone_ms", "beside_over_alone", "max_put_ms")
			}
			for _, k := range want {
				if v, ok := res.Extra[k]; !ok || v < 0 || k != "cpu_s" && v == 0 && k != "max_put_ms" {
					t.Errorf("%s = %v, %v", k, v, ok)
				}
			}
			if res.Extra["live_mib"]*2 > res.Extra["log_mib"]*1.1 || res.Extra["live_mib"]*2 < res.Extra["log_mib"]*0.9 {
				t.Errorf("live %v MiB of a %v MiB log; want about half", res.Extra["live_mib"], res.Extra["log_mib"])
			}
		})
	}
	if res := Run(CompactionSpecs(10)[0], "pebble", t.TempDir(), 1); res.Error == "" {
		t.Error("the compaction workload ran for pebble")
	}
}
