package kv

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/crabkv/crabkv/compact"
)

// sameHashPairs returns n pairs of distinct keys whose hashes share their
// 32 bits under the hash key of the log in dir.
func sameHashPairs(t *testing.T, dir string, n int) [][2]string {
	t.Helper()
	x := emptyIndexOf(t, dir)
	seen := map[uint32]string{}
	var pairs [][2]string
	for i := 0; len(pairs) < n; i++ {
		k := fmt.Sprintf("pair-%08d", i)
		h := x.hash([]byte(k))
		if other, ok := seen[h]; ok {
			pairs = append(pairs, [2]string{other, k})
			delete(seen, h)
			continue
		}
		seen[h] = k
	}
	return pairs
}

// TestTailReplayOntoHint opens stores whose hint is followed by a long
// tail of log — overwrites and deletes of the hint's keys, new keys, and
// keys whose 32-bit hashes equal those of the hint's keys — so that the
// tail is collected and applied sorted onto the hint's table, in place
// and after moving it to a larger table. The store must hold what the
// writes left, with the counters a full replay of the log gives.
func TestTailReplayOntoHint(t *testing.T) {
	for _, tc := range []struct {
		name      string
		keys, new int
	}{{"in place", 3_000, 200}, {"larger table", 3_000, 4_000}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}, CheckpointBytes: -1}
			db, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{}
			put := func(k, v string) {
				t.Helper()
				if err := db.Put([]byte(k), []byte(v)); err != nil {
					t.Fatal(err)
				}
				want[k] = v
			}
			for i := range tc.keys {
				put(fmt.Sprintf("key-%05d", i), fmt.Sprintf("v%d", i))
			}
			pairs := sameHashPairs(t, dir, 40)
			for _, p := range pairs {
				put(p[0], "first of a pair")
			}
			if err := db.Close(); err != nil { // writes the hint
				t.Fatal(err)
			}
			if db, err = Open(dir, opts); err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			rng := rand.New(rand.NewPCG(3, uint64(tc.new)))
			for i := range tc.keys {
				k := fmt.Sprintf("key-%05d", i)
				switch rng.IntN(4) {
				case 0:
					put(k, fmt.Sprintf("over-%d", i))
				case 1:
					if err := db.Delete([]byte(k)); err != nil {
						t.Fatal(err)
					}
					delete(want, k)
				}
			}
			for i, p := range pairs {
				put(p[1], "second of a pair") // a new key, the hash of a hint's key
				if i%2 == 0 {
					put(p[0], "first, written again")
				}
			}
			for i := range tc.new {
				put(fmt.Sprintf("new-%05d", i), "new")
			}
			crashed := crashCopy(t, dir)
			replayed := db.Stats().LogBytes
			h, _ := readHintFile(t, crashed)
			replayed -= h.covered
			full := crashCopy(t, dir)
			if err := os.Remove(filepath.Join(full, hintName)); err != nil {
				t.Fatal(err)
			}
			// A damaged chunk in the hint: the tail's pass finds it, and
			// the whole log is replayed instead.
			damaged := crashCopy(t, dir)
			damageChunk(t, damaged)
			var stats [3]Stats
			for i, d := range []string{crashed, full, damaged} {
				c, err := Open(d, &Options{Compaction: compact.Policy{Disabled: true}})
				if err != nil {
					t.Fatal(err)
				}
				stats[i] = c.Stats()
				for k, v := range want {
					if got, err := c.Get([]byte(k)); err != nil || string(got) != v {
						t.Fatalf("%s: Get(%s) = %q, %v; want %q", d, k, got, err, v)
					}
				}
				c.Close()
			}
			if stats[0].ReplayedBytes != replayed || stats[0].ReplayedBytes < h.covered/64 {
				t.Errorf("replayed %d bytes after a hint covering %d; want %d", stats[0].ReplayedBytes, h.covered, replayed)
			}
			if full := stats[2].LogBytes - stats[2].HeaderBytes; stats[2].ReplayedBytes != full {
				t.Errorf("beside a damaged hint, replayed %d bytes; want the whole log, %d", stats[2].ReplayedBytes, full)
			}
			a, b := stats[0], stats[1]
			if a.Keys != len(want) || a.Keys != b.Keys || a.LiveBytes != b.LiveBytes || a.StaleBytes != b.StaleBytes || a.LogBytes != b.LogBytes {
				t.Errorf("after the hint and its tail: %d keys, live %d, stale %d, log %d; a full replay: %d, %d, %d, %d; want %d keys",
					a.Keys, a.LiveBytes, a.StaleBytes, a.LogBytes, b.Keys, b.LiveBytes, b.StaleBytes, b.LogBytes, len(want))
			}
		})
	}
}
