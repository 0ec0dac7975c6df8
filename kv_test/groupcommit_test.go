package kv_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// Batches written at once from several goroutines share fsyncs. The first
// sync is held until every writer has appended its batch and queued it for
// a sync; the writers' lock is then free, so each batch waits in the queue,
// and whichever waiter leads next syncs all of them at once. So the writes
// take at most two syncs however the goroutines are scheduled: the one held
// (which may already cover some of them) and the one after it.
func TestBatchWritesShareSyncs(t *testing.T) {
	const writers, ops = 8, 10
	ffs := newFaultFS(newMemFS())
	db := openDB(t, memDir, memOptions(ffs, false))

	var mu sync.Mutex
	appends, syncs := 0, 0
	allAppended := make(chan struct{})
	held := false
	ffs.SetInject(func(o fsOp, name string, _ int) error {
		if !strings.HasSuffix(name, "wal.log") {
			return nil
		}
		mu.Lock()
		switch o {
		case opWrite:
			if appends++; appends == writers {
				close(allAppended)
			}
		case opSync:
			syncs++
			first := !held
			held = true
			mu.Unlock()
			if first {
				<-allAppended
				// The last writer queues its batch before it lets go of
				// the writers' lock, which Sync takes.
				if err := db.Sync(); err != nil {
					return err
				}
			}
			return nil
		}
		mu.Unlock()
		return nil
	})

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			b := db.NewBatch()
			for i := range ops {
				b.Put(fmt.Appendf(nil, "w%d-%d", w, i), fmt.Appendf(nil, "v%d-%d", w, i))
			}
			errs <- db.Write(b)
		})
	}
	wg.Wait()
	ffs.SetInject(nil)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if appends != writers {
		t.Fatalf("%d appends for %d batches, want one each", appends, writers)
	}
	if syncs > 2 {
		t.Fatalf("%d batches written together took %d syncs, want at most 2", writers, syncs)
	}
	t.Logf("%d batches, %d syncs", writers, syncs)
	for w := range writers {
		for i := range ops {
			wantValue(t, db, fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("v%d-%d", w, i))
		}
	}
}
