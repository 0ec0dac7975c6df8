package kv_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// walkModel is where an iterator over the sorted keys ks should be: on
// key on, or, with on -1, in the gap before ks[gap] (gap len(ks): after
// the last key).
type walkModel struct {
	ks      []pair
	on, gap int
}

func (w *walkModel) seek(k []byte) {
	w.on = -1
	w.gap = sort.Search(len(w.ks), func(i int) bool { return w.ks[i].k >= string(k) })
}

func (w *walkModel) seekEnd() { w.on, w.gap = -1, len(w.ks) }

// next returns the key Next should read, if any, and moves.
func (w *walkModel) next() (pair, bool) {
	i := w.gap
	if w.on >= 0 {
		i = w.on + 1
	}
	if i >= len(w.ks) {
		w.on, w.gap = -1, len(w.ks)
		return pair{}, false
	}
	w.on = i
	return w.ks[i], true
}

// prev returns the key Prev should read, if any, and moves.
func (w *walkModel) prev() (pair, bool) {
	i := w.gap - 1
	if w.on >= 0 {
		i = w.on - 1
	}
	if i < 0 {
		w.on, w.gap = -1, 0
		return pair{}, false
	}
	w.on = i
	return w.ks[i], true
}

// checkStep compares one Next or Prev of it with the model's.
func checkStep(t *testing.T, it *kv.Iterator, w *walkModel, forward bool, what string) {
	t.Helper()
	got, want, wantOK := false, pair{}, false
	if forward {
		got = it.Next()
		want, wantOK = w.next()
	} else {
		got = it.Prev()
		want, wantOK = w.prev()
	}
	switch {
	case got != wantOK:
		t.Fatalf("%s: moved %v, want %v (%q)", what, got, wantOK, want)
	case got && (string(it.Key()) != want.k || string(it.Value()) != want.v):
		t.Fatalf("%s: %q=%q, want %q", what, it.Key(), it.Value(), want)
	}
}

// checkReverse reads every range of boundaryBounds backwards from its end,
// and from a seek at every bound turns back and forth, against the
// reference.
func checkReverse(t *testing.T, db *kv.DB, ref map[string]string) {
	t.Helper()
	bounds := boundaryBounds()
	for _, lo := range bounds {
		for _, hi := range bounds {
			want := refRange(ref, lo, hi)
			slices.Reverse(want)
			it := db.NewIterator(lo, hi)
			it.SeekEnd()
			var got []pair
			for it.Prev() {
				got = append(got, pair{string(it.Key()), string(it.Value())})
			}
			if err := it.Close(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) && (len(got) != 0 || len(want) != 0) {
				t.Fatalf("backwards [%q, %q): got %q, want %q", lo, hi, got, want)
			}
		}
	}
	it := db.NewIterator(nil, nil)
	defer it.Close()
	w := &walkModel{ks: refRange(ref, nil, nil)}
	for _, b := range bounds {
		// Prev, Prev, Next, Next, Next, Prev from the gap before b: each
		// turn reads the key beyond the current one.
		it.Seek(b)
		w.seek(b)
		for i, fwd := range []bool{false, false, true, true, true, false} {
			checkStep(t, it, w, fwd, fmt.Sprintf("seek %q, step %d", b, i))
		}
	}
	// Off each end and back.
	it.SeekEnd()
	w.seekEnd()
	for i, fwd := range []bool{true, false, true, true} {
		checkStep(t, it, w, fwd, fmt.Sprintf("from the end, step %d", i))
	}
	it.Seek(nil)
	w.seek(nil)
	for i, fwd := range []bool{false, true, false, false, true} {
		checkStep(t, it, w, fwd, fmt.Sprintf("from the start, step %d", i))
	}
}

// TestIteratorPrevBoundaries reads backwards an empty store, one key, then
// keys at the edges of byte order (0x00 and 0xFF bytes, shared prefixes),
// from the overlay, the run, both with deletes in the overlay, and the
// order file.
func TestIteratorPrevBoundaries(t *testing.T) {
	for name, opts := range scanOpts {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			db := openDB(t, dir, opts)
			ref := map[string]string{}
			checkReverse(t, db, ref) // empty
			mustPut(t, db, "a\xff", "one")
			ref["a\xff"] = "one"
			checkReverse(t, db, ref) // one key
			for i, k := range boundaryKeys {
				mustPut(t, db, k, fmt.Sprint("v", i))
				ref[k] = fmt.Sprint("v", i)
			}
			checkReverse(t, db, ref) // all in the overlay
			if err := db.Compact(); err != nil {
				t.Fatal(err)
			}
			checkReverse(t, db, ref) // all in the run
			for i, k := range boundaryKeys {
				switch i % 3 {
				case 0:
					if err := db.Delete([]byte(k)); err != nil {
						t.Fatal(err)
					}
					delete(ref, k)
				case 1:
					mustPut(t, db, k, "new"+k)
					ref[k] = "new" + k
				}
			}
			checkReverse(t, db, ref) // the run, with deletes in the overlay
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = openDB(t, dir, opts)
			checkReverse(t, db, ref) // from the order file
		})
	}
}

// TestIteratorPrevModel runs random writes, deletes, compactions and
// reopens against a map, and after each step random walks that seek and
// step both ways in random ranges, compared with a walk of the sorted
// reference.
func TestIteratorPrevModel(t *testing.T) {
	for name, opts := range scanOpts {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(baseSeed(t), 11))
			dir := t.TempDir()
			db := openDB(t, dir, opts)
			ref := map[string]string{}
			keyOf := func() string { return fmt.Sprintf("k%05d", rng.IntN(20000)) }
			for step := range rounds(4, 12) {
				ops := 1500
				if !opts.NoSync {
					ops = 150
				}
				for range rng.IntN(ops) {
					k := keyOf()
					if rng.IntN(4) == 0 {
						if err := db.Delete([]byte(k)); err != nil {
							t.Fatal(err)
						}
						delete(ref, k)
						continue
					}
					v := fmt.Sprint(step, rng.Uint32())
					mustPut(t, db, k, v)
					ref[k] = v
				}
				switch rng.IntN(6) {
				case 0:
					if err := db.Compact(); err != nil {
						t.Fatal(err)
					}
				case 1:
					if err := db.Close(); err != nil {
						t.Fatal(err)
					}
					db = openDB(t, dir, opts)
				}
				for walk := range 4 {
					lo, hi := []byte(keyOf()), []byte(keyOf())
					if strings.Compare(string(lo), string(hi)) > 0 {
						lo, hi = hi, lo
					}
					if rng.IntN(3) == 0 {
						lo = nil
					}
					if rng.IntN(3) == 0 {
						hi = nil
					}
					it := db.NewIterator(lo, hi)
					w := &walkModel{ks: refRange(ref, lo, hi)}
					if rng.IntN(2) == 0 {
						it.SeekEnd()
						w.seekEnd()
					} else {
						k := keyOf()
						it.Seek([]byte(k))
						w.seek([]byte(max(k, string(lo)))) // Seek never goes before the range
					}
					fwd := rng.IntN(2) == 0
					for i := range 300 {
						if rng.IntN(40) == 0 {
							fwd = !fwd
						}
						checkStep(t, it, w, fwd, fmt.Sprintf("step %d, walk %d [%q, %q), move %d", step, walk, lo, hi, i))
					}
					if err := it.Close(); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}

// TestIteratorPrevDuringWrites reads backwards while writers put and
// delete keys and compactions run: keys no writer touches must each be
// seen with their value, every key in descending order with a value it
// had.
func TestIteratorPrevDuringWrites(t *testing.T) {
	for name, opts := range scanOpts {
		t.Run(name, func(t *testing.T) {
			db := openDB(t, t.TempDir(), opts)
			const stable = 3000
			ref := map[string]string{}
			for i := range stable {
				k, v := fmt.Sprintf("s%05d", i), fmt.Sprint("stable", i)
				mustPut(t, db, k, v)
				ref[k] = v
			}
			var stop atomic.Bool
			var wg sync.WaitGroup
			for w := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(w), 2))
					for !stop.Load() {
						// Keys between and around the stable ones.
						k := fmt.Sprintf("%c%05d", "rsv"[rng.IntN(3)], rng.IntN(stable))
						if k[0] == 's' {
							k += "x"
						}
						var err error
						if rng.IntN(3) == 0 {
							err = db.Delete([]byte(k))
						} else {
							err = db.Put([]byte(k), []byte("val:"+k))
						}
						if err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					if err := db.Compact(); err != nil {
						t.Error(err)
						return
					}
				}
			}()
			for range rounds(10, 30) {
				it := db.NewIterator(nil, nil)
				it.SeekEnd()
				var prev string
				seen := 0
				for it.Prev() {
					k, v := string(it.Key()), string(it.Value())
					if prev != "" && k >= prev {
						t.Fatalf("backwards: %q after %q", k, prev)
					}
					prev = k
					switch want, ok := ref[k]; {
					case ok:
						seen++
						if v != want {
							t.Fatalf("backwards: %q=%q, want %q", k, v, want)
						}
					case v != "val:"+k:
						t.Fatalf("backwards: %q=%q, a value it never had", k, v)
					}
				}
				if err := it.Close(); err != nil {
					t.Fatal(err)
				}
				if seen != stable {
					t.Fatalf("backwards: saw %d of %d untouched keys", seen, stable)
				}
			}
			stop.Store(true)
			wg.Wait()
		})
	}
}
