// Package workload defines the benchmark workloads and runs one of them
// against one engine inside the current process. The driver starts a fresh
// process per engine, workload and trial, so no run inherits another's heap,
// caches or background goroutines.
package workload

import (
	"fmt"
	"slices"
)

// Unit names what a metric counts, which also fixes its direction.
type Unit string

// The units a workload can report.
const (
	OpsPerSec Unit = "ops/s" // higher is better
	Millis    Unit = "ms"    // lower is better
	Bytes     Unit = "bytes" // lower is better
)

// HigherBetter reports whether larger values of u are better.
func (u Unit) HigherBetter() bool { return u == OpsPerSec }

// Spec is one workload as the driver schedules it.
type Spec struct {
	// ID names the workload on the command line, in the child protocol and
	// in the outputs; it is unique.
	ID string
	// Kind selects the code that runs (several IDs share a kind).
	Kind string
	// N is the number of keys filled or operations timed.
	N int
	// Threads is the number of goroutines issuing operations.
	Threads int
	// Sync makes every write durable before it returns.
	Sync bool
	// Doc describes the workload for the README and results.
	Doc string
	// DiskOnly marks the raw fdatasync probe, which runs without an engine.
	DiskOnly bool
	// JSON makes the values 1 KiB JSON documents (keys.JSONDocs), which
	// compress, instead of 100 random bytes. Only JSON workloads run the
	// engines' compressing variants (engines.Compressing).
	JSON bool
	// ValueSize is the size of every value; 0 means keys.ValueSize.
	ValueSize int
	// Batch is the number of records a batched fill writes at a time.
	Batch int
	// CrabOnly marks a workload of CrabKv's own, such as its compaction,
	// that runs for no other engine.
	CrabOnly bool
}

// Metric is one reported number from a workload.
type Metric struct {
	// Row is the results-table row the metric belongs to.
	Row  string
	Unit Unit
}

// KindReopenNoHint is reopen after a Close whose shortcut for the next
// Open is deleted, as a crash leaves the store: for CrabKv, its hint file,
// so that Open replays the whole log. Engines without such a file (see
// engines.HintDropper) reopen as in reopen.
const KindReopenNoHint = "reopen-nohint"

// Metrics lists what a spec reports, in table order. Every kind reports
// its headline metric under its own ID; fill-random also reports the
// footprint after the fill.
func (s Spec) Metrics() []Metric {
	switch s.Kind {
	case "reopen", KindReopenNoHint, KindCompaction:
		return []Metric{{s.ID, Millis}}
	case "stall":
		return []Metric{{s.ID, Millis}, {RowStallGet, Millis}, {RowStallPuts, OpsPerSec}, {RowStallGets, OpsPerSec}}
	case KindOverwriteAll:
		return []Metric{{s.ID, OpsPerSec}, {RowDiskOverwrite, Bytes}}
	case "fill":
		if s.JSON {
			return []Metric{{s.ID, OpsPerSec}, {RowDiskJSON, Bytes}}
		}
		if s.ValueSize > 0 {
			return []Metric{{s.ID, OpsPerSec}, {PeakRSSRow(s.ID), Bytes}}
		}
		if !s.Sync && s.Threads == 1 {
			return []Metric{{s.ID, OpsPerSec}, {RowDisk, Bytes}, {RowHeap, Bytes}, {RowRSS, Bytes}}
		}
	}
	return []Metric{{s.ID, OpsPerSec}}
}

// KindOverwriteAll overwrites every key of a filled store once and closes
// it: the overwrite's cost with the cleanup it causes, and the disk it
// leaves.
const KindOverwriteAll = "overwrite-all"

// RowDiskOverwrite is the directory's size after overwrite-all's Close.
const RowDiskOverwrite = "disk size after overwrite-all"

// RowStallGet reports the longest Get of the fill-stall workload, whose
// own row is the longest Put; RowStallPuts and RowStallGets its writer's
// and its reader's pace: how much each holds the other up.
const (
	RowStallGet  = "fill-stall: longest Get"
	RowStallPuts = "fill-stall: Puts/s beside the reader"
	RowStallGets = "fill-stall: Gets/s beside the writer"
)

// Rows reporting the footprint after fill-random.
const (
	RowDisk = "disk size after fill"
	RowHeap = "Go heap after fill"
	RowRSS  = "RSS after fill"
	// RowDiskJSON is the footprint after fill-json.
	RowDiskJSON = "disk size after fill-json"
)

// PeakRSSRow names the row of a large-value fill's peak resident memory:
// VmHWM from /proc/self/status at the end of the fill, in the process that
// ran nothing else. A store that keeps what it wrote mapped, or copies of
// the values, shows here what it costs beside the values themselves.
func PeakRSSRow(id string) string { return id + ": peak RSS" }

// Params sizes the standard workload list.
type Params struct {
	N        int   // keys for the non-sync workloads
	SyncN    int   // writes for the sync workloads and the fdatasync probe
	ReopenNs []int // store sizes for the reopen workload
	JSONN    int   // documents for the JSON workloads; 0 skips them
	ScanNs   []int // store sizes for the scan workloads
	// CompactN is the number of keys of the compaction workloads; 0
	// skips them.
	CompactN int
}

// Standard returns the full workload list for p, in the order they are run
// and reported.
func Standard(p Params) []Spec {
	specs := []Spec{
		{ID: "fdatasync", Kind: "fdatasync", N: p.SyncN, Threads: 1, Sync: true, DiskOnly: true,
			Doc: "the disk's limit: append 100 bytes to a file and fdatasync it, in a loop, no engine"},
		{ID: "fill-random", Kind: "fill", N: p.N, Threads: 1,
			Doc: "Put N new keys in random key order, sync off"},
		{ID: "fill-sync", Kind: "fill", N: p.SyncN, Threads: 1, Sync: true,
			Doc: "Put new keys one at a time, each durable before the next, one writer"},
		{ID: "fill-sync x8", Kind: "fill", N: p.SyncN, Threads: 8, Sync: true,
			Doc: "the same N durable Puts spread over 8 concurrent writers (lets engines group commits)"},
		{ID: "fill-batch 100", Kind: "fill-batch", N: p.N, Threads: 1, Sync: true, Batch: 100,
			Doc: "Put N new keys in atomic batches of 100 (each engine's batch or transaction), each batch durable before the next, one writer"},
		{ID: "fill-batch 1000", Kind: "fill-batch", N: p.N, Threads: 1, Sync: true, Batch: 1000,
			Doc: "the same in batches of 1000"},
		{ID: "read-random", Kind: "read", N: p.N, Threads: 1,
			Doc: "after a fill of N keys in the same process, N Gets of existing keys picked uniformly at random"},
		{ID: "read-random x2", Kind: "read", N: p.N, Threads: 2,
			Doc: "the same with the N Gets split over 2 goroutines"},
		{ID: "read-missing", Kind: "missing", N: p.N, Threads: 1,
			Doc: "after a fill of N keys, N Gets of keys that were never written"},
		{ID: "overwrite", Kind: "overwrite", N: p.N, Threads: 1,
			Doc: "after a fill of N keys, N Puts of new values to existing keys picked uniformly at random, sync off"},
		{ID: "overwrite-all", Kind: KindOverwriteAll, N: p.N, Threads: 1,
			Doc: "after a fill of N keys, Put a new value to every key once, in random order, sync off, then Close; timed to the end of Close, so what the engine does about the bytes the overwrite left stale counts; the disk size after Close in its own row"},
		{ID: "ycsb-a", Kind: "ycsb-a", N: p.N, Threads: 2,
			Doc: "after a fill of N keys, N operations over 2 goroutines: 50% Get, 50% Put of an existing key, keys drawn from a Zipf distribution (s=1.1)"},
		{ID: "fill-stall", Kind: "stall", N: p.N, Threads: 2,
			Doc: "Put N new keys, sync off, one writer, while one reader Gets keys already written; the longest Put in ms (and the longest Get in its own row): pauses such as an index, table or tree growing; and the Puts and the Gets a second, in rows of their own: how much the reader and the writer hold each other up"},
		{ID: "read-random 4KiB", Kind: "read", N: max(1, p.N/4), Threads: 1, ValueSize: 4 << 10,
			Doc: "fill N keys with 4 KiB values, then N random reads; through a zero-copy read (View) where the engine has one, else Get"},
		{ID: "read-random 64KiB", Kind: "read", N: max(1, p.N/40), Threads: 1, ValueSize: 64 << 10,
			Doc: "fill N keys with 64 KiB values, then N random reads; through a zero-copy read (View) where the engine has one, else Get"},
		{ID: "fill 4KiB", Kind: "fill", N: max(1, p.N/4), Threads: 1, ValueSize: 4 << 10,
			Doc: "Put N new keys with 4 KiB values in random key order, sync off, one writer; its peak RSS (VmHWM) in its own row"},
		{ID: "fill 64KiB", Kind: "fill", N: max(1, p.N/40), Threads: 1, ValueSize: 64 << 10,
			Doc: "Put N new keys with 64 KiB values in random key order, sync off, one writer; its peak RSS (VmHWM) in its own row"},
		{ID: "fill-sync 4KiB", Kind: "fill", N: p.SyncN, Threads: 1, Sync: true, ValueSize: 4 << 10,
			Doc: "Put N new keys with 4 KiB values, each durable before the next, one writer; its peak RSS (VmHWM) in its own row"},
		{ID: "fill-sync 64KiB", Kind: "fill", N: p.SyncN, Threads: 1, Sync: true, ValueSize: 64 << 10,
			Doc: "Put N new keys with 64 KiB values, each durable before the next, one writer; its peak RSS (VmHWM) in its own row"},
	}
	if p.JSONN > 0 {
		specs = append(specs,
			Spec{ID: "fill-json", Kind: "fill", N: p.JSONN, Threads: 1, JSON: true,
				Doc: "Put N new keys in random key order with 1 KiB JSON documents as values (compressible), sync off; the disk size is taken after Close"},
			Spec{ID: "read-json", Kind: "read", N: p.JSONN, Threads: 1, JSON: true,
				Doc: "after a fill of N JSON documents, N Gets of existing keys picked uniformly at random, each checked against the document"})
	}
	for _, n := range p.ReopenNs {
		specs = append(specs, Spec{ID: fmt.Sprintf("reopen %s", shortCount(n)), Kind: "reopen", N: n, Threads: 1,
			Doc: "fill N keys with sync off, Close, then time Open until the first Get has returned its value"})
	}
	for _, n := range p.ReopenNs {
		specs = append(specs, Spec{ID: fmt.Sprintf("reopen no hint %s", shortCount(n)), Kind: KindReopenNoHint, N: n, Threads: 1,
			Doc: "as reopen, with the files an engine keeps only to skip a replay deleted after Close (CrabKv's wal.hint): what Open costs after a crash"})
	}
	for _, n := range p.ScanNs {
		specs = append(specs, ScanSpecs(n)...)
	}
	if p.CompactN > 0 {
		specs = append(specs, CompactionSpecs(p.CompactN)...)
	}
	return specs
}

// Select returns the specs whose ID or Kind is in names, or all of them
// when names is empty.
func Select(specs []Spec, names []string) []Spec {
	if len(names) == 0 {
		return specs
	}
	var out []Spec
	for _, s := range specs {
		if slices.Contains(names, s.ID) || slices.Contains(names, s.Kind) {
			out = append(out, s)
		}
	}
	return out
}

// shortCount writes 200000 as "200k" and 1000000 as "1M".
func shortCount(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}
