package workload

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crabkv/crabkv/bench/internal/keys"
)

// stall fills N keys, sync off, from one writer while one reader Gets
// random keys among those already written, and reports the longest Put
// and the longest Get in milliseconds, and how many of each a second. A fill's throughput hides a pause:
// an index or table that grows under a lock, a memtable flush or a
// compaction that holds writers up; the longest single operation shows
// it.
func (r *runner) stall(res *Result) error {
	e, err := r.open(false)
	if err != nil {
		return err
	}
	var (
		written atomic.Uint64
		stop    atomic.Bool
		maxGet  time.Duration
		gets    int
		readErr error
		wg      sync.WaitGroup
	)
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(r.seed, 99))
		var buf []byte
		// At least one Get, even when the fill is over before the reader
		// starts, as a tiny one can be.
		for ; gets == 0 || !stop.Load(); gets++ {
			w := written.Load()
			if w == 0 {
				if stop.Load() && written.Load() == 0 {
					return // the first Put failed
				}
				gets--
				continue
			}
			k := rng.Uint64N(w)
			buf = keys.Append(buf[:0], k)
			t0 := time.Now()
			if err := r.checkGet(e, buf, k, 0); err != nil {
				readErr = err
				return
			}
			maxGet = max(maxGet, time.Since(t0))
		}
	})
	var maxPut time.Duration
	var buf []byte
	start := time.Now()
	for i := range uint64(r.spec.N) {
		buf = keys.Append(buf[:0], i)
		t0 := time.Now()
		if err = e.Put(buf, r.val(i, 0)); err != nil {
			break
		}
		maxPut = max(maxPut, time.Since(t0))
		written.Store(i + 1)
	}
	res.Seconds = time.Since(start).Seconds()
	stop.Store(true)
	wg.Wait()
	// The reader's Gets after the fill ended count too: few, as it stops
	// at its next Get.
	secs := time.Since(start).Seconds()
	if err := errors.Join(err, readErr); err != nil {
		return errors.Join(err, e.Close())
	}
	res.Values[r.spec.ID] = float64(maxPut) / float64(time.Millisecond)
	res.Values[RowStallGet] = float64(maxGet) / float64(time.Millisecond)
	res.Values[RowStallPuts] = float64(r.spec.N) / res.Seconds
	res.Values[RowStallGets] = float64(gets) / secs
	return e.Close()
}
