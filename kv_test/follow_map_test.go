package kv_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
)

// genValue is the value of key k written in generation g: long enough
// that records span pages, and telling which key and generation it is.
func genValue(k string, g int) []byte {
	return fmt.Appendf(nil, "%s@%d|%s", k, g, strings.Repeat("v", 150+len(k)%40))
}

// parseGen returns the generation of v, a value of key k, or an error if v
// is not one of k's values.
func parseGen(k string, v []byte) (int, error) {
	s := string(v)
	at, bar := strings.IndexByte(s, '@'), strings.IndexByte(s, '|')
	if at < 0 || bar < at || s[:at] != k {
		return 0, fmt.Errorf("value %.40q is not one of %s's", s, k)
	}
	g, err := strconv.Atoi(s[at+1 : bar])
	if err != nil || string(genValue(k, g)) != s {
		return 0, fmt.Errorf("value %.40q of %s is garbled", s, k)
	}
	return g, nil
}

// cutReads counts what reads through a follower met while its log was cut.
type cutReads struct {
	ok, notFound, failed atomic.Int64
}

// readCut reads key k through f every way a reader can — Get, View, an
// iterator from k — and fails the test on a value that is not one of k's.
// A read may fail (the bytes were cut under it) or miss (the follower has
// read the cut log afresh).
func (c *cutReads) readCut(t *testing.T, f *kv.DB, k string) {
	count := func(v []byte, err error) {
		switch {
		case err == nil:
			if _, perr := parseGen(k, v); perr != nil {
				t.Error(perr)
			}
			c.ok.Add(1)
		case errors.Is(err, kv.ErrNotFound):
			c.notFound.Add(1)
		default:
			c.failed.Add(1)
		}
	}
	count(f.Get([]byte(k)))
	var viewed []byte
	err := f.View([]byte(k), func(v []byte) error {
		viewed = append(viewed[:0], v...)
		return nil
	})
	count(viewed, err)
	it := f.NewIterator([]byte(k), nil)
	for n := 0; n < 3 && it.Next(); n++ {
		if _, perr := parseGen(string(it.Key()), it.Value()); perr != nil {
			t.Error(perr)
		}
		c.ok.Add(1)
	}
	if err := it.Close(); err != nil {
		c.failed.Add(1)
	}
}

// TestFollowerLogCutUnderMap cuts a followed log below what the follower
// has mapped — what a repair, or a writer cutting a torn tail the follower
// had read, does — while readers read it through the follower, then has a
// writer open the store (cutting the torn record) and rewrite it. No read
// may crash the process or return a value that is not the key's; the keys
// whose records were cut away read as errors or as missing, never as
// their old values; and the follower ends in the store's state.
func TestFollowerLogCutUnderMap(t *testing.T) {
	dir := t.TempDir()
	const n = 3000
	keys := make([]string, n)
	wopts := &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}}
	w := openDB(t, dir, wopts)
	for i := range keys {
		keys[i] = key(i)
		if err := w.Put([]byte(keys[i]), genValue(keys[i], 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f := openDB(t, dir, &kv.Options{ReadOnly: true})
	path := filepath.Join(dir, "wal.log")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	cut := fi.Size() / 3
	var gone []string // keys whose records lie past the cut
	for _, k := range keys {
		e, err := f.Entry([]byte(k))
		if err != nil {
			t.Fatal(err)
		}
		if e.Offset+int64(e.RecordSize) > cut {
			gone = append(gone, k)
		}
	}

	var c cutReads
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for r := range 3 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			for range 1_000_000 {
				select {
				case <-stop:
					return
				default:
				}
				c.readCut(t, f, keys[rng.IntN(n)])
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	if err := os.Truncate(path, cut); err != nil {
		t.Fatal(err)
	}
	// Right after the cut, before the follower may have looked: the cut
	// keys' old values are gone from the file, and must not be served.
	var failed, missing int
	for _, k := range gone {
		v, err := f.Get([]byte(k))
		switch {
		case err == nil:
			t.Fatalf("Get(%s) after its record was cut = %.30q, want an error", k, v)
		case errors.Is(err, kv.ErrNotFound):
			missing++ // the follower has read the cut log afresh
		default:
			failed++ // read before it did
		}
	}
	t.Logf("the %d cut keys, read at once: %d errors, %d missing", len(gone), failed, missing)
	time.Sleep(100 * time.Millisecond)

	// A writer opens the store, cutting the torn record the cut left, and
	// writes a second generation of every key.
	w = openDB(t, dir, wopts)
	for _, k := range keys {
		if err := w.Put([]byte(k), genValue(k, 2)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Refresh()
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("reads during the cut: %d values, %d missing, %d errors", c.ok.Load(), c.notFound.Load(), c.failed.Load())
	wantSameState(t, f, dir)
	for _, k := range keys {
		wantValue(t, f, k, string(genValue(k, 2)))
	}
}

// TestFollowerReadsBesideLiveWriter reads a follower's map hard while a
// writer in the same process appends, compacts (the follower switches
// logs, and with them maps) and closes and reopens the store: every Get,
// View and scan returns one of the key's values, never garbage, and each
// reader sees each key's generations only go forward.
func TestFollowerReadsBesideLiveWriter(t *testing.T) {
	dir := t.TempDir()
	const n = 500
	gens := rounds(12, 40)
	opts := &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}}
	w := openDB(t, dir, opts)
	f := openDB(t, dir, &kv.Options{ReadOnly: true})
	done := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	for r := range 2 {
		wg.Go(func() {
			seen := make([]int, n)
			rng := rand.New(rand.NewPCG(uint64(r), 11))
			check := func(i int, v []byte, err error) {
				if errors.Is(err, kv.ErrNotFound) {
					if seen[i] > 0 {
						t.Errorf("%s: missing after generation %d was seen", key(i), seen[i])
					}
					return
				}
				if err != nil {
					t.Errorf("%s: %v", key(i), err)
					return
				}
				g, err := parseGen(key(i), v)
				if err != nil {
					t.Error(err)
					return
				}
				if g < seen[i] {
					t.Errorf("%s: generation %d after %d", key(i), g, seen[i])
				}
				seen[i] = g
				reads.Add(1)
			}
			for {
				select {
				case <-done:
					return
				default:
				}
				i := rng.IntN(n)
				v, err := f.Get([]byte(key(i)))
				check(i, v, err)
				var got []byte
				err = f.View([]byte(key(i)), func(v []byte) error {
					got = append(got[:0], v...)
					return nil
				})
				check(i, got, err)
				if rng.IntN(50) == 0 {
					err := f.Scan(nil, nil, func(k, v []byte) bool {
						if _, perr := parseGen(string(k), v); perr != nil {
							t.Error(perr)
							return false
						}
						return true
					})
					if err != nil {
						t.Errorf("Scan: %v", err)
					}
				}
			}
		})
	}
	for g := 1; g <= gens; g++ {
		for i := range n {
			if err := w.Put([]byte(key(i)), genValue(key(i), g)); err != nil {
				t.Fatal(err)
			}
		}
		switch g % 5 {
		case 2:
			if err := w.Compact(); err != nil {
				t.Fatal(err)
			}
		case 4:
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			w = openDB(t, dir, opts)
		}
	}
	f.Refresh()
	close(done)
	wg.Wait()
	if reads.Load() == 0 {
		t.Fatal("the readers read nothing")
	}
	for i := range n {
		wantValue(t, f, key(i), string(genValue(key(i), gens)))
	}
}
