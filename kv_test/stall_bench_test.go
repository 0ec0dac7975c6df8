package kv_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// BenchmarkFillStall fills a store, NoSync, from one writer while one
// reader Gets keys already written, both as fast as they can, and reports
// the longest Put and the longest Get, and how many took over 1 ms and over
// 2 ms: pauses that a fill's throughput hides (an index growing, the log's
// map being replaced, a page fault). The keys=10M case runs only when
// CRABKV_STALL_10M is set: it writes 1.3 GB.
//
// Two goroutines that never block keep both of a two-core machine's CPUs
// busy, so anything else that runs (the Go runtime's GC workers, another
// process, the kernel's writeback) takes its time from one of them, and
// an operation then lasts as long as the operating system's time slice.
// With CRABKV_STALL_ATTRIB=1 (Linux), each operation over 1 ms is told
// apart: "preempted" ones spanned an involuntary context switch of their
// thread or moved to another thread, which is the scheduler's doing; the
// rest ("engine") spent the time running or blocked in the engine. The
// attribution costs two system calls an operation, so it slows the fill.
// The engine's are split by what their thread did meanwhile: took a page
// fault ("faulted"), else blocked in the kernel ("blocked": a lock's
// futex, a read), else neither ("ran"). "Ran" is not always the engine's
// code running: the Go scheduler may have run another goroutine on the
// same thread (a garbage collection's worker, a goroutine of the engine's),
// and a virtual machine's host may have paused the processor, which the
// guest cannot see. Two more settings, with CRABKV_STALL_ATTRIB, tell
// those apart:
//
//   - CRABKV_STALL_LOG=file writes each of the engine's slow operations,
//     with how many keys were written by then (index growths start at
//     three quarters of a power of two), its page faults and blocks.
//   - CRABKV_STALL_TRACE=dir keeps an execution trace of the last moments
//     (runtime/trace's flight recorder) and writes it to dir for the first
//     few of the engine's operations over 4 ms, a second apart at least,
//     each ending with a log event "slow" of the goroutine that waited:
//     `go tool trace -d=parsed dir/stall-1.trace` lists every goroutine's
//     transitions, so that the window before that event shows what ran
//     meanwhile — or that nothing did.
//
// With -benchtime above 1x, each fill writes over the last one's list and
// traces.
//
// Each figure is the median over the benchmark's fills (-benchtime Nx).
func BenchmarkFillStall(b *testing.B) {
	cases := []struct {
		name  string
		n     int
		value int
	}{
		{"keys=200k", 200_000, 100},
		{"keys=1M", 1_000_000, 100},
		// 20,000 values of 64 KiB: a log of 1.3 GB, which outgrows the
		// log's first map (1 GiB) and makes the store map it again.
		{"log=1.3GB", 20_000, 64 << 10},
	}
	if os.Getenv("CRABKV_STALL_10M") != "" {
		cases = append(cases, struct {
			name  string
			n     int
			value int
		}{"keys=10M", 10_000_000, 100})
	}
	attrib := os.Getenv("CRABKV_STALL_ATTRIB") != ""
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var runs []*stallResult
			for range b.N {
				b.StopTimer()
				dir := b.TempDir()
				db, err := kv.Open(dir, &kv.Options{NoSync: true})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				r := fillStall(b, db, c.n, c.value, attrib)
				b.StopTimer()
				if err := db.Close(); err != nil {
					b.Fatal(err)
				}
				runs = append(runs, r)
				if err := os.RemoveAll(dir); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			// The median of the fills, each figure on its own.
			median := func(f func(r *stallResult) float64) float64 {
				v := make([]float64, len(runs))
				for i, r := range runs {
					v[i] = f(r)
				}
				slices.Sort(v)
				return v[len(v)/2]
			}
			b.ReportMetric(median(func(r *stallResult) float64 { return float64(r.maxPut.Microseconds()) }), "max-put-µs")
			b.ReportMetric(median(func(r *stallResult) float64 { return float64(r.maxGet.Microseconds()) }), "max-get-µs")
			b.ReportMetric(median(func(r *stallResult) float64 { return float64(r.over1ms) }), "ops>1ms")
			b.ReportMetric(median(func(r *stallResult) float64 { return float64(r.over2ms) }), "ops>2ms")
			if attrib {
				b.ReportMetric(median(func(r *stallResult) float64 { return float64(r.preempted) }), "preempted>1ms")
				b.ReportMetric(median(func(r *stallResult) float64 { return float64(r.engine) }), "engine>1ms")
				b.ReportMetric(median(func(r *stallResult) float64 { return float64(r.maxEngine.Microseconds()) }), "max-engine-µs")
				b.ReportMetric(median(func(r *stallResult) float64 { return float64(r.faulted) }), "faulted>1ms")
				b.ReportMetric(median(func(r *stallResult) float64 { return float64(r.blocked) }), "blocked>1ms")
				b.ReportMetric(median(func(r *stallResult) float64 { return float64(r.ran) }), "ran>1ms")
			}
		})
	}
}

// stallResult is what one fillStall saw.
type stallResult struct {
	maxPut, maxGet    time.Duration
	over1ms, over2ms  int
	preempted, engine int
	maxEngine         time.Duration
	// The engine's slow operations, by what their thread did meanwhile:
	// took a page fault, else blocked (a lock, the disk), else ran.
	faulted, blocked, ran int
	// slow lists the engine's slow operations, when they are logged.
	slow []string
}

// stallCounter times operations and counts those over a millisecond.
type stallCounter struct {
	attrib bool
	// logFile, when not empty, is where the engine's slow operations are
	// listed (CRABKV_STALL_LOG).
	logFile string
	pos     *atomic.Int64 // keys written so far
	// fr, when not nil, keeps the trace written for slow operations to
	// traceDir (see BenchmarkFillStall); traces counts those written and
	// traced when the last was.
	fr       *trace.FlightRecorder
	traceDir string
	mu       sync.Mutex // guards r, traces and traced
	r        *stallResult
	traces   int
	traced   time.Time
}

// Settings of the stall traces: how many, how slow an operation, how far
// apart, and how much each keeps (about the last 200 ms of a 2-core fill).
const (
	stallTraces     = 5
	stallTraceOver  = 4 * time.Millisecond
	stallTraceApart = time.Second
	stallTraceAge   = 200 * time.Millisecond
	stallTraceBytes = 64 << 20
)

// traceSlow writes the flight recorder's trace for an operation of kind
// that took d, if it is one of the first few that slow. The caller holds
// c.mu.
func (c *stallCounter) traceSlow(kind string, d time.Duration) error {
	if c.fr == nil || d <= stallTraceOver || c.traces == stallTraces || time.Since(c.traced) < stallTraceApart {
		return nil
	}
	c.traces++
	c.traced = time.Now()
	trace.Log(context.Background(), "slow", fmt.Sprintf("%s %v at %d keys", kind, d, c.pos.Load()))
	f, err := os.Create(filepath.Join(c.traceDir, fmt.Sprintf("stall-%d.trace", c.traces)))
	if err != nil {
		return err
	}
	_, err = c.fr.WriteTo(f)
	return errors.Join(err, f.Close())
}

func (c *stallCounter) time(kind string, op func() error, longest *time.Duration) error {
	var before threadSched
	if c.attrib {
		before = readThreadSched()
	}
	t0 := time.Now()
	err := op()
	d := time.Since(t0)
	*longest = max(*longest, d)
	if d <= time.Millisecond {
		return err
	}
	preempted := false
	var after threadSched
	if c.attrib {
		after = readThreadSched()
		preempted = after.tid != before.tid || after.involuntary != before.involuntary
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.r.over1ms++
	if d > 2*time.Millisecond {
		c.r.over2ms++
	}
	if c.attrib {
		if preempted {
			c.r.preempted++
		} else {
			c.r.engine++
			c.r.maxEngine = max(c.r.maxEngine, d)
			switch {
			case after.faults != before.faults:
				c.r.faulted++
			case after.voluntary != before.voluntary:
				c.r.blocked++
			default:
				c.r.ran++
			}
			if c.logFile != "" {
				c.r.slow = append(c.r.slow, fmt.Sprintf("%s at %d keys: %v, %d faults, %d blocks",
					kind, c.pos.Load(), d, after.faults-before.faults, after.voluntary-before.voluntary))
			}
			if terr := c.traceSlow(kind, d); err == nil {
				err = terr
			}
		}
	}
	return err
}

func fillStall(b *testing.B, db *kv.DB, n, valueSize int, attrib bool) *stallResult {
	r := new(stallResult)
	var written atomic.Int64
	c := &stallCounter{attrib: attrib, pos: &written, r: r}
	if attrib {
		c.logFile = os.Getenv("CRABKV_STALL_LOG")
	}
	if dir := os.Getenv("CRABKV_STALL_TRACE"); attrib && dir != "" {
		c.fr = trace.NewFlightRecorder(trace.FlightRecorderConfig{MinAge: stallTraceAge, MaxBytes: stallTraceBytes})
		if err := c.fr.Start(); err != nil {
			b.Fatal(err)
		}
		defer c.fr.Stop()
		c.traceDir = dir
	}
	value := make([]byte, valueSize)
	var stop atomic.Bool
	var readErr error
	var maxGet time.Duration
	var wg sync.WaitGroup
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(1, 2))
		var k []byte
		for !stop.Load() {
			w := written.Load()
			if w == 0 {
				continue
			}
			k = benchKey(k, rng.IntN(int(w)))
			if err := c.time("get", func() error { _, err := db.Get(k); return err }, &maxGet); err != nil {
				readErr = fmt.Errorf("get %q: %w", k, err)
				return
			}
		}
	})
	var k []byte
	var maxPut time.Duration
	for i := range n {
		k = benchKey(k, i)
		binaryPut(value, i)
		if err := c.time("put", func() error { return db.Put(k, value) }, &maxPut); err != nil {
			stop.Store(true)
			wg.Wait()
			b.Fatal(err)
		}
		written.Store(int64(i + 1))
	}
	stop.Store(true)
	wg.Wait()
	if readErr != nil {
		b.Fatal(readErr)
	}
	r.maxPut, r.maxGet = maxPut, maxGet
	if c.logFile != "" {
		if err := os.WriteFile(c.logFile, []byte(strings.Join(r.slow, "\n")+"\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return r
}

// binaryPut writes i into the start of a value, so values differ.
func binaryPut(v []byte, i int) {
	copy(v, strconv.Itoa(i))
}
