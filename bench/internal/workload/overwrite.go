package workload

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/crabkv/crabkv/bench/internal/keys"
)

// overwriteChecks is how many keys overwriteEvery reads back after
// reopening the store.
const overwriteChecks = 1000

// overwriteEvery fills N keys untimed, then times a Put of a new value
// (generation 1) to every key once, in a random order, and the Close after
// it: an engine that leaves the old versions to background work pays for
// that work, or leaves it undone and larger files. The directory's size
// after Close is reported; the store is then opened again and a sample of
// keys read back, untimed, to check that the overwrite is what it holds.
func (r *runner) overwriteEvery(res *Result) error {
	e, err := r.openLoaded()
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(r.seed, 1))
	order := rng.Perm(r.spec.N)
	var buf []byte
	start := time.Now()
	for _, i := range order {
		k := uint64(i)
		buf = keys.Append(buf[:0], k)
		if err := e.Put(buf, r.val(k, 1)); err != nil {
			return errors.Join(fmt.Errorf("put %s: %w", buf, err), e.Close())
		}
	}
	if err := e.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	r.setOps(res, time.Since(start))
	size, err := dirSize(r.dir)
	if err != nil {
		return err
	}
	res.Values[RowDiskOverwrite] = float64(size)
	res.Extra = map[string]float64{"raw_bytes": float64(r.spec.N) * float64(keys.KeySize+keys.ValueSize)}

	if e, err = r.open(false); err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	for range min(overwriteChecks, r.spec.N) {
		k := rng.Uint64N(uint64(r.spec.N))
		if err := r.checkGet(e, keys.Append(buf[:0], k), k, 1); err != nil {
			return errors.Join(fmt.Errorf("after overwrite-all: %w", err), e.Close())
		}
	}
	return e.Close()
}
