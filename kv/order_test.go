package kv

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/crabkv/crabkv/walfmt"
)

// TestSortByKey sorts records by key, on one goroutine and on two, with
// keys that share their first 8 bytes, keys that are prefixes of others,
// and keys with 0x00 and 0xFF bytes, through a map and through ReadAt.
func TestSortByKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 10, parallelSortMin - 1, parallelSortMin + 3} {
		keys := make([][]byte, n)
		for i := range keys {
			switch i % 4 {
			case 0:
				keys[i] = fmt.Appendf(nil, "%x", rng.Uint64()>>uint(rng.IntN(60)))
			case 1:
				keys[i] = fmt.Appendf(nil, "user:000%d", rng.IntN(1e6))
			case 2:
				keys[i] = bytes.Repeat([]byte{0xFF}, 1+rng.IntN(10))
			default:
				keys[i] = append([]byte("a"), bytes.Repeat([]byte{0}, rng.IntN(10))...)
			}
		}
		log := walfmt.AppendHeader(nil)
		offs := make([]uint64, n)
		for i, k := range keys {
			offs[i] = uint64(len(log))
			log = walfmt.AppendPut(log, k, []byte("v"))
		}
		path := filepath.Join(t.TempDir(), "wal.log")
		if err := os.WriteFile(path, log, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, mapped := range []bool{false, true} {
			src := &logView{f: f, end: int64(len(log)), path: path}
			if mapped {
				src.m = mapLog(f, src.end, false)
			}
			got := slices.Clone(offs)
			sortByKey(src, got)
			for i := 1; i < len(got); i++ {
				if bytes.Compare(src.keyOrNil(got[i-1]), src.keyOrNil(got[i])) > 0 {
					t.Fatalf("%d keys, mapped %v: %q sorted before %q", n, mapped, src.keyOrNil(got[i-1]), src.keyOrNil(got[i]))
				}
			}
			if slices.Sort(got); !slices.Equal(got, offs) {
				t.Fatalf("%d keys: the sort lost or duplicated records", n)
			}
			_ = src.m.unmap()
		}
		_ = f.Close()
	}
}

// TestOrderFileLoaded checks that a store reopened after Close takes its
// key order from wal.order, covering every key, and that a damaged file is
// refused.
func TestOrderFileLoaded(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		if err := db.Put(fmt.Appendf(nil, "k%05d", (i*7919)%5000), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Scan(nil, nil, func(k, v []byte) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	load := func() *orderSnap {
		db, err := Open(dir, &Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		src, _, idx, err := db.orderSource()
		if err != nil {
			t.Fatal(err)
		}
		return db.loadOrderFile(src, idx)
	}
	s := load()
	if s == nil || len(s.run) != 5000 || len(s.ovl) != 0 {
		t.Fatalf("order file not loaded whole: %+v", s)
	}
	path := filepath.Join(dir, orderName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[orderHeader+100] ^= 1
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if s := load(); s != nil {
		t.Fatal("a damaged order file was loaded")
	}
}
