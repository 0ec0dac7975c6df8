package kv

import (
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/crabkv/crabkv/walfmt"
)

// memKeys is a keySource over keys held in memory, at offsets 1, 2, 3...
type memKeys [][]byte

func (m *memKeys) keyAt(off int64) ([]byte, error) { return (*m)[off-1], nil }

func (m *memKeys) keyOf(s slot) ([]byte, error) { return m.keyAt(int64(s.off)) }
func (m *memKeys) checkRecord(int64, int) error { return nil }

func (m *memKeys) add(k string) int64 {
	*m = append(*m, []byte(k))
	return int64(len(*m))
}

// TestIndexAgainstMap runs random puts and removes against a Go map. The
// key space is large enough to grow the table several times and to make
// probe runs wrap around its end.
func TestIndexAgainstMap(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 3))
	var src memKeys
	x := newIndex(0, walfmt.NewFileHeader())
	model := map[string]int64{}
	for i := range 200_000 {
		k := fmt.Sprintf("k%d", rng.IntN(5000))
		if rng.IntN(3) == 0 {
			_, had, _ := x.remove([]byte(k), &src)
			_, want := model[k]
			if had != want {
				t.Fatalf("seed %d op %d: remove %s reported %v, model %v", seed, i, k, had, want)
			}
			delete(model, k)
			continue
		}
		off := src.add(k)
		old, had, _ := x.put([]byte(k), off, 1, &src)
		if prev, ok := model[k]; ok != had || (had && int64(old.off) != prev) {
			t.Fatalf("seed %d op %d: put %s replaced %+v/%v, model %d/%v", seed, i, k, old, had, prev, ok)
		}
		model[k] = off
	}
	if x.count != len(model) {
		t.Fatalf("count %d, model %d", x.count, len(model))
	}
	for k, off := range model {
		s, ok, _ := x.get([]byte(k), &src)
		if !ok || int64(s.off) != off {
			t.Fatalf("seed %d: get %s = %+v %v, want %d", seed, k, s, ok, off)
		}
	}
	n := 0
	x.each(func(slot) bool { n++; return true })
	if n != len(model) {
		t.Fatalf("each saw %d slots, want %d", n, len(model))
	}
	if _, ok, _ := x.get([]byte("absent"), &src); ok {
		t.Fatal("found an absent key")
	}
}

// TestIndexRemoveKeepsProbeChains fills a minimum-size table past the point
// where probe runs cross its end, removes every other key, and checks that
// the rest are still found: backward-shift deletion must not cut a chain.
func TestIndexRemoveKeepsProbeChains(t *testing.T) {
	var src memKeys
	x := &index{slots: make([]slot, minSlots), mask: minSlots - 1}
	x.setHashKey(walfmt.NewFileHeader())
	var keys []string
	for i := range minSlots * 3 / 4 {
		k := fmt.Sprintf("key-%d", i)
		x.insertNew(x.hash([]byte(k)), src.add(k), 1)
		keys = append(keys, k)
	}
	if len(x.slots) != minSlots {
		t.Fatalf("table grew to %d", len(x.slots))
	}
	for i, k := range keys {
		if i%2 == 0 {
			if _, ok, _ := x.remove([]byte(k), &src); !ok {
				t.Fatalf("remove %s: not found", k)
			}
		}
	}
	for i, k := range keys {
		_, ok, _ := x.get([]byte(k), &src)
		if ok != (i%2 == 1) {
			t.Fatalf("after removals, get %s = %v", k, ok)
		}
	}
}

// TestIndexMemoryPerKey fills a table to just past a doubling, where it is
// emptiest, and checks the table's bytes per key.
func TestIndexMemoryPerKey(t *testing.T) {
	x := newIndex(0, walfmt.NewFileHeader())
	n := (1<<19)*maxLoadNum/maxLoadDen + 1
	for i := range n {
		x.insertNew(uint32(i)*2654435761, int64(i+1), 1)
	}
	if len(x.slots) != 1<<20 {
		t.Fatalf("table has %d slots, want it just doubled to %d", len(x.slots), 1<<20)
	}
	x.finishGrowth() // while it grows, the old table counts too
	if per := float64(x.memory()) / float64(n); per > 48 {
		t.Fatalf("%.1f bytes of table per key", per)
	}
}

// crcCollisions returns n distinct 16-byte keys that share one CRC-32C.
// For messages of one length the CRC is affine over GF(2), so every sum of
// vectors in the kernel of its linear part, added to a base message, has
// the base's CRC: forging such keys takes no search at all. They are what
// a hostile client would send an index hashed with CRC-32C.
func crcCollisions(n int) [][]byte {
	const bits = 16 * 8
	zero := make([]byte, 16)
	c0 := crc32.Checksum(zero, castagnoli)
	type row struct {
		v    uint32    // the linear part of the CRC of the combination
		comb [2]uint64 // which message bits are combined
	}
	rows := make([]row, bits)
	for i := range rows {
		m := make([]byte, 16)
		m[i/8] = 1 << (i % 8)
		rows[i] = row{v: crc32.Checksum(m, castagnoli) ^ c0}
		rows[i].comb[i/64] = 1 << (i % 64)
	}
	// Gaussian elimination: rows whose value ends at zero span the kernel.
	for bit, r := 0, 0; bit < 32 && r < bits; bit++ {
		p := -1
		for i := r; i < bits; i++ {
			if rows[i].v>>bit&1 == 1 {
				p = i
				break
			}
		}
		if p < 0 {
			continue
		}
		rows[r], rows[p] = rows[p], rows[r]
		for i := range rows {
			if i != r && rows[i].v>>bit&1 == 1 {
				rows[i].v ^= rows[r].v
				rows[i].comb[0] ^= rows[r].comb[0]
				rows[i].comb[1] ^= rows[r].comb[1]
			}
		}
		r++
	}
	var kernel [][2]uint64
	for _, r := range rows {
		if r.v == 0 {
			kernel = append(kernel, r.comb)
		}
	}
	base := []byte("forged-key-00000")
	keys := make([][]byte, 0, n)
	for i := range n {
		var comb [2]uint64
		for j := 0; i>>j != 0; j++ {
			if i>>j&1 == 1 {
				comb[0] ^= kernel[j][0]
				comb[1] ^= kernel[j][1]
			}
		}
		k := slices.Clone(base)
		for b := range bits {
			if comb[b/64]>>(b%64)&1 == 1 {
				k[b/8] ^= 1 << (b % 8)
			}
		}
		keys = append(keys, k)
	}
	return keys
}

// TestIndexResistsForgedKeys inserts keys forged to share one CRC-32C:
// with the store's keyed hash they must spread like any keys, so lookups
// stay short however the keys were chosen.
func TestIndexResistsForgedKeys(t *testing.T) {
	keys := crcCollisions(20_000)
	want := crc32.Checksum(keys[0], castagnoli)
	seen := map[string]bool{}
	for _, k := range keys {
		if crc32.Checksum(k, castagnoli) != want || seen[string(k)] {
			t.Fatalf("forging failed: %x", k)
		}
		seen[string(k)] = true
	}
	x := newIndex(0, walfmt.NewFileHeader())
	var src memKeys
	hashes := map[uint32]int{}
	for _, k := range keys {
		x.insertNew(x.hash(k), src.add(string(k)), 1)
		hashes[x.hash(k)]++
	}
	// 20,000 random 32-bit hashes almost never repeat; allow a few.
	if len(hashes) < len(keys)-10 {
		t.Fatalf("%d forged keys share %d hashes", len(keys), len(hashes))
	}
	// The longest probe a lookup can make: the longest run of occupied
	// slots. A random table at this load has runs of a few dozen at most.
	longest, run := 0, 0
	for i := range 2 * len(x.slots) {
		if x.slots[i%len(x.slots)].off != 0 {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	if longest > 200 {
		t.Fatalf("a run of %d occupied slots among %d", longest, len(x.slots))
	}
}

// BenchmarkGetForged compares lookups of keys forged to collide under
// CRC-32C with lookups of ordinary keys, in a store of 20,000 of each.
func BenchmarkGetForged(b *testing.B) {
	forged := crcCollisions(20_000)
	normal := make([][]byte, len(forged))
	for i := range normal {
		normal[i] = fmt.Appendf(nil, "normal-key-%05d", i)
	}
	db, err := Open(b.TempDir(), manualPolicy)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for i := range forged {
		if db.Put(forged[i], []byte("v")) != nil || db.Put(normal[i], []byte("v")) != nil {
			b.Fatal("put failed")
		}
	}
	for _, bc := range []struct {
		name string
		keys [][]byte
	}{{"normal", normal}, {"forged", forged}} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := db.Get(bc.keys[i%len(bc.keys)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCollectTakesOffsetsBelowEnd fills a table with offsets about end,
// with empty and moved slots among them, and checks collect takes those
// above 0 and below end, each once, from any start within a chunk.
func TestCollectTakesOffsetsBelowEnd(t *testing.T) {
	const end = 1000
	x := &index{slots: make([]slot, 4*chunkSlots)}
	var want []int64
	for i := range x.slots {
		switch i % 7 {
		case 0: // empty
		case 1:
			x.slots[i].off = movedOff
		case 2:
			x.slots[i].off = end
		case 3:
			x.slots[i].off = end + uint64(i)
		default:
			x.slots[i].off = uint64(1 + i%(end-1))
		}
	}
	for _, from := range []int{0, 1, chunkSlots - 1, chunkSlots, 3*chunkSlots + 5} {
		want = want[:0]
		for _, s := range x.slots[from:] {
			if s.off > 0 && s.off < end {
				want = append(want, int64(s.off))
			}
		}
		var got []int64
		var err error
		for pos := from; pos >= 0; {
			if got, pos, err = x.collect(got, pos, 100, end); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("from %d: collect took %d offsets, want %d", from, len(got), len(want))
		}
	}
}

// BenchmarkCollect takes the offsets of a table of 2M slots, every other
// one used at random, as a compaction's snapshot of a million keys does.
func BenchmarkCollect(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := &index{slots: make([]slot, 1<<21)}
	for i := range x.slots {
		if rng.IntN(2) == 0 {
			x.slots[i].off = uint64(1 + rng.Int64N(1<<28))
		}
	}
	offs := make([]int64, 0, len(x.slots))
	for b.Loop() {
		offs, _, _ = x.collect(offs[:0], 0, len(x.slots), 1<<40)
	}
}

// collectRef is collect written plainly, with a branch a slot: what the
// branchless one must take.
func collectRef(x *index, offs []int64, from, n int, end int64) ([]int64, int) {
	next, base := from+n, 0
	for _, t := range [][]slot{x.slots, x.old} {
		lo, hi := max(from-base, 0), min(next-base, len(t))
		for i := lo; i < hi; i++ {
			if o := t[i].off; o != 0 && o != movedOff && int64(o) < end {
				offs = append(offs, int64(o))
			}
		}
		base += len(t)
	}
	if next >= base {
		return offs, -1
	}
	return offs, next
}

// TestCollectAgainstPlainLoop compares collect with collectRef over random
// tables (current and old), pieces starting anywhere, ends at the edges,
// and slices of every spare capacity, a sentinel after it: collect must
// take the same offsets and write nothing past the capacity.
func TestCollectAgainstPlainLoop(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	for iter := range 3000 {
		end := []int64{0, 1, 2, 3, 1000, math.MaxInt64, int64(rng.IntN(5000))}[rng.IntN(7)]
		mk := func(n int) []slot {
			t := make([]slot, n)
			for i := range t {
				switch rng.IntN(8) {
				case 0:
				case 1:
					t[i].off = movedOff
				case 2:
					t[i].off = uint64(max(end, 0))
				case 3:
					t[i].off = uint64(max(end-1, 0))
				case 4:
					t[i].off = 1
				case 5:
					t[i].off = uint64(math.MaxInt64)
				default:
					t[i].off = uint64(1 + rng.IntN(6000))
				}
			}
			return t
		}
		x := &index{slots: mk([]int{0, 1, 255, 256, 257, 1024, 700}[rng.IntN(7)])}
		if rng.IntN(2) == 0 {
			x.old = mk([]int{1, 256, 512, 300}[rng.IntN(4)])
		}
		total := len(x.slots) + len(x.old)
		piece := []int{1, 7, 100, 255, 256, 257, 1000, 1 << 16}[rng.IntN(8)]
		from := 0
		if total > 0 {
			from = rng.IntN(total)
		}
		var want []int64
		for pos := from; pos >= 0; {
			want, pos = collectRef(x, want, pos, piece, end)
		}
		// Room: none, some, exactly what is taken, more.
		room := []int{0, 1, len(want), len(want) + 1, rng.IntN(len(want) + 2), total + 10}[rng.IntN(6)]
		prefix := rng.IntN(3)
		backing := make([]int64, prefix+room+4)
		for i := range backing {
			backing[i] = -7
		}
		got := backing[: prefix : prefix+room]
		for i := range got {
			got[i] = int64(100000 + i)
		}
		var err error
		for pos := from; pos >= 0; {
			if got, pos, err = x.collect(got, pos, piece, end); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(got[prefix:], want) || !slices.Equal(got[:prefix], []int64{100000, 100001, 100002}[:prefix]) {
			t.Fatalf("iter %d: end %d from %d piece %d room %d: got %v..., want %v...", iter, end, from, piece, room, got[:min(len(got), 10)], want[:min(len(want), 10)])
		}
		for _, v := range backing[prefix+room:] {
			if v != -7 {
				t.Fatalf("iter %d: collect wrote past the capacity", iter)
			}
		}
	}
}
