package kv

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/crabkv/crabkv/compact"
)

// TestOrderTailOfOverwrites extends a snapshot over a tail of many
// overwrites of a few keys: its memory must follow the keys, not the
// records. A tail of a hundred thousand overwrites of 20 keys, read with an
// allocation per record kept until the end, grew a scan beside busy
// writers past 2 GB.
func TestOrderTailOfOverwrites(t *testing.T) {
	const keys, writes = 20, 100_000
	db, err := Open(t.TempDir(), &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	put := func(i int) {
		t.Helper()
		if err := db.Put(fmt.Appendf(nil, "k%02d", i%keys), fmt.Appendf(nil, "v%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	put(0)
	if _, err := db.orderSnapshot(); err != nil {
		t.Fatal(err)
	}
	for i := range writes {
		put(i)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s, err := db.orderSnapshot()
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.ovl) != keys {
		t.Fatalf("the overlay holds %d keys, want %d", len(s.ovl), keys)
	}
	for _, e := range s.ovl {
		v, err := db.Get([]byte(e.key))
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("v%d", writes-keys+int(e.key[1]-'0')*10+int(e.key[2]-'0')); string(v) != want {
			t.Fatalf("%s = %q, want %q", e.key, v, want)
		}
		db.mu.RLock()
		sl, ok, err := db.lookupMuLocked([]byte(e.key))
		db.mu.RUnlock()
		if err != nil || !ok || sl.off != e.off || e.del {
			t.Fatalf("overlay has %s at %d (delete %v), the index at %d (%v, %v)", e.key, e.off, e.del, sl.off, ok, err)
		}
	}
	if n := after.Mallocs - before.Mallocs; n > writes/10 {
		t.Fatalf("extending over %d overwrites of %d keys made %d allocations", writes, keys, n)
	}
}
