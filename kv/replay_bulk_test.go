package kv

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
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
	for _, name := range []string{"plain", "expiring", "deletes"} {
		t.Run(name, func(t *testing.T) {
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
// the order given (offsets increasing), which the replay relies on.
func TestSortByHomeIsStable(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	for _, bits := range []uint{1, 10, 12, 13, 20, 24, 25, 32} {
		mask := uint32(1<<bits - 1)
		es := make([]slot, 3000)
		for i := range es {
			es[i] = slot{off: uint64(i + 1), hash: rng.Uint32() & 0xff00ff0f}
		}
		got := sortByHome(es, make([]slot, len(es)), mask)
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
