package kv

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/crabkv/crabkv/walfmt"
)

// TestMergeSparse merges overlays of overwrites, new keys and deletes
// into runs of several key shapes, with the search of the run that a
// small overlay uses (mergeSparse) and with the read of every key
// (mergeRun, then buildFence): the runs and their fences must be the
// same. Overlays with keys before the run's first key and after its last
// change the prefix the run's keys share, which the old fence's numbers
// depend on.
func TestMergeSparse(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	shapes := map[string]func() []byte{
		"hex":    func() []byte { return fmt.Appendf(nil, "%016x", rng.Uint64()) },
		"shared": func() []byte { return fmt.Appendf(nil, "tenant/0042/user/%d", rng.IntN(1e6)) },
		"short":  func() []byte { return fmt.Appendf(nil, "u%d", rng.IntN(1e5)) },
		"ties-past-8": func() []byte {
			return fmt.Appendf(nil, "k:12345678%c%d", 'a'+rng.IntN(3), rng.IntN(1e4))
		},
		"prefixes": func() []byte { // "p1", "p12", "p123", ...
			return fmt.Appendf(nil, "p%d", rng.IntN(1e6))[:2+rng.IntN(6)]
		},
		"ff": func() []byte {
			return append(bytes.Repeat([]byte{0xFF}, rng.IntN(4)), fmt.Appendf(nil, "%d", rng.IntN(1e5))...)
		},
	}
	mixes := []struct {
		name                string
		overwrite, put, del int // weights
		outside             bool
		perThousand         int // overlay entries per thousand run entries
	}{
		{"overwrites", 1, 0, 0, false, 5},
		{"new keys", 0, 1, 0, false, 5},
		{"deletes", 0, 0, 1, false, 5},
		{"all three", 2, 1, 1, false, 20},
		{"outside the range", 1, 1, 1, true, 5},
		{"ends deleted", 1, 1, 0, false, 5},
		{"dense", 1, 1, 1, false, 300},
	}
	for name, shape := range shapes {
		for _, mix := range mixes {
			for _, n := range []int{fenceMin, 100, 5000} {
				t.Run(fmt.Sprintf("%s/%s/%d", name, mix.name, n), func(t *testing.T) {
					seen := map[string]bool{}
					log := walfmt.AppendHeader(nil)
					var run []uint64
					var keys []string
					for len(run) < n {
						k := shape()
						if seen[string(k)] {
							continue
						}
						seen[string(k)] = true
						keys = append(keys, string(k))
						run = append(run, uint64(len(log)))
						log = walfmt.AppendPut(log, k, []byte("v"))
					}
					var ovl []ovlEntry
					inOvl := map[string]bool{}
					add := func(k string, del bool) {
						if inOvl[k] {
							return
						}
						inOvl[k] = true
						e := ovlEntry{key: k, off: uint64(len(log)), del: del}
						if del {
							log = walfmt.AppendDelete(log, []byte(k))
						} else {
							log = walfmt.AppendPut(log, []byte(k), []byte("w"))
						}
						ovl = append(ovl, e)
					}
					w := mix.overwrite + mix.put + mix.del
					for range max(1, n*mix.perThousand/1000) {
						switch r := rng.IntN(w); {
						case r < mix.overwrite:
							add(keys[rng.IntN(len(keys))], false)
						case r < mix.overwrite+mix.put:
							k := shape()
							if !seen[string(k)] {
								add(string(k), false)
							}
						default:
							add(keys[rng.IntN(len(keys))], true)
						}
					}
					if mix.name == "ends deleted" {
						sorted := slices.Sorted(slices.Values(keys))
						add(sorted[0], true)
						add(sorted[len(sorted)-1], true)
					}
					if mix.outside {
						add("!", false)
						add("\x00", false)
						add(string(bytes.Repeat([]byte{0xFF}, 9)), false)
					}
					slices.SortFunc(ovl, func(a, b ovlEntry) int { return bytes.Compare([]byte(a.key), []byte(b.key)) })
					f, path := logFileOf(t, log)
					for _, mapped := range []bool{false, true} {
						src := &logView{f: f, end: int64(len(log)), path: path}
						if mapped {
							src.m = mapLog(f, src.end, false)
						}
						r := slices.Clone(run)
						sortByKey(src, r)
						fc := buildFence(r, src)
						want := mergeRun(r, ovl, src)
						wantFence := buildFence(want, src)
						m, gotFence := mergeSparse(r, fc, ovl, src)
						if got := m.offsets(); !slices.Equal(got, want) || m.n != len(want) {
							t.Fatalf("mapped=%v: the run differs: %d entries (%d counted), want %d", mapped, len(got), m.n, len(want))
						}
						if !sameFence(gotFence, wantFence) {
							t.Fatalf("mapped=%v: the fence differs: %s, want %s", mapped, fenceString(gotFence), fenceString(wantFence))
						}
						_ = src.m.unmap()
					}
				})
			}
		}
	}
}

// sameFence reports whether a and b are the same fence.
func sameFence(a, b *fence) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.common == b.common && slices.Equal(a.pfx, b.pfx)
}

// fenceString describes f for a test's message.
func fenceString(f *fence) string {
	if f == nil {
		return "no fence"
	}
	return fmt.Sprintf("common %q, %d numbers", f.common, len(f.pfx))
}

// TestCloseMergesAFewWrites writes a few overwrites, new keys and deletes
// into a store whose order is loaded, and closes it: the wal.order Close
// writes from the run and the overlay, merged by search, must hold the
// store's keys in order, with the fence the log gives that run.
func TestCloseMergesAFewWrites(t *testing.T) {
	dir := t.TempDir()
	const n = 5000
	scannedStore(t, dir, "user:%05d", n)
	model := map[string]bool{}
	for i := range n {
		model[fmt.Sprintf("user:%05d", i)] = true
	}
	db, err := Open(dir, &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Scan(nil, nil, func(k, v []byte) bool { return true }); err != nil {
		t.Fatal(err) // loads the order from wal.order
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		k := fmt.Sprintf("user:%05d", rng.IntN(n))
		if err := db.Put([]byte(k), []byte("w")); err != nil {
			t.Fatal(err)
		}
		k = fmt.Sprintf("user:%05d+", rng.IntN(n)) // between two keys
		if err := db.Put([]byte(k), []byte("w")); err != nil {
			t.Fatal(err)
		}
		model[k] = true
		k = fmt.Sprintf("user:%05d", rng.IntN(n))
		if err := db.Delete([]byte(k)); err != nil {
			t.Fatal(err)
		}
		delete(model, k)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, want := loadedOrder(t, dir)
	if s == nil {
		t.Fatal("no order loaded from the wal.order Close wrote")
	}
	keys := slices.Sorted(maps.Keys(model))
	db, err = Open(dir, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	src, _, _, err := db.orderSource()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.run) != len(keys) {
		t.Fatalf("wal.order holds %d keys, the store %d", len(s.run), len(keys))
	}
	for i, off := range s.run {
		if k := src.keyOrNil(off); string(k) != keys[i] {
			t.Fatalf("entry %d of wal.order is %q, want %q", i, k, keys[i])
		}
	}
	if !sameFence(s.fence, want) || want == nil {
		t.Fatalf("fence in wal.order: %s, want %s", fenceString(s.fence), fenceString(want))
	}
}

// TestMergeSparseDamagedRun merges an overwrite into a run one of whose
// records cannot be read: a search that meets it could land on the wrong
// side of it and keep the overwritten key's old entry beside the new one,
// where mergeRun only passes it. The merge must be mergeRun's.
func TestMergeSparseDamagedRun(t *testing.T) {
	log := walfmt.AppendHeader(nil)
	var run []uint64
	for i := range 48 {
		run = append(run, uint64(len(log)))
		log = walfmt.AppendPut(log, fmt.Appendf(nil, "k%02d", i), []byte("v"))
	}
	for _, damaged := range []int{1, 2, 17, 47} {
		l := slices.Clone(log)
		var ovl []ovlEntry
		for _, k := range []string{"k00", "k30"} { // overwrites
			ovl = append(ovl, ovlEntry{key: k, off: uint64(len(l))})
			l = walfmt.AppendPut(l, []byte(k), []byte("w"))
		}
		f, path := logFileOf(t, l)
		src := &logView{f: f, end: int64(len(l)), path: path}
		fc := buildFence(run, src)
		if fc == nil {
			t.Fatal("setup: no fence")
		}
		r := slices.Clone(run)
		r[damaged] = uint64(len(l)) + 1000 // its record now reads as damaged
		want := mergeRun(r, ovl, src)
		m, gotFence := mergeSparse(r, fc, ovl, src)
		if got := m.offsets(); !slices.Equal(got, want) {
			t.Fatalf("entry %d damaged: merged %d entries, want %d", damaged, len(got), len(want))
		}
		if wantFence := buildFence(want, src); !sameFence(gotFence, wantFence) {
			t.Fatalf("entry %d damaged: fence %s, want %s", damaged, fenceString(gotFence), fenceString(wantFence))
		}
	}
}
