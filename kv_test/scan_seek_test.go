package kv_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// seekTargets returns every key of sorted and, for some of them, the
// points just before and after: the key less its last byte, with its last
// byte one less and one more, and with 0x00 and 0xFF appended.
func seekTargets(sorted []string) [][]byte {
	out := [][]byte{nil, {}, {0}, bytes.Repeat([]byte{0xFF}, 12)}
	for i, k := range sorted {
		out = append(out, []byte(k))
		if i%5 != 0 {
			continue
		}
		b := []byte(k)
		up, down := bytes.Clone(b), bytes.Clone(b)
		up[len(up)-1]++
		down[len(down)-1]--
		out = append(out, b[:len(b)-1], up, down, append(bytes.Clone(b), 0), append(bytes.Clone(b), 0xFF))
	}
	return out
}

// checkSeeks seeks an iterator at every target, and checks that Next
// reads the first two keys at or after it, with their values, and that
// Prev from the seek reads the last key before it.
func checkSeeks(t *testing.T, db *kv.DB, ref map[string]string, phase string) {
	t.Helper()
	sorted := slices.Sorted(func(yield func(string) bool) {
		for k := range ref {
			if !yield(k) {
				return
			}
		}
	})
	it := db.NewIterator(nil, nil)
	defer it.Close()
	for _, tg := range seekTargets(sorted) {
		i := sort.SearchStrings(sorted, string(tg))
		it.Seek(tg)
		for j := i; j < min(i+2, len(sorted)); j++ {
			if !it.Next() || string(it.Key()) != sorted[j] || string(it.Value()) != ref[sorted[j]] {
				t.Fatalf("%s: seek %q: key %d after it is not %q", phase, tg, j-i, sorted[j])
			}
		}
		if i+2 > len(sorted) && it.Next() {
			t.Fatalf("%s: seek %q: read %q past the last key", phase, tg, it.Key())
		}
		it.Seek(tg)
		if got := it.Prev(); got != (i > 0) || (got && string(it.Key()) != sorted[i-1]) {
			t.Fatalf("%s: seek %q then Prev: read %v, want the key before it (%d keys before)", phase, tg, got, i)
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestSeekModel seeks at every key of a store, and beside them, against a
// model: keys of several shapes (a long shared prefix, 0xFF prefixes, keys
// that are prefixes of others, keys that agree on their first 8 bytes),
// when the key order is first built, with writes and deletes since it was
// (kept apart from it, then merged into it), after a compaction, and after
// a reopen that loads it from its file.
func TestSeekModel(t *testing.T) {
	for name, opts := range scanOpts {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(baseSeed(t), 8))
			dir := t.TempDir()
			db := openDB(t, dir, opts)
			defer func() { _ = db.Close() }()
			ref := map[string]string{}
			n := 3000
			if !opts.NoSync {
				n = 600 // each write waits for its sync
			}
			keyOf := func() string {
				switch rng.IntN(5) {
				case 0:
					return fmt.Sprintf("tenant/0042/user/%d", rng.IntN(n))
				case 1:
					return strings.Repeat("\xff", 1+rng.IntN(3)) + fmt.Sprint(rng.IntN(n))
				case 2:
					return "abcdefgh" + fmt.Sprint(rng.IntN(n))
				case 3:
					return fmt.Sprintf("%x", rng.Uint64()>>uint(rng.IntN(64)))
				default:
					return fmt.Sprintf("k%05d", rng.IntN(n))
				}
			}
			write := func(ops int) {
				b := db.NewBatch()
				for range ops {
					k := keyOf()
					if rng.IntN(4) == 0 {
						b.Delete([]byte(k))
						delete(ref, k)
					} else {
						v := fmt.Sprint(rng.Uint32())
						b.Put([]byte(k), []byte(v))
						ref[k] = v
					}
				}
				if err := db.Write(b); err != nil {
					t.Fatal(err)
				}
			}
			for _, k := range boundaryKeys {
				mustPut(t, db, k, "b:"+k)
				ref[k] = "b:" + k
			}
			write(n)
			checkSeeks(t, db, ref, "built")
			write(n / 20)
			checkSeeks(t, db, ref, "overlay")
			write(n)
			checkSeeks(t, db, ref, "merged")
			if err := db.Compact(); err != nil {
				t.Fatal(err)
			}
			checkSeeks(t, db, ref, "compacted")
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = openDB(t, dir, opts)
			checkSeeks(t, db, ref, "reopened")
		})
	}
}

// TestSeekDuringWrites seeks to the keys no writer touches while writers
// put and delete keys beside them and compactions replace the log: each
// seek must land on its key with its value, and the keys after it must
// come in order, each with a value it had.
func TestSeekDuringWrites(t *testing.T) {
	db := openDB(t, t.TempDir(), scanOpts["nosync"])
	const stable, writers = 2000, 2
	for i := range stable {
		mustPut(t, db, fmt.Sprintf("s%05d", i), fmt.Sprint("stable", i))
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 2))
			for !stop.Load() {
				// A key right after a stable one, and one right before.
				k := fmt.Sprintf("s%05d/%d", rng.IntN(stable), w)
				if rng.IntN(2) == 0 {
					k = fmt.Sprintf("s%05d", rng.IntN(stable))[:5] + "\xff" + fmt.Sprint(w)
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
		})
	}
	wg.Go(func() {
		for !stop.Load() {
			if err := db.Compact(); err != nil {
				t.Error(err)
				return
			}
		}
	})
	rng := rand.New(rand.NewPCG(baseSeed(t), 3))
	it := db.NewIterator(nil, nil)
	for range rounds(2000, 20000) {
		i := rng.IntN(stable)
		k := fmt.Sprintf("s%05d", i)
		it.Seek([]byte(k))
		if !it.Next() || string(it.Key()) != k || string(it.Value()) != fmt.Sprint("stable", i) {
			t.Fatalf("seek %q: did not land on it", k)
		}
		prev := k
		for range 3 {
			if !it.Next() {
				break
			}
			ks := string(it.Key())
			if ks <= prev {
				t.Fatalf("after seek %q: %q after %q", k, ks, prev)
			}
			if !strings.Contains(ks, "/") && !strings.Contains(ks, "\xff") {
				n, err := strconv.Atoi(ks[1:])
				if want := fmt.Sprint("stable", n); err != nil || string(it.Value()) != want {
					t.Fatalf("after seek %q: %q=%q, want %q", k, ks, it.Value(), want)
				}
			} else if string(it.Value()) != "val:"+ks {
				t.Fatalf("after seek %q: %q=%q, a value it never had", k, ks, it.Value())
			}
			prev = ks
		}
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	stop.Store(true)
	wg.Wait()
}
