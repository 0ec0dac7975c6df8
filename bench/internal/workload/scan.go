package workload

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/crabkv/crabkv/bench/internal/engines"
	"github.com/crabkv/crabkv/bench/internal/keys"
)

// Scan workload kinds. Every one fills N keys first (untimed, with the
// engine's batch API where it has one).
const (
	// KindScanFull times one ordered scan of every key with its value,
	// after an untimed one that warms caches (and builds CrabKv's key
	// order); keys per second.
	KindScanFull = "scan-full"
	// KindScanSeek times seeks to random points of the key space, each
	// followed by reading the next 100 keys and values; seeks per second.
	KindScanSeek = "scan-seek"
	// KindScanRange times scans of random ranges holding 1% of the keys
	// (1% of the key space: the keys are spread uniformly), as a prefix
	// scan would; keys per second.
	KindScanRange = "scan-range"
	// KindScanFirst closes the store after the fill, reopens it and times
	// its first full scan: the cost of ordering a store nothing has
	// scanned before; keys per second.
	KindScanFirst = "scan-first"
	// KindScanFullCompacted and KindScanRangeCompacted are KindScanFull
	// and KindScanRange after each engine's full compaction
	// (engines.Compacter), untimed, between the untimed scan and the timed
	// one: the store as its background work would leave it. CrabKv's
	// compaction then writes its log in key order.
	KindScanFullCompacted  = "scan-full-compacted"
	KindScanRangeCompacted = "scan-range-compacted"
)

// scanKinds maps the compacted kinds to the scans they time.
var scanKinds = map[string]string{KindScanFullCompacted: KindScanFull, KindScanRangeCompacted: KindScanRange}

// scanSeeks is how many seeks KindScanSeek times, scanRanges how many
// ranges KindScanRange scans.
const (
	scanSeeks  = 20000
	scanRanges = 20
)

// ScanSpecs returns the scan workloads at n keys.
func ScanSpecs(n int) []Spec {
	c := shortCount(n)
	return []Spec{
		{ID: "scan full " + c, Kind: KindScanFull, N: n, Threads: 1,
			Doc: "after a fill of N keys and one untimed full scan, one ordered scan of every key and value; keys/s"},
		{ID: "scan seek+100 " + c, Kind: KindScanSeek, N: n, Threads: 1,
			Doc: fmt.Sprintf("after the same, %d seeks to random points, each reading the next 100 keys and values; seeks/s", scanSeeks)},
		{ID: "scan 1% range " + c, Kind: KindScanRange, N: n, Threads: 1,
			Doc: fmt.Sprintf("after the same, %d scans of random ranges of 1%% of the key space (1%% of the keys, as a prefix scan); keys/s", scanRanges)},
		{ID: "scan first " + c, Kind: KindScanFirst, N: n, Threads: 1,
			Doc: "fill N keys, Close, Open, then time the first full scan (no scan before: CrabKv sorts its keys here); keys/s"},
		{ID: "scan full compacted " + c, Kind: KindScanFullCompacted, N: n, Threads: 1,
			Doc: "as scan full, with each engine's full compaction (untimed) after the untimed scan; keys/s"},
		{ID: "scan 1% range compacted " + c, Kind: KindScanRangeCompacted, N: n, Threads: 1,
			Doc: "as scan 1% range, with each engine's full compaction (untimed) after the untimed scan; keys/s"},
	}
}

// scan runs a scan workload.
func (r *runner) scan(res *Result) error {
	e, err := r.openLoaded()
	if err != nil {
		return err
	}
	if r.spec.Kind == KindScanFirst {
		if err := e.Close(); err != nil {
			return fmt.Errorf("close: %w", err)
		}
		if e, err = r.open(false); err != nil {
			return err
		}
	}
	sc, ok := e.(engines.Scanner)
	if !ok {
		return errors.Join(fmt.Errorf("engine %s cannot scan", r.engine), e.Close())
	}
	if r.spec.Kind != KindScanFirst {
		if _, err := fullScan(sc, r.spec.N); err != nil {
			return errors.Join(err, e.Close())
		}
	}
	if _, ok := scanKinds[r.spec.Kind]; ok {
		c, ok := e.(engines.Compacter)
		if !ok {
			return errors.Join(fmt.Errorf("engine %s cannot compact", r.engine), e.Close())
		}
		if err := c.CompactAll(); err != nil {
			return errors.Join(fmt.Errorf("compact: %w", err), e.Close())
		}
		// Warm the caches again, as for the others.
		if _, err := fullScan(sc, r.spec.N); err != nil {
			return errors.Join(err, e.Close())
		}
	}
	cpu0 := cpuSeconds()
	ops, d, err := r.timedScan(sc)
	if err != nil {
		return errors.Join(err, e.Close())
	}
	cpu := cpuSeconds() - cpu0
	res.Seconds = d.Seconds()
	res.Values[r.spec.ID] = float64(ops) / d.Seconds()
	st := procStatus()
	// The CPU time of the timed part per operation (key or seek): on a
	// busy machine the wall time mostly measures the scheduler.
	res.Extra = map[string]float64{"rss_anon_bytes": st["RssAnon"], "rss_file_bytes": st["RssFile"],
		"cpu_ns_per_op": cpu * 1e9 / float64(max(ops, 1))}
	return e.Close()
}

// timedScan runs the timed part and returns how many operations it did
// (keys, or seeks) and how long it took.
func (r *runner) timedScan(sc engines.Scanner) (int, time.Duration, error) {
	rng := rand.New(rand.NewPCG(r.seed, 99))
	kind := r.spec.Kind
	if k, ok := scanKinds[kind]; ok {
		kind = k
	}
	start := time.Now()
	switch kind {
	case KindScanFull, KindScanFirst:
		n, err := fullScan(sc, r.spec.N)
		return n, time.Since(start), err
	case KindScanSeek:
		for range scanSeeks {
			got := 0
			if err := sc.Scan(point(rng.Uint64()), nil, func(k, v []byte) bool {
				got++
				return got < 100
			}); err != nil {
				return 0, 0, err
			}
		}
		return scanSeeks, time.Since(start), nil
	case KindScanRange:
		total := 0
		for range scanRanges {
			lo := rng.Uint64N(^uint64(0) - ^uint64(0)/100)
			if err := sc.Scan(point(lo), point(lo+^uint64(0)/100), func(k, v []byte) bool {
				total++
				return true
			}); err != nil {
				return 0, 0, err
			}
		}
		if want := scanRanges * r.spec.N / 100; total < want/2 || total > want*2 {
			return 0, 0, fmt.Errorf("range scans read %d keys, expected about %d", total, want)
		}
		return total, time.Since(start), nil
	}
	return 0, 0, fmt.Errorf("unknown scan kind %q", r.spec.Kind)
}

// fullScan scans every key, checking that there are n in increasing
// order with values of the right size.
func fullScan(sc engines.Scanner, n int) (int, error) {
	got := 0
	var prev [keys.KeySize]byte
	var bad error
	err := sc.Scan(nil, nil, func(k, v []byte) bool {
		if got > 0 && string(k) <= string(prev[:]) || len(v) != keys.ValueSize {
			bad = fmt.Errorf("scan: key %q out of order or value of %d bytes", k, len(v))
			return false
		}
		copy(prev[:], k)
		got++
		return true
	})
	if err == nil {
		err = bad
	}
	if err == nil && got != n {
		err = fmt.Errorf("full scan read %d keys, want %d", got, n)
	}
	return got, err
}

// point returns the key at x in the key space: 16 hex digits, as keys
// are.
func point(x uint64) []byte {
	return fmt.Appendf(nil, "%016x", x)
}
