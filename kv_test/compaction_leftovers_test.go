package kv_test

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// TestFailedCompactionLeavesNothing fails a compaction of a store large
// enough that the compaction writes a hint for its new log (and, for its
// expiring keys, the expiry table beside it) before the new log's sync,
// and checks that the failed compaction removes every file it wrote.
func TestFailedCompactionLeavesNothing(t *testing.T) {
	for _, nth := range []int{1, 2} { // the copy's sync, and the swap's
		t.Run(fmt.Sprintf("sync %d of the new log fails", nth), func(t *testing.T) {
			mem := newMemFS()
			ffs := newFaultFS(mem)
			db, err := kv.Open(memDir, memOptions(ffs, false))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			// 6 MiB live and as much stale: past the 4 MiB from which a
			// compaction writes a hint. Some keys expire, so that the
			// hint has an expiry table beside it.
			val := strings.Repeat("v", 1000)
			for round := range 2 {
				b := db.NewBatch()
				for i := range 6000 {
					k, v := []byte(fmt.Sprintf("k%05d", i)), []byte(fmt.Sprintf("%d-%s", round, val))
					if i%10 == 0 {
						b.PutTTL(k, v, 1<<40)
					} else {
						b.Put(k, v)
					}
					if b.Len() == 100 {
						if err := db.Write(b); err != nil {
							t.Fatal(err)
						}
						b = db.NewBatch()
					}
				}
			}
			ffs.SetInject(failNthOp(opSync, "wal.log.compact", nth, syscall.EIO))
			if err := db.Compact(); !errors.Is(err, syscall.EIO) {
				t.Fatalf("Compact: %v, want EIO", err)
			}
			ffs.SetInject(nil)
			if left := leftovers(mem.Names(memDir)); len(left) > 0 {
				t.Errorf("the failed compaction left %v behind (files: %v)", left, mem.Names(memDir))
			}
		})
	}
}
