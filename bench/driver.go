package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/crabkv/crabkv/bench/internal/engines"
	"github.com/crabkv/crabkv/bench/internal/report"
	"github.com/crabkv/crabkv/bench/internal/workload"
)

// run is everything a benchmark run produced; it is saved as trials.json
// so the outputs can be re-rendered with -from.
type run struct {
	Command  string               `json:"command"`
	Date     string               `json:"date"`
	Machine  report.Machine       `json:"machine"`
	Engines  []string             `json:"engines"`
	Baseline string               `json:"baseline"`
	Trials   int                  `json:"trials"`
	N        int                  `json:"n"`
	Specs    []workload.Spec      `json:"specs"`
	Settings map[string][2]string `json:"settings"`
	Results  []workload.Result    `json:"results"`
}

func drive(cfg *config) error {
	if cfg.from != "" {
		r, err := loadRun(cfg.from)
		if err != nil {
			return err
		}
		r.Baseline = cfg.baseline
		return render(cfg.out, r)
	}
	r, err := newRun(cfg)
	if err != nil {
		return err
	}
	if r.Machine.Warning != "" {
		fmt.Fprintln(os.Stderr, "warning:", r.Machine.Warning)
	}
	if err := execute(cfg, r); err != nil {
		return err
	}
	return render(cfg.out, r)
}

func newRun(cfg *config) (*run, error) {
	settings := map[string][2]string{}
	for _, name := range cfg.engines {
		e, err := engines.New(name)
		if err != nil {
			return nil, err
		}
		settings[name] = [2]string{e.Settings(false), e.Settings(true)}
	}
	dir, err := filepath.Abs(cfg.dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg.dir = dir
	specs := workload.Select(workload.Standard(workload.Params{N: cfg.n, SyncN: cfg.syncN, ReopenNs: cfg.reopenNs, JSONN: cfg.jsonN, ScanNs: cfg.scanNs, CompactN: cfg.compactN}), cfg.works)
	if len(specs) == 0 {
		return nil, fmt.Errorf("no workload matches %q", cfg.works)
	}
	return &run{
		Command:  commandLine(cfg.args),
		Date:     time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		Machine:  report.DetectMachine(dir),
		Engines:  cfg.engines,
		Baseline: cfg.baseline,
		Trials:   cfg.trials,
		N:        cfg.n,
		Specs:    specs,
		Settings: settings,
	}, nil
}

// commandLine is the command that reproduces this run.
func commandLine(args []string) string {
	parts := []string{"cd bench && go run ."}
	for _, a := range args {
		if strings.ContainsAny(a, " \t'\"$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// execute runs every trial of every spec for every engine, interleaving
// trials so slow drift in the machine spreads over all engines.
func execute(cfg *config, r *run) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	total := 0
	for _, s := range r.Specs {
		total += r.Trials * len(enginesFor(s, r.Engines))
	}
	start, done := time.Now(), 0
	for trial := 1; trial <= r.Trials; trial++ {
		for _, s := range r.Specs {
			for _, e := range enginesFor(s, r.Engines) {
				job := childJob{Spec: s, Engine: e, Trial: trial, Seed: cfg.seed + uint64(trial)}
				res := runJob(exe, cfg.dir, job, time.Duration(cfg.timeout)*time.Second)
				r.Results = append(r.Results, res)
				done++
				fmt.Fprintf(os.Stderr, "[%d/%d %s] trial %d %-15s %-8s %s\n", done, total,
					time.Since(start).Round(time.Second), trial, s.ID, e, summary(s, res))
				if err := saveRun(cfg.out, r); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func enginesFor(s workload.Spec, names []string) []string {
	if s.DiskOnly {
		return []string{report.DiskEngine}
	}
	if s.CrabOnly {
		return slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n != "crabkv" })
	}
	if !s.JSON {
		return slices.DeleteFunc(slices.Clone(names), engines.Compressing)
	}
	return names
}

func summary(s workload.Spec, res workload.Result) string {
	if res.Error != "" {
		return "ERROR: " + res.Error
	}
	var parts []string
	for _, m := range s.Metrics() {
		parts = append(parts, report.Format(res.Values[m.Row], m.Unit))
	}
	return strings.Join(parts, ", ")
}

// runJob runs one child in a fresh directory under dir, removes the
// directory and flushes dirty pages, so the next child's syncs do not pay
// for this one's writes.
func runJob(exe, dir string, job childJob, timeout time.Duration) workload.Result {
	fail := func(format string, args ...any) workload.Result {
		return workload.Result{Engine: job.Engine, Workload: job.Spec.ID, Trial: job.Trial,
			N: job.Spec.N, Threads: job.Spec.Threads, Error: fmt.Sprintf(format, args...)}
	}
	tmp, err := os.MkdirTemp(dir, job.Engine+"-")
	if err != nil {
		return fail("%v", err)
	}
	defer func() {
		if err := os.RemoveAll(tmp); err != nil {
			fmt.Fprintln(os.Stderr, "warning:", err)
		}
		unix.Sync()
	}()
	job.Dir = tmp
	arg, err := json.Marshal(job)
	if err != nil {
		return fail("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-child", string(arg))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	res, ok := lastResult(stdout.Bytes())
	if !ok {
		if ctx.Err() != nil {
			return fail("timed out after %v", timeout)
		}
		return fail("child failed (%v): %s", runErr, tail(stderr.String(), 400))
	}
	return res
}

// lastResult finds the last JSON object line in a child's stdout.
func lastResult(out []byte) (workload.Result, bool) {
	var res workload.Result
	found := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var r workload.Result
		if json.Unmarshal(line, &r) == nil {
			res, found = r, true
		}
	}
	return res, found
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return strings.ReplaceAll(s, "\n", " | ")
}

func saveRun(out string, r *run) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(out, "trials.json"), b)
}

func loadRun(path string) (*run, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r run
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// titleCount is the key count a run's title names: the one its workloads
// share, if they share one (a run of the scan workloads alone), else the
// main one (-n).
func titleCount(r *run) int {
	n := 0
	for _, s := range r.Specs {
		if n != 0 && s.N != n {
			return r.N
		}
		n = s.N
	}
	if n == 0 {
		return r.N
	}
	return n
}

// render writes results.md, results.csv and results.png into out.
func render(out string, r *run) error {
	rows, probe := report.Aggregate(r.Specs, r.Results)
	eng := slices.Clone(r.Engines)
	rep := &report.Report{
		Title:    fmt.Sprintf("CrabKv vs peers: %s keys, 16-byte keys, 100-byte values", report.Count(titleCount(r))),
		Command:  r.Command,
		Date:     r.Date,
		Machine:  r.Machine,
		Engines:  eng,
		Baseline: r.Baseline,
		Trials:   r.Trials,
		Probe:    probe,
		Rows:     rows,
		Settings: r.Settings,
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	var md, csv, png bytes.Buffer
	if err := report.WriteMarkdown(&md, rep); err != nil {
		return err
	}
	if err := report.WriteCSV(&csv, rep); err != nil {
		return err
	}
	if err := report.WritePNG(&png, rep); err != nil {
		return err
	}
	for name, b := range map[string][]byte{"results.md": md.Bytes(), "results.csv": csv.Bytes(), "results.png": png.Bytes()} {
		if err := writeAtomic(filepath.Join(out, name), b); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "wrote %s/results.{md,csv,png}\n", out)
	return nil
}

// writeAtomic replaces path with b via a temporary file and a rename, so
// an interrupted run never leaves half a results file.
func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		return fmt.Errorf("%w (close: %v)", err, f.Close())
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
