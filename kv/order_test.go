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

// TestSortByKey sorts records by key, on one goroutine and on all, through
// a map and through ReadAt, with keys of several shapes: keys that share
// their first 8 bytes, keys that are prefixes of others, keys with 0x00
// and 0xFF bytes, keys that all share a long prefix, keys that all share
// one but a few, keys that agree on the 8 bytes after it, duplicate keys,
// and keys of expiring records.
func TestSortByKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	shapes := map[string]func(i int) []byte{
		"mixed": func(i int) []byte {
			switch i % 4 {
			case 0:
				return fmt.Appendf(nil, "%x", rng.Uint64()>>uint(rng.IntN(60)))
			case 1:
				return fmt.Appendf(nil, "user:000%d", rng.IntN(1e6))
			case 2:
				return bytes.Repeat([]byte{0xFF}, 1+rng.IntN(10))
			default:
				return append([]byte("a"), bytes.Repeat([]byte{0}, rng.IntN(10))...)
			}
		},
		"shared": func(int) []byte {
			return fmt.Appendf(nil, "tenant/0042/user/%d", rng.IntN(1e6))
		},
		"shared-but-few": func(int) []byte {
			if rng.IntN(5000) == 0 {
				return fmt.Appendf(nil, "tenant/%d", rng.IntN(100))
			}
			return fmt.Appendf(nil, "tenant/0042/user/%d", rng.IntN(1e6))
		},
		"ties-past-8": func(int) []byte {
			return fmt.Appendf(nil, "k:12345678%c%d", 'a'+rng.IntN(3), rng.IntN(1e4))
		},
	}
	for _, n := range []int{0, 1, 2, 10, parallelSortMin - 1, parallelSortMin + 3} {
		for name, shape := range shapes {
			keys := make([][]byte, n)
			for i := range keys {
				keys[i] = shape(i)
			}
			log := walfmt.AppendHeader(nil)
			offs := make([]uint64, n)
			for i, k := range keys {
				offs[i] = uint64(len(log))
				if i%5 == 0 {
					log = walfmt.AppendPutExpiring(log, k, []byte("v"), 1<<40)
				} else {
					log = walfmt.AppendPut(log, k, []byte("v"))
				}
			}
			f, path := logFileOf(t, log)
			for _, mapped := range []bool{false, true} {
				src := &logView{f: f, end: int64(len(log)), path: path}
				if mapped {
					src.m = mapLog(f, src.end, false)
				}
				got := slices.Clone(offs)
				sortByKey(src, got)
				for i := 1; i < len(got); i++ {
					a, b := src.keyOrNil(got[i-1]), src.keyOrNil(got[i])
					if c := bytes.Compare(a, b); c > 0 || (c == 0 && got[i-1] > got[i]) {
						t.Fatalf("%s, %d keys, mapped %v: %q (at %d) sorted before %q (at %d)",
							name, n, mapped, a, got[i-1], b, got[i])
					}
				}
				if slices.Sort(got); !slices.Equal(got, offs) {
					t.Fatalf("%s, %d keys: the sort lost or duplicated records", name, n)
				}
				_ = src.m.unmap()
			}
		}
	}
}

// TestOrderFileLoaded checks that a store reopened after Close takes its
// key order from wal.order, covering every key, and that a damaged file is
// refused.
func TestOrderFileLoaded(t *testing.T) {
	dir := t.TempDir()
	scannedStore(t, dir, "k%05d", 5000)
	load := func() *orderSnap {
		s, _ := loadedOrder(t, dir)
		return s
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

// scannedStore writes n keys, named by format from 0 to n-1, into a new
// store in dir in a scattered order, scans it so that it has a key order,
// and closes it, which writes wal.order.
func scannedStore(t *testing.T, dir, format string, n int) {
	t.Helper()
	db, err := Open(dir, &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := db.Put(fmt.Appendf(nil, format, (i*7919)%n), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Scan(nil, nil, func(k, v []byte) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// loadedOrder opens the store in dir read-only and returns the snapshot
// its wal.order gives (nil for none), and the fence the log gives that
// snapshot's run.
func loadedOrder(t *testing.T, dir string) (*orderSnap, *fence) {
	t.Helper()
	db, err := Open(dir, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	src, _, idx, err := db.orderSource()
	if err != nil {
		t.Fatal(err)
	}
	s := db.loadOrderFile(src, idx)
	if s == nil {
		return nil, nil
	}
	return s, buildFence(s.run, src)
}

// logFileOf writes log to a file of the test's own and opens it for
// reading, as the store opens its files (an osFile, which mapLog maps);
// the file is closed when the test ends.
func logFileOf(tb testing.TB, log []byte) (osFile, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "wal.log")
	if err := os.WriteFile(path, log, 0o644); err != nil {
		tb.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return osFile{f}, path
}
