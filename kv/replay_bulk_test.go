package kv

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crabkv/crabkv/walfmt"
)

// TestBulkReplayAgainstMap collects random puts and tombstones, with a
// hash of 3 bits so that most keys share their hash with others, and
// checks that applying them sorted by home slot leaves exactly what
// applying them in order leaves in a Go map: the same keys at the same
// records, and the live bytes of those records. Mostly overwritten keys
// make the table shrink after the apply.
func TestBulkReplayAgainstMap(t *testing.T) {
	for _, keys := range []int{50, 5000} {
		seed := rand.Uint64()
		rng := rand.New(rand.NewPCG(seed, 5))
		var src memKeys
		x := newIndex(0, walfmt.NewFileHeader())
		hashOf := func(k string) uint32 { return x.hash([]byte(k)) & 7 }
		type rec struct {
			off  int64
			size int
		}
		model := map[string]rec{}
		b := &bulkReplay{}
		for range 40 * keys {
			k := fmt.Sprintf("k%d", rng.IntN(keys))
			off := src.add(k)
			size := 1 + rng.IntN(100)
			s := slot{off: uint64(off), hash: hashOf(k), size: uint32(size)}
			if rng.IntN(4) == 0 {
				s.size = 1 | tombBit
				delete(model, k)
			} else {
				model[k] = rec{off, size}
				b.puts++
			}
			b.es = append(b.es, s)
			b.end += int64(s.size &^ tombBit)
		}
		var c counters
		if err := b.flush(x, &c, &src); err != nil {
			t.Fatal(err)
		}
		var live int64
		for k, r := range model {
			s, _, err := x.find([]byte(k), hashOf(k), &src)
			if err != nil || s == nil || int64(s.off) != r.off || int(s.size) != r.size {
				t.Fatalf("seed %d: %s at %+v (%v), want %+v", seed, k, s, err, r)
			}
			live += int64(r.size)
		}
		if x.count != len(model) {
			t.Fatalf("seed %d: count %d, model %d", seed, x.count, len(model))
		}
		if len(x.slots) != tableFor(len(model)) {
			t.Fatalf("seed %d: %d slots for %d keys, want %d", seed, len(x.slots), len(model), tableFor(len(model)))
		}
		if c.live != live || c.stale != b.end-live || c.size != b.end {
			t.Fatalf("seed %d: counters %+v, want live %d of %d", seed, c, live, b.end)
		}
		if err := x.close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReplayWithoutHintMatchesLiveStore writes puts, overwrites, deletes
// and batches, then expiring and encoded records after them, and reopens
// the store without its hint: the replay, collected and then record by
// record from the first expiring record on, must give the counters and
// values the store had while it was open.
func TestReplayWithoutHintMatchesLiveStore(t *testing.T) {
	for _, name := range []string{"plain", "expiring", "deletes", "plain/parallel", "expiring/parallel"} {
		t.Run(name, func(t *testing.T) {
			if strings.HasSuffix(name, "/parallel") {
				name = strings.TrimSuffix(name, "/parallel")
				readInSmallPieces(t)
			}
			dir := t.TempDir()
			opts := *manualPolicy
			if name == "expiring" {
				opts.Codec = S2 // compresses the long values below
			}
			db, err := Open(dir, &opts)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(7, 7))
			model := map[string]string{}
			keys := 20000
			for i := range 3 * keys {
				k := fmt.Sprintf("key-%d", rng.IntN(keys))
				switch {
				case name == "deletes" && i > keys:
					err = db.Delete([]byte(k))
					delete(model, k)
				case i%97 == 0:
					bt := db.NewBatch()
					bt.Put([]byte(k), []byte("batched"))
					bt.Delete([]byte("key-0"))
					err = db.Write(bt)
					model[k] = "batched"
					delete(model, "key-0")
				default:
					v := fmt.Sprintf("value-%d", i)
					err = db.Put([]byte(k), []byte(v))
					model[k] = v
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if name == "expiring" {
				for i := range 100 {
					k := fmt.Sprintf("key-%d", i)
					v := strings.Repeat("for a while ", 20)
					if err := db.PutTTL([]byte(k), []byte(v), time.Hour); err != nil {
						t.Fatal(err)
					}
					model[k] = v
				}
				if err := db.Put([]byte("key-1"), []byte("plain again")); err != nil {
					t.Fatal(err)
				}
				model["key-1"] = "plain again"
			}
			want := db.Stats()
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{hintName, hintName + expHintSuffix} {
				if err := os.Remove(filepath.Join(dir, f)); err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
			}
			db, err = Open(dir, &opts)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			got := db.Stats()
			if got.Keys != want.Keys || got.Keys != len(model) || got.LiveBytes != want.LiveBytes || got.StaleBytes != want.StaleBytes ||
				got.LogBytes != want.LogBytes || got.ExpiringKeys != want.ExpiringKeys || got.LogicalLiveBytes != want.LogicalLiveBytes {
				t.Fatalf("after replay %+v\nwhile open %+v (model %d keys)", got, want, len(model))
			}
			for k, v := range model {
				b, err := db.Get([]byte(k))
				if err != nil || string(b) != v {
					t.Fatalf("Get %s = %q, %v; want %q", k, b, err, v)
				}
			}
		})
	}
}

// TestSortByHomeIsStable sorts slots under masks of every width a pass
// split can meet and checks the order: by home slot, and within a home in
// the order given (offsets increasing), which the replay relies on; and
// that sortByHomeParallel, on three goroutines, gives the same.
func TestSortByHomeIsStable(t *testing.T) {
	defer func(m int, p int) {
		applyParallelMin = m
		runtime.GOMAXPROCS(p)
	}(applyParallelMin, runtime.GOMAXPROCS(3)) // parts of unequal lengths
	applyParallelMin = 1
	rng := rand.New(rand.NewPCG(11, 11))
	for _, bits := range []uint{1, 10, 12, 13, 20, 24, 25, 32} {
		mask := uint32(1<<bits - 1)
		es := make([]slot, 3001)
		for i := range es {
			es[i] = slot{off: uint64(i + 1), hash: rng.Uint32() & 0xff00ff0f}
		}
		got := sortByHome(slices.Clone(es), make([]slot, len(es)), mask)
		if par := sortByHomeParallel(es, make([]slot, len(es)), mask); !slices.Equal(par, got) {
			t.Fatalf("mask %#x: sortByHomeParallel differs from sortByHome", mask)
		}
		seen := map[uint64]bool{}
		for i, s := range got {
			seen[s.off] = true
			if i == 0 {
				continue
			}
			p := got[i-1]
			if p.hash&mask > s.hash&mask || (p.hash&mask == s.hash&mask && p.off > s.off) {
				t.Fatalf("mask %#x: %+v before %+v", mask, p, s)
			}
		}
		if len(seen) != len(es) {
			t.Fatalf("mask %#x: %d distinct slots out of %d", mask, len(seen), len(es))
		}
	}
}

// readInSmallPieces makes a replay read logs of a few hundred kilobytes
// in pieces of 16 KiB on several goroutines, and sort and apply their
// records on several too, until the test ends.
func readInSmallPieces(t *testing.T) {
	t.Helper()
	oldMin, oldPiece := parallelMin, pieceMin
	oldApply, oldRegion := applyParallelMin, applyRegionMin
	parallelMin, pieceMin = 64<<10, 16<<10
	applyParallelMin, applyRegionMin = 1, 64
	procs := runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0)))
	t.Cleanup(func() {
		parallelMin, pieceMin = oldMin, oldPiece
		applyParallelMin, applyRegionMin = oldApply, oldRegion
		runtime.GOMAXPROCS(procs)
	})
}

// TestParallelReplayFindsDamageAsSequential damages a log of many pieces
// in its middle and at its end, and checks that a replay reading it on
// several goroutines ends as one reading it record by record: the same
// error, or the same cut and keys.
func TestParallelReplayFindsDamageAsSequential(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, manualPolicy)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30000 {
		k := fmt.Sprintf("key-%d", i%20000)
		if i%50 == 0 {
			bt := db.NewBatch()
			bt.Put([]byte(k), []byte("in a batch"))
			bt.Delete([]byte(fmt.Sprintf("key-%d", i/2)))
			err = db.Write(bt)
		} else {
			err = db.Put([]byte(k), []byte(strings.Repeat("v", i%40)))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(filepath.Join(dir, logName))
	if err != nil {
		t.Fatal(err)
	}
	size := len(log)
	for len(log) > 0 && log[len(log)-1] == 0 {
		log = log[:len(log)-1] // reserved space after the records
	}
	for _, tc := range []struct {
		name string
		hurt func([]byte) []byte
		want string // in the outcome
	}{
		{"intact", func(b []byte) []byte { return b }, " cut 0 "},
		{"flipped in a later piece", func(b []byte) []byte { b[len(b)/5] ^= 0x40; return b }, "corrupt record at offset"},
		{"flipped in the first piece", func(b []byte) []byte { b[20<<10] ^= 0x40; return b }, "corrupt record at offset"},
		{"flipped within the sync window of the end", func(b []byte) []byte { b[len(b)-300<<10] ^= 0x40; return b }, " cut "},
		{"torn", func(b []byte) []byte { return b[:len(b)-7] }, " cut 56 "},
		{"torn and zeros", func(b []byte) []byte { return append(b[:len(b)-7], make([]byte, size-len(b)+7)...) }, " cut "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var results [2]string
			for i, parallel := range []bool{false, true} {
				d := t.TempDir()
				if err := os.WriteFile(filepath.Join(d, logName), tc.hurt(slices.Clone(log)), 0o644); err != nil {
					t.Fatal(err)
				}
				if parallel {
					readInSmallPieces(t)
				}
				results[i] = replayOutcome(d)
			}
			if results[0] != results[1] || !strings.Contains(results[0], tc.want) {
				t.Fatalf("record by record:\n%s\non several goroutines:\n%s\nwant both to hold %q", results[0], results[1], tc.want)
			}
		})
	}
}

// replayOutcome opens the store in dir and describes how it went: the
// error, or the counters and a digest of every key's value.
func replayOutcome(dir string) string {
	db, err := Open(dir, manualPolicy)
	if err != nil {
		return strings.ReplaceAll(err.Error(), dir, "DIR")
	}
	defer db.Close()
	st := db.Stats()
	sum := 0
	for i := range 20000 {
		v, err := db.Get([]byte(fmt.Sprintf("key-%d", i)))
		if err == nil {
			sum += i * (len(v) + 1)
		}
	}
	return fmt.Sprintf("keys %d log %d live %d stale %d cut %d digest %d", st.Keys, st.LogBytes, st.LiveBytes, st.StaleBytes, st.TruncatedBytes, sum)
}

// TestBulkReplayReservesForBatches checks that a collection of a log
// written in batches reserves room for the whole log once it has seen a
// sample of records, as one of single records does: a batch adds many
// records at once, which passed the sample's size without meeting it, and
// the collection was grown by doubling on the Go heap, copied each time.
func TestBulkReplayReservesForBatches(t *testing.T) {
	if _, m := allocScratch(1); m == nil {
		t.Skip("no anonymous maps here: a collection always lives on the heap")
	} else {
		_ = unmapSlots(m)
	}
	log := walfmt.AppendHeader(nil)
	for i := range 20 {
		start := len(log)
		log = walfmt.AppendBatchHeader(log)
		for j := range 1000 {
			log = walfmt.AppendBatchOp(log, walfmt.KindPut, fmt.Appendf(nil, "k%d-%d", i, j), []byte("v"))
		}
		walfmt.SealBatch(log[start:])
	}
	x := newIndex(0, walfmt.NewFileHeader())
	b := newBulkReplay(x, &counters{size: walfmt.HeaderSize}, int64(len(log)))
	r := walfmt.NewReader(bytes.NewReader(log), int64(len(log)), "")
	r.StartAt(walfmt.HeaderSize)
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		if !b.add(x, rec) {
			t.Fatal("a batch of plain puts was not collected")
		}
	}
	// A batch with an expiring operation after a plain one is not
	// collected, and leaves the collection as it was.
	start := len(log)
	mixed := walfmt.AppendBatchHeader(log)
	mixed = walfmt.AppendBatchOp(mixed, walfmt.KindPut, []byte("plain"), []byte("v"))
	mixed = walfmt.AppendBatchOpExpiring(mixed, []byte("expiring"), []byte("v"), 1)
	walfmt.SealBatch(mixed[start:])
	mr := walfmt.NewReader(bytes.NewReader(mixed), int64(len(mixed)), "")
	mr.StartAt(int64(start))
	rec, err := mr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if n, puts := len(b.es), b.puts; b.add(x, rec) || len(b.es) != n || b.puts != puts {
		t.Fatalf("a batch with an expiring operation: collection %d records, %d puts; was %d, %d", len(b.es), b.puts, n, puts)
	}
	if len(b.es) != 20000 || b.esMem == nil || cap(b.es) < 20000 {
		t.Fatalf("collected %d records in room for %d, reserved outside the heap: %v; want 20000, reserved", len(b.es), cap(b.es), b.esMem != nil)
	}
	b.release()
}

// countingKeys is a keySource over memKeys that counts the keys read.
type countingKeys struct {
	memKeys
	reads int
}

func (c *countingKeys) keyAt(off int64) ([]byte, error) { c.reads++; return c.memKeys.keyAt(off) }
func (c *countingKeys) keyOf(s slot) ([]byte, error)    { return c.keyAt(int64(s.off)) }

// TestBulkReplayTags applies collected records whose keys share 8-bit
// (and 3-bit) hashes, so that most meet others of their hash. With tags
// (see tagShift) that tell every key from the others of its hash, no key
// is read; with tags of one bit, or none, on a mix of overwrites and
// tombstones, keys are read and the outcome is still the model's.
func TestBulkReplayTags(t *testing.T) {
	t.Run("distinct", func(t *testing.T) {
		var src countingKeys
		x := newIndex(0, walfmt.NewFileHeader())
		b := &bulkReplay{}
		const keys = 3000
		for i := range keys {
			k := fmt.Sprintf("k%d", i)
			off := src.add(k)
			b.es = append(b.es, slot{off: uint64(off) | uint64(i+1)<<tagShift, hash: x.hash([]byte(k)) & 0xff, size: 10})
			b.puts++
			b.end += 10
		}
		var c counters
		if err := b.flush(x, &c, &src); err != nil {
			t.Fatal(err)
		}
		if src.reads != 0 {
			t.Fatalf("%d keys read to apply %d keys of distinct tags", src.reads, keys)
		}
		for i := range keys {
			k := fmt.Sprintf("k%d", i)
			s, _, err := x.find([]byte(k), x.hash([]byte(k))&0xff, &src.memKeys)
			if err != nil || s == nil || s.off != uint64(i+1) {
				t.Fatalf("%s at %+v (%v), want offset %d", k, s, err, i+1)
			}
		}
		if x.count != keys || c.live != keys*10 {
			t.Fatalf("count %d, live %d; want %d keys", x.count, c.live, keys)
		}
	})
	t.Run("mixed", func(t *testing.T) {
		seed := rand.Uint64()
		rng := rand.New(rand.NewPCG(seed, 6))
		var src countingKeys
		x := newIndex(0, walfmt.NewFileHeader())
		model := map[string]int64{}
		b := &bulkReplay{}
		for range 20000 {
			n := rng.IntN(2000)
			k := fmt.Sprintf("k%d", n)
			off := src.add(k)
			tag := uint64(1 + n%2) // keys of one hash mostly share a tag
			if n%5 == 0 {
				tag = 0 // none
			}
			s := slot{off: uint64(off) | tag<<tagShift, hash: x.hash([]byte(k)) & 7, size: 10}
			if rng.IntN(4) == 0 {
				s.size = 1 | tombBit
				delete(model, k)
			} else {
				model[k] = off
				b.puts++
			}
			b.es = append(b.es, s)
			b.end += int64(s.size &^ tombBit)
		}
		var c counters
		if err := b.flush(x, &c, &src); err != nil {
			t.Fatal(err)
		}
		if src.reads == 0 {
			t.Fatal("no key read: overwrites were applied without a comparison")
		}
		for k, off := range model {
			s, _, err := x.find([]byte(k), x.hash([]byte(k))&7, &src.memKeys)
			if err != nil || s == nil || int64(s.off) != off {
				t.Fatalf("seed %d: %s at %+v (%v), want offset %d", seed, k, s, err, off)
			}
		}
		if x.count != len(model) {
			t.Fatalf("seed %d: count %d, model %d", seed, x.count, len(model))
		}
	})
}

// TestApplySortedParallel applies collected puts, overwrites and
// tombstones on three goroutines (regions of unequal sizes) or four, with
// keys whose home slots crowd the ends of the regions and of the table, so
// that probes and the shifts after removals run into a region's end and
// wrap around the table's, and checks the outcome against a Go map, as
// TestBulkReplayAgainstMap does.
func TestApplySortedParallel(t *testing.T) {
	defer func(m int, r uint32, p int) {
		applyParallelMin, applyRegionMin = m, r
		runtime.GOMAXPROCS(p)
	}(applyParallelMin, applyRegionMin, runtime.GOMAXPROCS(0))
	applyParallelMin, applyRegionMin = 1, 64
	for round := range 100 {
		runtime.GOMAXPROCS(3 + round%2) // three regions of unequal sizes, or four
		seed := rand.Uint64()
		rng := rand.New(rand.NewPCG(seed, 7))
		keys := 100 + rng.IntN(600)
		type op struct {
			key  int
			size int
			del  bool
		}
		var ops []op
		puts := 0
		for range 4 * keys {
			o := op{key: rng.IntN(keys), size: 1 + rng.IntN(100), del: rng.IntN(4) == 0}
			if !o.del {
				puts++
			}
			ops = append(ops, o)
		}
		n := tableFor(puts)
		// Home slots a few slots before a region's end, or the table's, for
		// one key in eight; anywhere for three; in a few crowds for the
		// others.
		hashes := make([]uint32, keys)
		var centres [8]uint32
		for i := range centres {
			centres[i] = uint32(rng.IntN(n))
		}
		procs := runtime.GOMAXPROCS(0)
		for k := range hashes {
			end := uint32(1+rng.IntN(procs)) * uint32(n/procs)
			if rng.IntN(procs) == 0 {
				end = uint32(n)
			}
			home := (end - 1 - uint32(rng.IntN(12))) & uint32(n-1)
			switch k % 8 {
			case 1, 2, 3:
				home = uint32(rng.IntN(n))
			case 4, 5, 6, 7:
				home = (centres[rng.IntN(len(centres))] + uint32(rng.IntN(32))) & uint32(n-1)
			}
			hashes[k] = home | uint32(rng.IntN(3))<<24 // some keys share a whole hash
		}
		var src memKeys
		model := map[int]slot{}
		b := &bulkReplay{}
		for _, o := range ops {
			off := src.add(fmt.Sprintf("k%d", o.key))
			s := slot{off: uint64(off) | uint64(1+o.key%2)<<tagShift, hash: hashes[o.key], size: uint32(o.size)}
			if o.del {
				s.size = 1 | tombBit
				delete(model, o.key)
			} else {
				model[o.key] = slot{off: uint64(off), hash: s.hash, size: s.size}
				b.puts++
			}
			b.es = append(b.es, s)
			b.end += int64(s.size &^ tombBit)
		}
		x := newIndex(0, walfmt.NewFileHeader())
		var c counters
		if err := b.flush(x, &c, &src); err != nil {
			t.Fatal(err)
		}
		var live int64
		for k := range keys {
			want, in := model[k]
			s, _, err := x.find(fmt.Appendf(nil, "k%d", k), hashes[k], &src)
			switch {
			case err != nil:
				t.Fatalf("seed %d: k%d: %v", seed, k, err)
			case in && (s == nil || *s != want):
				t.Fatalf("seed %d: k%d at %+v, want %+v", seed, k, s, want)
			case !in && s != nil:
				t.Fatalf("seed %d: k%d at %+v, deleted", seed, k, s)
			}
			live += int64(want.size)
		}
		if x.count != len(model) || c.live != live {
			t.Fatalf("seed %d: %d keys of %d bytes, model %d of %d", seed, x.count, c.live, len(model), live)
		}
	}
}
