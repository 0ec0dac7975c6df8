package workload

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crabkv/crabkv/bench/internal/engines"
	"github.com/crabkv/crabkv/bench/internal/keys"
)

// Result is what one child process reports: one JSON line on its stdout.
type Result struct {
	Engine   string `json:"engine"`
	Workload string `json:"workload"`
	Trial    int    `json:"trial"`
	N        int    `json:"n"`
	Threads  int    `json:"threads"`
	// Seconds is the timed part of the workload.
	Seconds float64 `json:"seconds"`
	// Values holds the reported metrics by table row (see Spec.Metrics).
	Values map[string]float64 `json:"values"`
	// Extra holds numbers kept in the CSV only, such as RssAnon.
	Extra map[string]float64 `json:"extra,omitempty"`
	Error string             `json:"error,omitempty"`
}

// runner carries what every workload needs.
type runner struct {
	spec   Spec
	engine string
	dir    string
	seed   uint64
	vals   values
}

// values is where a workload's values come from: keys.Values, or
// keys.JSONDocs for a JSON workload (which runs on one goroutine).
type values interface {
	For(i, gen uint64) []byte
}

// Run executes spec against the named engine in dir, which must exist and
// be empty, and returns the result. Errors are reported in Result.Error.
func Run(spec Spec, engine, dir string, seed uint64) Result {
	r := &runner{spec: spec, engine: engine, dir: dir, seed: seed, vals: keys.NewValues(seed)}
	if spec.JSON {
		docs := keys.NewJSONDocs(seed)
		docs.Prepare(spec.N) // untimed: the workloads time the engine
		r.vals = docs
	}
	res := Result{Engine: engine, Workload: spec.ID, N: spec.N, Threads: spec.Threads, Values: map[string]float64{}}
	var err error
	switch spec.Kind {
	case "fdatasync":
		err = r.fdatasync(&res)
	case "fill":
		err = r.fillOnly(&res)
	case "fill-batch":
		err = r.fillBatched(&res)
	case "read", "missing", "overwrite", "ycsb-a":
		err = r.afterFill(&res)
	case "reopen", KindReopenNoHint:
		err = r.reopen(&res)
	case "stall":
		err = r.stall(&res)
	case KindOverwriteAll:
		err = r.overwriteEvery(&res)
	case KindCompaction:
		err = r.compaction(&res)
	case KindScanFull, KindScanSeek, KindScanRange, KindScanFirst, KindScanFullCompacted, KindScanRangeCompacted:
		err = r.scan(&res)
	default:
		err = fmt.Errorf("unknown workload kind %q", spec.Kind)
	}
	if err != nil {
		res.Error = err.Error()
	}
	return res
}

func (r *runner) open(sync bool) (engines.Engine, error) {
	e, err := engines.New(r.engine)
	if err != nil {
		return nil, err
	}
	if err := e.Open(r.dir, sync); err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	return e, nil
}

// opFunc performs operation i; each goroutine gets its own from a worker
// constructor, so per-goroutine state (key buffer, random source) lives in
// that goroutine's closure and never shares a cache line with another's.
type opFunc func(i uint64) error

// parallel runs operations [0, n) on threads goroutines, goroutine w taking
// i = w, w+threads, ... (no shared counter to contend on), and returns the
// wall time. The first error stops all goroutines.
func parallel(threads, n int, worker func(w int) opFunc) (time.Duration, error) {
	var (
		failed  atomic.Bool
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	ops := make([]opFunc, threads)
	for w := range ops {
		ops[w] = worker(w)
	}
	start := time.Now()
	for w, op := range ops {
		wg.Go(func() {
			for i := uint64(w); i < uint64(n) && !failed.Load(); i += uint64(threads) {
				if err := op(i); err != nil {
					errOnce.Do(func() { first = err })
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), first
}

// fill Puts keys [0, n) from threads goroutines; this is the timed fill.
func (r *runner) fill(e engines.Engine, n, threads int) (time.Duration, error) {
	return parallel(threads, n, func(int) opFunc {
		var buf []byte
		return func(i uint64) error {
			buf = keys.Append(buf[:0], i)
			return e.Put(buf, r.val(i, 0))
		}
	})
}

// load fills keys [0, n) as setup before a timed phase, with the engine's
// batch API where it has one, so slow single-Put engines do not make the
// whole suite slow. The stored keys and values are the same as fill's.
func (r *runner) load(e engines.Engine, n int) error {
	bl, ok := e.(engines.BulkLoader)
	if !ok {
		_, err := r.fill(e, n, 1)
		return err
	}
	return bl.Load(n, func(i int, dst []byte) ([]byte, []byte) {
		return keys.Append(dst, uint64(i)), r.val(uint64(i), 0)
	})
}

// openLoaded opens the store, sync off, and loads keys [0, N) into it as
// load does; on a failure the store is closed.
func (r *runner) openLoaded() (engines.Engine, error) {
	e, err := r.open(false)
	if err != nil {
		return nil, err
	}
	if err := r.load(e, r.spec.N); err != nil {
		return nil, errors.Join(err, e.Close())
	}
	return e, nil
}

func (r *runner) setOps(res *Result, d time.Duration) {
	res.Seconds = d.Seconds()
	res.Values[r.spec.ID] = float64(r.spec.N) / d.Seconds()
}

// fillOnly times the fill itself. The non-sync single-writer fill also
// measures the footprint: heap and RSS with the store open after the fill,
// and the directory size after a clean Close.
func (r *runner) fillOnly(res *Result) (err error) {
	if r.spec.ValueSize > 0 {
		return r.fillLarge(res)
	}
	footprint := !r.spec.Sync && r.spec.Threads == 1 && !r.spec.JSON
	base := heapInUse()
	e, cpu, err := r.timedFill(res)
	if err != nil {
		return err
	}
	if footprint {
		res.Values[RowHeap] = float64(heapInUse()) - float64(base)
		st := procStatus()
		res.Values[RowRSS] = st["VmRSS"]
		res.Extra = map[string]float64{"rss_anon_bytes": st["RssAnon"], "rss_file_bytes": st["RssFile"], "cpu_seconds": cpu}
	}
	if err := e.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if footprint || r.spec.JSON {
		size, err := dirSize(r.dir)
		if err != nil {
			return err
		}
		row := RowDisk
		if r.spec.JSON {
			row = RowDiskJSON
		}
		res.Values[row] = float64(size)
	}
	return nil
}

// timedFill opens the store, fills N keys with the spec's threads, sets
// the rate in res and returns the open store and the CPU seconds the fill
// took. On an error the store is closed.
func (r *runner) timedFill(res *Result) (engines.Engine, float64, error) {
	e, err := r.open(r.spec.Sync)
	if err != nil {
		return nil, 0, err
	}
	cpu0 := cpuSeconds()
	d, err := r.fill(e, r.spec.N, r.spec.Threads)
	if err != nil {
		return nil, 0, errors.Join(err, e.Close())
	}
	cpu := cpuSeconds() - cpu0
	r.setOps(res, d)
	return e, cpu, nil
}

// fillLarge times a fill of values of the spec's size and reports the
// process's peak resident memory (VmHWM) at its end, with RssAnon, RssFile,
// the Go heap and the CPU time the fill took beside it in the CSV. The peak
// is the process's own: the child runs nothing before, and the values come
// from one 1 MiB block, so what it holds past a few MiB is the engine's.
func (r *runner) fillLarge(res *Result) error {
	e, cpu, err := r.timedFill(res)
	if err != nil {
		return err
	}
	st := procStatus()
	res.Values[PeakRSSRow(r.spec.ID)] = st["VmHWM"]
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.Extra = map[string]float64{
		"rss_bytes": st["VmRSS"], "rss_anon_bytes": st["RssAnon"], "rss_file_bytes": st["RssFile"],
		"heap_sys_bytes": float64(ms.HeapSys), "cpu_seconds": cpu,
		"value_bytes": float64(r.spec.N) * float64(r.spec.ValueSize),
	}
	if err := e.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// fillBatched times a fill of N keys through the engine's atomic batches of
// Batch records, then checks that the last key landed.
func (r *runner) fillBatched(res *Result) error {
	e, err := r.open(r.spec.Sync)
	if err != nil {
		return err
	}
	bw, ok := e.(engines.BatchWriter)
	if !ok {
		return errors.Join(fmt.Errorf("%s has no batch write", r.engine), e.Close())
	}
	if r.spec.Batch < 1 {
		return errors.Join(fmt.Errorf("batch size %d", r.spec.Batch), e.Close())
	}
	kv := func(i int, dst []byte) ([]byte, []byte) {
		return keys.Append(dst, uint64(i)), r.vals.For(uint64(i), 0)
	}
	n := r.spec.N
	start := time.Now()
	for lo := 0; lo < n; lo += r.spec.Batch {
		if err := bw.WriteBatch(lo, min(lo+r.spec.Batch, n), kv); err != nil {
			return errors.Join(fmt.Errorf("batch at %d: %w", lo, err), e.Close())
		}
	}
	r.setOps(res, time.Since(start))
	last := uint64(n - 1)
	if err := r.checkGet(e, keys.Append(nil, last), last, 0); err != nil {
		return errors.Join(err, e.Close())
	}
	return e.Close()
}

// afterFill fills N keys untimed, then times the workload's operations on
// the same open store, so caches are warm.
func (r *runner) afterFill(res *Result) error {
	e, err := r.openLoaded()
	if err != nil {
		return err
	}
	d, err := r.timed(e)
	if err != nil {
		return errors.Join(err, e.Close())
	}
	r.setOps(res, d)
	return e.Close()
}

// timed runs the operations of a read, missing, overwrite or ycsb-a
// workload: N operations over Threads goroutines, each goroutine with its
// own random source.
func (r *runner) timed(e engines.Engine) (time.Duration, error) {
	s := r.spec
	n := uint64(s.N)
	return parallel(s.Threads, s.N, func(w int) opFunc {
		rng := rand.New(rand.NewPCG(r.seed, uint64(w)+1))
		var buf []byte
		switch s.Kind {
		case "read":
			return func(uint64) error {
				k := rng.Uint64N(n)
				buf = keys.Append(buf[:0], k)
				return r.checkGet(e, buf, k, 0)
			}
		case "missing":
			return func(uint64) error {
				// Indexes from n up were never written; mix spreads them
				// over the same key space as the stored keys.
				buf = keys.Append(buf[:0], n+rng.Uint64N(n))
				if _, err := e.Get(buf); !errors.Is(err, engines.ErrNotFound) {
					return fmt.Errorf("get of an absent key %s: want not found, got %v", buf, err)
				}
				return nil
			}
		case "overwrite":
			return func(i uint64) error {
				k := rng.Uint64N(n)
				buf = keys.Append(buf[:0], k)
				return e.Put(buf, r.val(k, i+1))
			}
		case "ycsb-a":
			zipf := keys.NewZipf(r.seed+uint64(w)+1, n, keys.ZipfS)
			return func(i uint64) error {
				k := zipf.Next()
				buf = keys.Append(buf[:0], k)
				if rng.IntN(2) == 0 {
					_, err := e.Get(buf)
					return err
				}
				return e.Put(buf, r.val(k, i+1))
			}
		}
		return func(uint64) error { return fmt.Errorf("unknown timed workload kind %q", s.Kind) }
	})
}

// checkGet reads key number k and checks it holds value generation gen.
// Workloads of large values read through the engine's zero-copy read,
// where it has one.
func (r *runner) checkGet(e engines.Engine, key []byte, k, gen uint64) error {
	want := r.val(k, gen)
	if ve, ok := e.(engines.Viewer); ok && r.spec.ValueSize > keys.ValueSize {
		err := ve.View(key, func(v []byte) error {
			if !bytes.Equal(v, want) {
				return fmt.Errorf("view %s: wrong value", key)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("view %s: %w", key, err)
		}
		return nil
	}
	v, err := e.Get(key)
	if err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	if !bytes.Equal(v, want) {
		return fmt.Errorf("get %s: wrong value", key)
	}
	return nil
}

// val returns value number i, generation gen, of the spec's size.
func (r *runner) val(i, gen uint64) []byte {
	if sized, ok := r.vals.(*keys.Values); ok && r.spec.ValueSize > 0 {
		return sized.ForSize(i, gen, r.spec.ValueSize)
	}
	return r.vals.For(i, gen)
}

// reopen fills N keys, closes, and times Open up to the first successful
// Get. The files are still in the page cache, as after a process restart.
// For KindReopenNoHint it deletes the engine's hint between the two.
func (r *runner) reopen(res *Result) error {
	e, err := r.openLoaded()
	if err != nil {
		return err
	}
	if err := e.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if d, ok := e.(engines.HintDropper); ok && r.spec.Kind == KindReopenNoHint {
		if err := d.DropHint(r.dir); err != nil {
			return fmt.Errorf("drop hint: %w", err)
		}
	}
	runtime.GC()
	start := time.Now()
	e, err = r.open(false)
	if err != nil {
		return err
	}
	key := keys.Append(nil, uint64(r.spec.N-1))
	if err := r.checkGet(e, key, uint64(r.spec.N-1), 0); err != nil {
		return errors.Join(err, e.Close())
	}
	d := time.Since(start)
	res.Seconds = d.Seconds()
	res.Values[r.spec.ID] = float64(d) / float64(time.Millisecond)
	return e.Close()
}

// dirSize sums the sizes of the regular files under dir.
func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		return nil
	})
	return total, err
}
