// Command crabbench runs the same workloads against CrabKv and its peers
// (bbolt, badger, pebble, goleveldb), each engine, workload and trial in a
// fresh process, and writes results.md, results.csv and results.png.
//
// Run it from the bench module:
//
//	cd bench && go run .
//
// See README.md for the flags, the workloads and how to read the outputs.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/crabkv/crabkv/bench/internal/engines"
)

// config holds the command line.
type config struct {
	n        int
	syncN    int
	jsonN    int
	compactN int
	reopenNs []int
	scanNs   []int
	trials   int
	engines  []string
	works    []string
	baseline string
	dir      string
	out      string
	timeout  int
	seed     uint64
	from     string
	child    string // hidden: run one workload and print a JSON result line
	args     []string
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "crabbench:", err)
		os.Exit(2)
	}
	if cfg.child != "" {
		os.Exit(runChild(cfg))
	}
	if err := drive(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "crabbench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*config, error) {
	cfg := &config{args: args}
	fs := flag.NewFlagSet("crabbench", flag.ContinueOnError)
	fs.IntVar(&cfg.n, "n", 200000, "keys for fill-random, fill-batch, reads, overwrite and ycsb-a")
	fs.IntVar(&cfg.syncN, "sync-n", 5000, "durable writes for fill-sync, fill-sync x8 and the fdatasync probe")
	fs.IntVar(&cfg.jsonN, "json-n", 50000, "documents for fill-json and read-json (1 KiB each; 0 skips them)")
	fs.IntVar(&cfg.compactN, "compact-n", 1000000, "keys of 100-byte values for the compaction workloads, CrabKv only (1 KiB values: an eighth as many; 0 skips them)")
	reopen := fs.String("reopen-n", "200000,1000000", "comma-separated store sizes for the reopen and reopen no hint workloads (empty: skip)")
	scan := fs.String("scan-n", "1000000", "comma-separated store sizes for the scan workloads (empty: skip)")
	fs.IntVar(&cfg.trials, "trials", 3, "trials per engine and workload; the outputs show medians")
	engs := fs.String("engines", strings.Join(engines.Names(), ","), "comma-separated engines to run")
	works := fs.String("workloads", "", "comma-separated workload IDs or kinds to run (empty: all); e.g. fill-random,read,reopen")
	fs.StringVar(&cfg.baseline, "baseline", "crabkv", "engine compared with the best of the others in the ratio column")
	fs.StringVar(&cfg.dir, "dir", defaultPath(".work"), "directory for the stores; must be on a real disk, not tmpfs")
	fs.StringVar(&cfg.out, "out", defaultPath("results"), "directory for results.md, results.csv, results.png and trials.jsonl")
	fs.IntVar(&cfg.timeout, "timeout", 600, "seconds before one child process is killed")
	fs.Uint64Var(&cfg.seed, "seed", 1, "seed for keys, values and access order")
	fs.StringVar(&cfg.from, "from", "", "re-render the outputs from a trials.jsonl file instead of running")
	fs.StringVar(&cfg.child, "child", "", "internal: run one workload given as JSON and print the result")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	var err error
	if cfg.reopenNs, err = parseInts(*reopen); err != nil {
		return nil, fmt.Errorf("-reopen-n: %w", err)
	}
	if cfg.scanNs, err = parseInts(*scan); err != nil {
		return nil, fmt.Errorf("-scan-n: %w", err)
	}
	cfg.engines = splitList(*engs)
	cfg.works = splitList(*works)
	if cfg.n <= 0 || cfg.syncN <= 0 || cfg.trials <= 0 {
		return nil, fmt.Errorf("-n, -sync-n and -trials must be positive")
	}
	return cfg, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad size %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// defaultPath places name in the bench module directory when run from the
// bench module or the repository root, else in the current directory.
func defaultPath(name string) string {
	if b, err := os.ReadFile("go.mod"); err == nil && strings.Contains(string(b), "module github.com/crabkv/crabkv/bench") {
		return name
	}
	if _, err := os.Stat("bench/go.mod"); err == nil {
		return "bench/" + name
	}
	return name
}
