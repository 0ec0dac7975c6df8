package kv_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// hintedCompactionBase builds a store of about 6 MiB live and as much
// stale, with batches and expiring keys: large enough that a compaction
// writes the new log's hint and its expiry table (4 MiB and up), which the
// stores of the other compaction crash tests are too small for.
func hintedCompactionBase(t *testing.T) (*memFS, state) {
	mem := newMemFS()
	db, err := kv.Open(memDir, memOptions(mem, false))
	if err != nil {
		t.Fatal(err)
	}
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
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return mem.Crash(keepNone, rand.New(rand.NewPCG(1, 1))), want
}

// TestCrashCompactionWithHint crashes a compaction of a store large
// enough for its hint at each of its mutating operations — the hint is
// written while the new log's sync runs — with none, all or some of the
// unsynced writes kept, and a write arriving during the copy, and checks
// the reboot, twice (the second Open reads the hint the first Close
// wrote, or the compaction's).
func TestCrashCompactionWithHint(t *testing.T) {
	base, want0 := hintedCompactionBase(t)
	step := 1
	if raceEnabled {
		step = 4
	}
	for k := 0; ; k += step {
		finished := true
		for _, keep := range []crashKeep{keepNone, keepAll, keepSubset} {
			rng := rand.New(rand.NewPCG(uint64(k), uint64(keep)))
			mem := base.Crash(keepNone, rng) // a copy
			ffs := newFaultFS(mem)
			db, err := kv.Open(memDir, memOptions(ffs, false))
			if err != nil {
				t.Fatal(err)
			}
			want := cloneState(want0)
			var crashed *memFS
			crash := crashAfter(k, func() { crashed = mem.CrashHalt(keep, rng) })
			var lateOnce sync.Once
			late := op{kind: 'P', key: "k00004", value: "late"}
			lateAcked := false
			ffs.SetInject(func(o fsOp, name string, flag int) error {
				if o == opWrite && strings.HasSuffix(name, ".compact") {
					lateOnce.Do(func() { lateAcked = late.run(db) == nil })
				}
				return crash(o, name, flag)
			})
			cerr := db.Compact()
			db.Close()
			if crashed == nil {
				if cerr != nil {
					t.Fatalf("compaction without a crash: %v", cerr)
				}
				if keep == keepNone {
					t.Logf("%d operations; files %v", k, mem.Names(memDir))
				}
				continue
			}
			finished = false
			for pass := range 2 {
				got := reopenState(t, crashed, uint64(k))
				if got == nil {
					break
				}
				w := want
				if lateAcked || diffState(got, want.apply(late)) == "" {
					w = want.apply(late)
				}
				if d := diffState(got, w); d != "" {
					t.Errorf("crash at op %d (keep %d), open %d:\n%.2000s", k, keep, pass, d)
				}
			}
		}
		if finished || t.Failed() {
			t.Logf("crashed at each of %d operations", k)
			return
		}
	}
}
