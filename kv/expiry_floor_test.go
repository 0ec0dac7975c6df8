package kv

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
)

// TestExpiryFloorSurvivesRebuild: a key found expired with the clock
// ahead, the store closed cleanly and reopened with the clock set right,
// stays absent. It did only until the index was rebuilt from the log (a
// damaged hint chunk, touched by a Get): the replay built the expiry
// table afresh from the records' own expiries, and the key came back with
// an hour to live.
func TestExpiryFloorSurvivesRebuild(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	opts := func() *Options {
		return &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}, Clock: clock}
	}
	dir := t.TempDir()
	db, err := Open(dir, opts())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		k := fmt.Sprintf("key-%04d", i)
		if err := db.Put([]byte(k), []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PutTTL([]byte("exp"), []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	if _, err := db.Get([]byte("exp")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get exp after its hour: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	now = now.Add(-2 * time.Hour) // the clock set back
	_, victim := damageChunk(t, dir)
	db, err = Open(dir, opts())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.hintCovered == 0 {
		t.Fatal("the hint was not used")
	}
	if v, err := db.Get([]byte("exp")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("before the rebuild: Get exp = %q, %v; want ErrNotFound", v, err)
	}
	if _, err := db.Get([]byte(victim)); err != nil {
		t.Fatal(err) // rebuilds the index from the log
	}
	if v, err := db.Get([]byte("exp")); !errors.Is(err, ErrNotFound) {
		ttl, _ := db.TTL([]byte("exp"))
		t.Fatalf("after the rebuild: Get exp = %q, %v (TTL %v); want ErrNotFound", v, err, ttl)
	}
	if st := db.Stats(); st.Keys != 3000 || st.ExpiredKeys != 1 {
		t.Fatalf("Stats: %d keys, %d expired; want 3000 and 1", st.Keys, st.ExpiredKeys)
	}
}
