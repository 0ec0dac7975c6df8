package report

import (
	"bytes"
	"flag"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/crabkv/crabkv/bench/internal/workload"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixture is a small run: three trials of two workloads on three engines,
// plus the disk probe, with one engine failing one workload.
func fixture() *Report {
	specs := workload.Standard(workload.Params{N: 1000, SyncN: 100})
	specs = workload.Select(specs, []string{"fdatasync", "fill-random", "read-random"})
	var results []workload.Result
	add := func(engine, wl string, trial int, vals map[string]float64, err string) {
		results = append(results, workload.Result{Engine: engine, Workload: wl, Trial: trial, Values: vals, Error: err})
	}
	for t := 1; t <= 3; t++ {
		f := float64(t)
		add("disk", "fdatasync", t, map[string]float64{"fdatasync": 1000 * f}, "")
		add("crabkv", "fill-random", t, map[string]float64{"fill-random": 100000 * f, workload.RowDisk: 2 << 20, workload.RowHeap: 1 << 20, workload.RowRSS: 30 << 20}, "")
		add("alpha", "fill-random", t, map[string]float64{"fill-random": 50000 * f, workload.RowDisk: 4 << 20, workload.RowHeap: 0, workload.RowRSS: 20 << 20}, "")
		add("beta", "fill-random", t, map[string]float64{"fill-random": 400000, workload.RowDisk: 3 << 20, workload.RowHeap: 8 << 20, workload.RowRSS: 60 << 20}, "")
		add("crabkv", "read-random", t, map[string]float64{"read-random": 500000 + f}, "")
		add("alpha", "read-random", t, map[string]float64{"read-random": 250000}, "")
		add("beta", "read-random", t, nil, "open: boom")
	}
	rows, probe := Aggregate(specs, results)
	return &Report{
		Title:    "test run",
		Command:  "cd bench && go run . -n 1000",
		Date:     "2026-01-02 03:04 UTC",
		Machine:  Machine{CPU: "Test CPU", Cores: 2, Memory: "1.0 GiB", GoVersion: "go1.26", Kernel: "Linux 6", Dir: "/d", FileSystem: "ext4 on /dev/x"},
		Engines:  []string{"crabkv", "alpha", "beta"},
		Baseline: "crabkv",
		Trials:   3,
		Probe:    probe,
		Rows:     rows,
		Settings: map[string][2]string{"crabkv": {"nosync", "sync"}},
	}
}

func TestAggregate(t *testing.T) {
	rep := fixture()
	if rep.Probe == nil || rep.Probe.Median[DiskEngine] != 2000 {
		t.Fatalf("probe = %+v, want median 2000", rep.Probe)
	}
	var ids []string
	for _, r := range rep.Rows {
		ids = append(ids, r.ID)
	}
	want := []string{"fill-random", "read-random", workload.RowDisk, workload.RowHeap, workload.RowRSS}
	if !slices.Equal(ids, want) {
		t.Fatalf("rows %q, want %q", ids, want)
	}
	fill, read := rep.Rows[0], rep.Rows[1]
	if got := fill.Median["crabkv"]; got != 200000 {
		t.Errorf("crabkv fill median = %v, want 200000", got)
	}
	if len(fill.Trials["alpha"]) != 3 {
		t.Errorf("alpha trials = %v", fill.Trials["alpha"])
	}
	if _, ok := read.Median["beta"]; ok || read.Errors["beta"] != "open: boom" {
		t.Errorf("beta read: median %v, error %q", read.Median, read.Errors["beta"])
	}
}

func TestRatios(t *testing.T) {
	rep := fixture()
	fill, read, disk, heap := rep.Rows[0], rep.Rows[1], rep.Rows[2], rep.Rows[3]
	tests := []struct {
		name      string
		got, want float64
	}{
		{"fill baseline vs best peer", fill.BaselineRatio("crabkv"), 0.5},
		{"read baseline vs best peer (beta failed)", read.BaselineRatio("crabkv"), 500002.0 / 250000},
		{"disk baseline vs best peer", disk.BaselineRatio("crabkv"), 2.0 / 3},
		{"fill score of best", fill.Score("beta"), 1},
		{"fill score of alpha", fill.Score("alpha"), 0.25},
		{"disk score of alpha", disk.Score("alpha"), 0.5},
		{"heap score with a zero best", heap.Score("beta"), 0},
		{"vs best peer for alpha", fill.VsBestPeer("alpha"), 0.25},
		{"failed engine has no score", read.Score("beta"), math.NaN()},
	}
	for _, tc := range tests {
		if !(math.Abs(tc.got-tc.want) < 1e-9 || math.IsNaN(tc.got) && math.IsNaN(tc.want)) {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		v           float64
		u           workload.Unit
		long, brief string
	}{
		{1234567.4, workload.OpsPerSec, "1,234,567 ops/s", "1.23M ops/s"},
		{45678, workload.OpsPerSec, "45,678 ops/s", "46k ops/s"},
		{999, workload.OpsPerSec, "999 ops/s", "999 ops/s"},
		{12.345, workload.Millis, "12.3 ms", "12.3 ms"},
		{3 << 20, workload.Bytes, "3.0 MiB", "3.0 MiB"},
		{math.NaN(), workload.OpsPerSec, "n/a", "n/a"},
	}
	for _, tc := range tests {
		if got := Format(tc.v, tc.u); got != tc.long {
			t.Errorf("Format(%v, %s) = %q, want %q", tc.v, tc.u, got, tc.long)
		}
		if got := Short(tc.v, tc.u); got != tc.brief {
			t.Errorf("Short(%v, %s) = %q, want %q", tc.v, tc.u, got, tc.brief)
		}
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		file  string
		write func(*bytes.Buffer, *Report) error
	}{
		{"results.md", func(b *bytes.Buffer, r *Report) error { return WriteMarkdown(b, r) }},
		{"results.csv", func(b *bytes.Buffer, r *Report) error { return WriteCSV(b, r) }},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(&b, fixture()); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("output differs from %s (rerun with -update to accept):\n%s", path, b.String())
			}
		})
	}
}

func TestWritePNG(t *testing.T) {
	var b bytes.Buffer
	if err := WritePNG(&b, fixture()); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	if w := img.Bounds().Dx(); w != chartWidth {
		t.Errorf("width %d, want %d", w, chartWidth)
	}
}

func TestBarOfCosts(t *testing.T) {
	heap := fixture().Rows[3] // crabkv 1 MiB, alpha 0, beta 8 MiB
	l, label, ok := barOf(heap, "beta")
	if !ok || l != 1 || label != "8.0 MiB" {
		t.Errorf("beta bar = %v %q %v, want the full length and no multiple of a zero best", l, label, ok)
	}
	l, label, _ = barOf(heap, "alpha")
	if l != 0 || label != "0.0 MiB  (best)" {
		t.Errorf("alpha bar = %v %q", l, label)
	}
	disk := fixture().Rows[2] // crabkv 2, alpha 4, beta 3 MiB
	if _, label, _ := barOf(disk, "alpha"); label != "4.0 MiB  (2.00x best)" {
		t.Errorf("alpha disk label = %q", label)
	}
}
