package kv_test

import (
	"fmt"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// BenchmarkHistory measures walking the log for one key's versions: a log
// of 200,000 records of 10,000 keys (about 14 MiB), each key written 20
// times. b.SetBytes is the log's size, so the rate is the walk's.
func BenchmarkHistory(b *testing.B) {
	db := openDB(b, b.TempDir(), historyOpts())
	val := make([]byte, 40)
	for i := range 200_000 {
		if err := db.Put(fmt.Appendf(nil, "user:%06d", i%10_000), val); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(db.Stats().LogBytes)
	b.ResetTimer()
	for range b.N {
		n := 0
		if err := db.History([]byte("user:004242"), func(kv.Version) bool { n++; return true }); err != nil {
			b.Fatal(err)
		}
		if n != 20 {
			b.Fatalf("%d versions", n)
		}
	}
}
