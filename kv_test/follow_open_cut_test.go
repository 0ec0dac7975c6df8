package kv_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// TestReadOnlyOpenBesideWriterClose opens a store read-only, and verifies
// it, over and over beside a writer that opens, writes and closes it in a
// loop, as a program run again and again does: each Close trims the space
// the writer reserved past its records, under the reader's replay or scan.
// Every Open and every Verify must succeed.
func TestReadOnlyOpenBesideWriterClose(t *testing.T) {
	dir := t.TempDir()
	var stop atomic.Bool
	var wg sync.WaitGroup
	rounds := 0
	wg.Go(func() {
		for ; !stop.Load(); rounds++ {
			db, err := kv.Open(dir, &kv.Options{NoSync: true})
			if err != nil {
				t.Error(err)
				return
			}
			for i := range 2000 {
				if err := db.Put(fmt.Appendf(nil, "k%04d", i), fmt.Appendf(nil, "v%d-%d", rounds, i)); err != nil {
					t.Error(err)
				}
			}
			if err := db.Close(); err != nil {
				t.Error(err)
				return
			}
		}
	})
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()
	check := func(what string, try func() error) {
		runs, fails := 0, 0
		var first error
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); runs++ {
			if err := try(); err != nil {
				if fails++; first == nil {
					first = err
				}
			}
		}
		if fails > 0 {
			t.Errorf("%d of %d %s beside a writer that closes failed; the first: %v", fails, runs, what, first)
		}
	}
	check("read-only opens", func() error {
		db, err := kv.Open(dir, &kv.Options{ReadOnly: true})
		if err != nil {
			return err
		}
		return db.Close()
	})
	check("verifications", func() error {
		_, err := kv.Verify(dir)
		return err
	})
	stop.Store(true)
	wg.Wait()
	if rounds < 10 {
		t.Errorf("the writer closed the store only %d times", rounds)
	}
}
