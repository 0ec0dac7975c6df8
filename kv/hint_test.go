package kv

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/walfmt"
)

var manualPolicy = &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}}

// hintStore writes n keys to a store in a temporary directory and closes
// it, which leaves a hint. It returns the directory and the data.
func hintStore(t *testing.T, n int) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	db, err := Open(dir, manualPolicy)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := range n {
		k, v := fmt.Sprintf("key-%04d", i), fmt.Sprintf("value-%d", i)
		if err := db.Put([]byte(k), []byte(v)); err != nil {
			t.Fatal(err)
		}
		want[k] = v
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, want
}

// readHintFile returns the hint's header, with its chunk table, and its
// slots.
func readHintFile(t *testing.T, dir string) (hintMeta, []slot) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, hintName))
	if err != nil {
		t.Fatal(err)
	}
	h, err := decodeHint(b)
	if err != nil {
		t.Fatal(err)
	}
	n := (h.slots + chunkSlots - 1) / chunkSlots
	h.chunks = decodeChunkSums(b[hintHeader : hintHeader+n*chunkSumSize])
	slots := make([]slot, h.slots)
	copy(slotBytes(slots), b[slotsAt(h.slots):])
	return h, slots
}

// putHintFile writes a hint with a valid header and a chunk table whose own
// checksum is valid, whatever the slots and the chunk sums hold.
func putHintFile(t *testing.T, dir string, h hintMeta, slots []slot) {
	t.Helper()
	b := append(h.encode(), slotBytes(slots)...)
	if err := os.WriteFile(filepath.Join(dir, hintName), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// hashIn returns key's hash in the index of the log in dir.
func hashIn(t *testing.T, dir string, key []byte) uint32 {
	t.Helper()
	return emptyIndexOf(t, dir).hash(key)
}

// emptyIndexOf returns an empty index of the log in dir: one that hashes
// keys with its hash key.
func emptyIndexOf(t *testing.T, dir string) *index {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, logName))
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := walfmt.ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	return newIndex(0, hdr)
}

// checkStore opens dir and checks that it holds want
// has run, and again after a compaction and a reopen.
func checkStore(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	for round := range 2 {
		db, err := Open(dir, manualPolicy)
		if err != nil {
			t.Fatal(err)
		}
		if st := db.Stats(); st.Keys != len(want) || st.TruncatedBytes != 0 {
			t.Fatalf("round %d: %+v, want %d keys and nothing cut", round, st, len(want))
		}
		for k, v := range want {
			got, err := db.Get([]byte(k))
			if err != nil || string(got) != v {
				t.Fatalf("round %d: get %s = %q, %v; want %q", round, k, got, err, v)
			}
		}
		if err := db.Compact(); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
}

// TestHintCoverEndsMidRecord gives the hint a covered prefix that ends
// inside a record, with a tie that matches: Open must not cut the log there.
func TestHintCoverEndsMidRecord(t *testing.T) {
	dir, want := hintStore(t, 50)
	h, slots := readHintFile(t, dir)
	log, err := os.Open(filepath.Join(dir, logName))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	h.covered -= 7
	h.live -= 7
	h.tie, _ = logTie(osFile{log}, h.covered)
	putHintFile(t, dir, h, slots)
	checkStore(t, dir, want)
}

// TestHintDamagedSlots flips one bit of a stored hash: Open rejects the
// hint, so the key never hides, and no compaction drops it.
func TestHintDamagedSlots(t *testing.T) {
	dir, want := hintStore(t, 50)
	h, slots := readHintFile(t, dir)
	for i := range slots {
		if slots[i].off != 0 {
			slots[i].hash ^= 1
			break
		}
	}
	putHintFile(t, dir, h, slots)
	checkStore(t, dir, want)
}

// TestHintHostileSlots loads hints that are lies — a slot past any log, a
// full table, a wrong count — and checks that nothing panics or hangs and
// that Open rejects them for the true index.
func TestHintHostileSlots(t *testing.T) {
	tests := map[string]func(t *testing.T, dir string, h *hintMeta, slots []slot){
		"offset near the top of int64": func(t *testing.T, dir string, h *hintMeta, slots []slot) {
			k := []byte("victim")
			kh := hashIn(t, dir, k)
			slots[kh&uint32(len(slots)-1)] = slot{off: math.MaxInt64 - 4, hash: kh, size: 40}
		},
		"full table": func(t *testing.T, dir string, h *hintMeta, slots []slot) {
			for i := range slots {
				if slots[i].off == 0 {
					slots[i] = slot{off: 16, hash: 0xdeadbeef, size: 30}
				}
			}
		},
		"count of zero": func(t *testing.T, dir string, h *hintMeta, slots []slot) { h.keys = 0 },
		"huge record size": func(t *testing.T, dir string, h *hintMeta, slots []slot) {
			for i := range slots {
				if slots[i].off != 0 {
					slots[i].size = math.MaxUint32
					break
				}
			}
		},
	}
	for name, damage := range tests {
		t.Run(name, func(t *testing.T) {
			dir, want := hintStore(t, 50)
			h, slots := readHintFile(t, dir)
			damage(t, dir, &h, slots)
			putHintFile(t, dir, h, slots)
			db, err := Open(dir, manualPolicy)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				db.Get([]byte("victim"))
				db.Keys(nil)
				db.Put([]byte("new"), []byte("x"))
				db.Delete([]byte("key-0001"))
				db.Get([]byte("key-0002"))
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("calls on a store with a hostile hint did not return")
			}
			db.Close()
			want["new"] = "x"
			delete(want, "key-0001")
			checkStore(t, dir, want)
		})
	}
}

// TestHintCheckAfterTailReplay opens a store whose log runs past its hint:
// Open applies the records after the hint to the table, and the hint must
// still be used and kept.
func TestHintCheckAfterTailReplay(t *testing.T) {
	src, want := hintStore(t, 500)
	db, err := Open(src, manualPolicy)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 { // overwrites and new keys, after the hint
		k, v := fmt.Sprintf("key-%04d", i*2), fmt.Sprintf("later-%d", i)
		if err := db.Put([]byte(k), []byte(v)); err != nil {
			t.Fatal(err)
		}
		want[k] = v
	}
	// A copy of the directory as a crash would leave it: the new records
	// are in the log, the hint is the one Close wrote before them.
	dir := crashCopy(t, src)
	db.Close()
	db2, err := Open(dir, manualPolicy)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if db2.hintCovered == 0 {
		t.Fatal("the hint was not used")
	}
	if _, err := os.Stat(filepath.Join(dir, hintName)); err != nil {
		t.Fatalf("a sound hint was lost: %v", err)
	}
	for k, v := range want {
		if got, err := db2.Get([]byte(k)); err != nil || string(got) != v {
			t.Fatalf("get %s = %q, %v; want %q", k, got, err, v)
		}
	}
}
