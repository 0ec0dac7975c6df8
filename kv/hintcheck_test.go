package kv

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/crabkv/crabkv/walfmt"
)

// damageChunk flips a bit of the hash of one occupied slot of the hint in
// dir, in a chunk far from the table's start, leaving the chunk table as
// it was, and returns the chunk. The key of the slot is victim's.
func damageChunk(t *testing.T, dir string) (chunk int, victim string) {
	t.Helper()
	h, slots := readHintFile(t, dir)
	log, err := os.ReadFile(filepath.Join(dir, logName))
	if err != nil {
		t.Fatal(err)
	}
	for i := len(slots) / 2; i < len(slots); i++ {
		if s := slots[i]; s.off != 0 {
			n := binary.LittleEndian.Uint32(log[s.off+8:])
			victim = string(log[s.off+walfmt.RecordHeaderSize : s.off+walfmt.RecordHeaderSize+uint64(n)])
			slots[i].hash ^= 1 << 20
			putHintFile(t, dir, h, slots)
			return i / chunkSlots, victim
		}
	}
	t.Fatal("no occupied slot in the second half")
	return 0, ""
}

// TestHintChunkDamageFoundLazily damages one chunk of a hint's slots and
// checks that Open uses the hint without reading its slots, that lookups
// away from the chunk answer from the hint, and that whatever first
// touches the chunk — a read, a write, a listing of the keys, a growth of
// the table — gets the log's answer, from an index replayed from the log,
// never the damaged slot's.
func TestHintChunkDamageFoundLazily(t *testing.T) {
	touch := map[string]func(t *testing.T, db *DB, victim string, want map[string]string){
		"get": func(t *testing.T, db *DB, victim string, want map[string]string) {
			if v, err := db.Get([]byte(victim)); err != nil || string(v) != want[victim] {
				t.Fatalf("get %s = %q, %v; want %q", victim, v, err, want[victim])
			}
		},
		"put": func(t *testing.T, db *DB, victim string, want map[string]string) {
			if err := db.Put([]byte(victim), []byte("new")); err != nil {
				t.Fatal(err)
			}
			want[victim] = "new"
		},
		"delete": func(t *testing.T, db *DB, victim string, want map[string]string) {
			if err := db.Delete([]byte(victim)); err != nil {
				t.Fatal(err)
			}
			delete(want, victim)
		},
		"keys": func(t *testing.T, db *DB, victim string, want map[string]string) {
			keys, err := db.CheckedKeys(nil)
			if err != nil || !slices.Contains(keys, victim) || len(keys) != len(want) {
				t.Fatalf("CheckedKeys: %d keys, %v; want %d with %s", len(keys), err, len(want), victim)
			}
		},
		"growth": func(t *testing.T, db *DB, victim string, want map[string]string) {
			for i := range 4000 {
				k := fmt.Sprintf("grow-%d", i)
				if err := db.Put([]byte(k), []byte(k)); err != nil {
					t.Fatal(err)
				}
				want[k] = k
			}
		},
	}
	for name, fn := range touch {
		t.Run(name, func(t *testing.T) {
			dir, want := hintStore(t, 3000)
			chunk, victim := damageChunk(t, dir)
			db, err := Open(dir, manualPolicy)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			x := db.mu.index
			if db.hintCovered == 0 || x.chk == nil {
				t.Fatal("the hint was not used")
			}
			if n := checkedChunks(x.chk); n != 0 {
				t.Fatalf("Open checked %d chunks", n)
			}
			// A key whose probe stays out of the damaged chunk.
			for k, v := range want {
				if i := x.hash([]byte(k)) & x.mask; int(i)/chunkSlots < chunk-1 && k != victim {
					if got, err := db.Get([]byte(k)); err != nil || string(got) != v {
						t.Fatalf("get %s = %q, %v; want %q", k, got, err, v)
					}
					break
				}
			}
			if db.mu.index != x || x.bad.Load() {
				t.Fatal("a lookup away from the damaged chunk replaced the index")
			}
			fn(t, db, victim, want)
			if db.mu.index == x {
				t.Fatal("the damaged chunk was not found")
			}
			checkDB(t, db, want, "after the damage was found")
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			checkStore(t, dir, want)
		})
	}
}

// checkedChunks returns how many of c's chunks have been checked.
func checkedChunks(c *hintCheck) int {
	n := 0
	for i := range c.sums {
		if c.done[i/64].Load()&(1<<(i%64)) != 0 {
			n++
		}
	}
	return n
}

// TestHintChunkTableLies checks what Open reads of a hint before it uses
// it: a chunk table whose counts do not add up to the header's count of
// keys, or one whose checksum fails, and a hint of version 2, are not used,
// and the store answers from its log.
func TestHintChunkTableLies(t *testing.T) {
	tests := map[string]func(b []byte){
		"counts": func(b []byte) {
			h, _ := decodeHint(b)
			h.keys++
			h.chunks = decodeChunkSums(b[hintHeader : hintHeader+(h.slots/chunkSlots)*chunkSumSize])
			copy(b, h.encode())
		},
		"table checksum": func(b []byte) { b[hintHeader+3] ^= 1 },
		"version 2": func(b []byte) {
			binary.LittleEndian.PutUint16(b[8:], 2)
			binary.LittleEndian.PutUint32(b[84:], walfmt.Checksum(b[:84]))
		},
	}
	for name, damage := range tests {
		t.Run(name, func(t *testing.T) {
			dir, want := hintStore(t, 3000)
			path := filepath.Join(dir, hintName)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			damage(b)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			db, err := Open(dir, manualPolicy)
			if err != nil {
				t.Fatal(err)
			}
			if db.hintCovered != 0 {
				t.Fatal("a hint that does not add up was used")
			}
			checkDB(t, db, want, "after a reopen")
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
