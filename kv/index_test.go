package kv

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// memKeys is a keySource over keys held in memory, at offsets 1, 2, 3...
type memKeys [][]byte

func (m *memKeys) keyAt(off int64) ([]byte, error) { return (*m)[off-1], nil }

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
	x := newIndex(0)
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
	var keys []string
	for i := range minSlots * 3 / 4 {
		k := fmt.Sprintf("key-%d", i)
		x.insertNew(hashKey([]byte(k)), src.add(k), 1)
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
	x := newIndex(0)
	n := (1<<19)*maxLoadNum/maxLoadDen + 1
	for i := range n {
		x.insertNew(uint32(i)*2654435761, int64(i+1), 1)
	}
	if len(x.slots) != 1<<20 {
		t.Fatalf("table has %d slots, want it just doubled to %d", len(x.slots), 1<<20)
	}
	if per := float64(x.memory()) / float64(n); per > 48 {
		t.Fatalf("%.1f bytes of table per key", per)
	}
}

func TestSortStrings(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 10, parallelSortMin - 1, parallelSortMin, parallelSortMin*2 + 3} {
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("%x", rng.Uint64()>>uint(rng.IntN(60)))
		}
		want := slices.Clone(keys)
		slices.Sort(want)
		sortStrings(keys)
		if !slices.Equal(keys, want) {
			t.Fatalf("%d keys: not sorted", n)
		}
	}
}
