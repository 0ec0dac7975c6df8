package kv

import (
	"fmt"
	"testing"
)

// BenchmarkScanCompacted scans every key of a store of 16-byte keys and
// 100-byte values, written in random order and compacted, so that its
// log holds them in key order: the plain-record loop of a forward scan.
// It reports keys a second.
func BenchmarkScanCompacted(b *testing.B) {
	const keys = 500_000
	db, err := Open(b.TempDir(), &Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	val := make([]byte, 100)
	batch := db.NewBatch()
	for i := range keys {
		batch.Put(fmt.Appendf(nil, "%016x", uint64(i)*0x9e3779b97f4a7c15), val)
		if batch.Len() == 1000 || i == keys-1 {
			if err := db.Write(batch); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
		}
	}
	scan := func() int {
		n := 0
		if err := db.Scan(nil, nil, func(k, v []byte) bool { n++; return true }); err != nil {
			b.Fatal(err)
		}
		return n
	}
	scan() // which gives the store its key order, for the compaction to keep
	if err := db.Compact(); err != nil {
		b.Fatal(err)
	}
	scan()
	b.ResetTimer()
	for b.Loop() {
		if n := scan(); n != keys {
			b.Fatalf("scanned %d keys, want %d", n, keys)
		}
	}
	b.ReportMetric(float64(keys*b.N)/b.Elapsed().Seconds(), "keys/s")
}
