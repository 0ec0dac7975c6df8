package kv_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// hintedCompactionFill fills a store of about 6 MiB live and as much
// stale, with batches and expiring keys: large enough that a compaction
// writes the new log's hint and its expiry table (4 MiB and up), which the
// store of TestCrashDuringCompactionEveryStep is too small for.
func hintedCompactionFill(t *testing.T) func(*kv.DB) state {
	return func(db *kv.DB) state {
		want := state{}
		val := strings.Repeat("x", 1000)
		for round := range 2 {
			b := db.NewBatch()
			for i := range 6000 {
				o := op{kind: 'P', key: fmt.Sprintf("k%05d", i), value: fmt.Sprintf("%d-%s", round, val)}
				if i%9 == 4 {
					o.ttl = 10 * time.Hour
				}
				if i%10 == 3 {
					if o.ttl != 0 {
						b.PutTTL([]byte(o.key), []byte(o.value), o.ttl)
					} else {
						b.Put([]byte(o.key), []byte(o.value))
					}
					if b.Len() == 20 {
						if err := db.Write(b); err != nil {
							t.Fatal(err)
						}
						b = db.NewBatch()
					}
				} else if err := o.run(db); err != nil {
					t.Fatal(err)
				}
				want = want.apply(o)
			}
			if b.Len() > 0 {
				if err := db.Write(b); err != nil {
					t.Fatal(err)
				}
			}
		}
		return want
	}
}

// TestCrashCompactionWithHint crashes a compaction of a store large
// enough for its hint at each of its mutating operations — the hint is
// written while the new log's sync runs — with none, all or some of the
// unsynced writes kept, and a write to an expiring key arriving during the
// copy, and checks the reboot as TestCrashDuringCompactionEveryStep does.
func TestCrashCompactionWithHint(t *testing.T) {
	c := compactionCrash{late: op{kind: 'P', key: "k00004", value: "late"}}
	c.base, c.want = crashBase(t, hintedCompactionFill(t))
	step := 1
	if raceEnabled {
		step = 4
	}
	for k := 0; ; k += step {
		finished := true
		for _, keep := range []crashKeep{keepNone, keepAll, keepSubset} {
			if c.at(t, k, keep, rand.New(rand.NewPCG(uint64(k), uint64(keep)))) {
				finished = false
			}
		}
		if finished || t.Failed() {
			t.Logf("crashed at each of %d operations", k)
			return
		}
	}
}
