package main

import (
	"testing"

	"github.com/crabkv/crabkv/bench/internal/workload"
)

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-n", "1000", "-reopen-n", "10,20", "-engines", "crabkv, leveldb", "-workloads", "read,reopen"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.n != 1000 || len(cfg.reopenNs) != 2 || cfg.reopenNs[1] != 20 {
		t.Errorf("cfg = %+v", cfg)
	}
	if len(cfg.engines) != 2 || cfg.engines[1] != "leveldb" || len(cfg.works) != 2 {
		t.Errorf("lists: %q %q", cfg.engines, cfg.works)
	}
	for _, bad := range [][]string{{"-n", "0"}, {"-reopen-n", "x"}, {"extra"}, {"-trials", "-1"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
	cfg, err = parseFlags([]string{"-reopen-n", ""})
	if err != nil || len(cfg.reopenNs) != 0 {
		t.Errorf("empty -reopen-n: %v %v", cfg.reopenNs, err)
	}
}

func TestLastResult(t *testing.T) {
	out := []byte("noise\n{\"engine\":\"a\",\"workload\":\"w\"}\n{not json\n{\"engine\":\"b\",\"workload\":\"w\",\"values\":{\"w\":5}}\ntrailing\n")
	res, ok := lastResult(out)
	if !ok || res.Engine != "b" || res.Values["w"] != 5 {
		t.Errorf("lastResult = %+v, %v", res, ok)
	}
	if _, ok := lastResult([]byte("panic: boom\n")); ok {
		t.Error("found a result in output without one")
	}
}

func TestCommandLine(t *testing.T) {
	got := commandLine([]string{"-n", "5", "-dir", "/a b"})
	want := "cd bench && go run . -n 5 -dir '/a b'"
	if got != want {
		t.Errorf("commandLine = %q, want %q", got, want)
	}
}

// TestTitleCount checks that a run's title names the key count its
// workloads share, and the main one when they differ.
func TestTitleCount(t *testing.T) {
	scans := workload.ScanSpecs(10_000_000)
	if got := titleCount(&run{N: 200_000, Specs: scans}); got != 10_000_000 {
		t.Errorf("scans at 10M: title count %d", got)
	}
	mixed := append(workload.ScanSpecs(1_000_000), workload.ScanSpecs(200_000)...)
	if got := titleCount(&run{N: 300, Specs: mixed}); got != 300 {
		t.Errorf("mixed sizes: title count %d, want the main one", got)
	}
	if got := titleCount(&run{N: 300}); got != 300 {
		t.Errorf("no workloads: title count %d", got)
	}
}
