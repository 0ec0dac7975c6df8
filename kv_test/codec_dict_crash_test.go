package kv_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// zdictDoc is a JSON document of about 1 KiB, number i, of one shape with
// varying contents: what ZstdDict trains its dictionary on.
func zdictDoc(i int) []byte {
	r := rand.New(rand.NewPCG(uint64(i), 11))
	cities := []string{"Lisbon", "Osaka", "Nairobi", "Lima", "Perth"}
	b := fmt.Appendf(nil, `{"id":%d,"name":"user %d","city":"%s","events":[`, i, r.IntN(1e6), cities[r.IntN(len(cities))])
	for len(b) < 900 {
		b = fmt.Appendf(b, `{"at":"2025-%02d-%02dT%02d","city":"%s","ms":%d},`,
			1+r.IntN(12), 1+r.IntN(28), r.IntN(24), cities[r.IntN(len(cities))], r.IntN(2000))
	}
	return append(b, "{}]}"...)
}

// zdictDocs is enough documents for a store to train its dictionary (it
// takes 256) and write some values with it.
const zdictDocs = 300

func zdictKey(i int) []byte { return fmt.Appendf(nil, "doc-%04d", i) }

// zdictWorkload puts documents [0, zdictDocs) with sync on through fsys,
// each acknowledged before the next, and returns how many were.
func zdictWorkload(fsys kv.FS) int {
	opts := memOptions(fsys, false)
	opts.Codec = kv.ZstdDict
	db, err := kv.Open(memDir, opts)
	if err != nil {
		return 0
	}
	acked := 0
	for ; acked < zdictDocs; acked++ {
		if db.Put(zdictKey(acked), zdictDoc(acked)) != nil {
			break
		}
	}
	_ = db.Close() // the process is gone; its close may fail
	return acked
}

// TestCrashDuringZstdDictTraining crashes a store that writes with
// ZstdDict at each file-system operation around the storing of its
// dictionary (and at two others), keeping none, all or a prefix of the
// unsynced writes, and checks that every acknowledged value reads back
// whole after the reboot, that Verify decodes every value, and that the
// store goes on writing and reading with a dictionary.
func TestCrashDuringZstdDictTraining(t *testing.T) {
	// A run without a crash finds the operations that store the
	// dictionary.
	dry := newFaultFS(newMemFS())
	first, total := -1, 0
	dry.SetInject(func(op fsOp, name string, flag int) error {
		if op.mutates() {
			writes := op != opOpen || flag&(os.O_WRONLY|os.O_RDWR) != 0
			if first < 0 && writes && filepath.Base(name) == "wal.zdict" {
				first = total
			}
			total++
		}
		return nil
	})
	if acked := zdictWorkload(dry); acked != zdictDocs || first < 0 {
		t.Fatalf("dry run: %d documents acknowledged, dictionary at operation %d", acked, first)
	}
	type point struct {
		k    int
		keep crashKeep
	}
	// The operations from the dictionary file's creation to the sync of
	// the first value encoded with it (the value of the Put that trains
	// is not), with each way of crashing; and two others.
	points := []point{{total / 3, keepPrefix}, {total - 3, keepPrefix}}
	keeps := []crashKeep{keepNone, keepAll, keepPrefix}
	if testing.Short() {
		keeps = keeps[2:]
	}
	for k := first; k <= first+6; k++ {
		for _, keep := range keeps {
			points = append(points, point{k, keep})
		}
	}
	rng := rand.New(rand.NewPCG(baseSeed(t), 5))
	for _, p := range points {
		t.Run(fmt.Sprintf("op%d/keep%d", p.k, p.keep), func(t *testing.T) {
			crashZstdDictAt(t, p.k, p.keep, rng)
		})
	}
}

func crashZstdDictAt(t *testing.T, k int, keep crashKeep, rng *rand.Rand) {
	mem := newMemFS()
	ffs := newFaultFS(mem)
	var crashed *memFS
	ffs.SetInject(crashAfter(k, func() { crashed = mem.CrashHalt(keep, rng) }))
	acked := zdictWorkload(ffs)
	if crashed == nil {
		crashed = mem.Crash(keep, rng)
	}
	opts := memOptions(crashed, false)
	opts.Codec = kv.ZstdDict
	db, err := kv.Open(memDir, opts)
	if err != nil {
		t.Fatalf("Open after the crash: %v", err)
	}
	check := func(n int) {
		t.Helper()
		for i := range n {
			got, err := db.Get(zdictKey(i))
			if err != nil || !bytes.Equal(got, zdictDoc(i)) {
				t.Fatalf("%d acknowledged: Get doc %d = %.30q, %v", acked, i, got, err)
			}
		}
		// The one in flight may have landed, whole.
		if got, err := db.Get(zdictKey(n)); err == nil && !bytes.Equal(got, zdictDoc(n)) {
			t.Fatalf("doc %d in flight reads %.30q", n, got)
		} else if err != nil && !errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("doc %d in flight: %v", n, err)
		}
	}
	check(acked)
	if rep, err := kv.VerifyFS(crashed, memDir); err != nil || len(rep.BadValues) != 0 {
		t.Fatalf("Verify after the crash: %v, bad values %+v", err, rep.BadValues)
	}
	// The store trains or keeps its dictionary and writes on.
	for i := acked; i < zdictDocs+zdictDocs/2; i++ {
		if err := db.Put(zdictKey(i), zdictDoc(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = kv.Open(memDir, memOptions(crashed, false)); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	acked = zdictDocs + zdictDocs/2
	check(acked)
	e, err := db.Entry(zdictKey(acked - 1))
	if err != nil || e.Codec != "zstd-dict" || e.StoredValueSize*2 > e.ValueSize {
		t.Fatalf("the last document is stored %+v, %v; want it with a dictionary", e, err)
	}
	if rep, err := kv.VerifyFS(crashed, memDir); err != nil || len(rep.BadValues) != 0 {
		t.Fatalf("Verify: %v, bad values %+v", err, rep.BadValues)
	}
}
