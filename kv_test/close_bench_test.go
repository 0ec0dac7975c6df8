package kv_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// closeBenchKeys is the size of BenchmarkCloseAfterWrites's store: a
// million keys, or CRABKV_BENCH_CLOSE_KEYS (10000000 for the figures at
// ten million keys, whose store takes a few GB of disk and minutes to
// write).
var closeBenchKeys = func() int {
	if n, err := strconv.Atoi(os.Getenv("CRABKV_BENCH_CLOSE_KEYS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}()

// closeBenchKey is the i-th key of the store: 16 bytes. A new key made by
// appending a byte to one sorts right after it, before the next.
func closeBenchKey(i int) []byte { return fmt.Appendf(nil, "key:%012d", i) }

// closeBenchStore writes the store the benchmark copies into dir: the keys
// in a scattered order, in batches, then scanned so that its Close writes
// wal.order beside wal.hint, as a store in use holds them.
func closeBenchStore(b *testing.B, dir string) {
	db := openDB(b, dir, &kv.Options{NoSync: true})
	value := make([]byte, 100)
	batch := db.NewBatch()
	for i := range closeBenchKeys {
		batch.Put(closeBenchKey(i*7919%closeBenchKeys), value)
		if batch.Len() == 1000 || i == closeBenchKeys-1 {
			if err := db.Write(batch); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
		}
	}
	if err := db.Scan(nil, nil, func(k, v []byte) bool { return false }); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCloseAfterWrites times the Close of a store whose key order
// was loaded from its wal.order and which has since taken 1,000 writes at
// random keys: Close merges them into the order, and writes wal.order and
// wal.hint. writes=overwrites writes existing keys; writes=new, new keys,
// each between two existing ones, which move the entries after them. Each
// round works on a fresh copy of the store, made untimed.
func BenchmarkCloseAfterWrites(b *testing.B) {
	base := b.TempDir()
	closeBenchStore(b, base)
	for _, mode := range []string{"overwrites", "new"} {
		b.Run("keys="+strconv.Itoa(closeBenchKeys)+"/writes="+mode, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			value := make([]byte, 100)
			for range b.N {
				b.StopTimer()
				dir := copyStore(b, base)
				db := openDB(b, dir, &kv.Options{NoSync: true})
				// The first key read loads the order from wal.order.
				if err := db.Scan(nil, nil, func(k, v []byte) bool { return false }); err != nil {
					b.Fatal(err)
				}
				for range 1000 {
					k := closeBenchKey(rng.IntN(closeBenchKeys))
					if mode == "new" {
						k = append(k, 'x')
					}
					if err := db.Put(k, value); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				if err := db.Close(); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if _, err := os.Stat(filepath.Join(dir, "wal.order")); err != nil {
					b.Fatalf("Close wrote no key order: %v", err)
				}
				if err := os.RemoveAll(dir); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// copyStore copies the files of the closed store at dir into a new
// directory and returns it.
func copyStore(b *testing.B, dir string) string {
	b.Helper()
	to := b.TempDir()
	if err := os.CopyFS(to, os.DirFS(dir)); err != nil {
		b.Fatal(err)
	}
	return to
}
