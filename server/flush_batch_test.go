package server

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// countingStore counts the deletes and batch writes that reach a store.
type countingStore struct {
	Store
	deletes, writes atomic.Int64
}

func (s *countingStore) Delete(key []byte) error {
	s.deletes.Add(1)
	return s.Store.Delete(key)
}

func (s *countingStore) Write(ops []Op) error {
	s.writes.Add(1)
	return s.Store.Write(ops)
}

// TestFlushInBatches flushes 2,500 keys: FLUSHDB must delete them in
// batches of flushChunk, one write each, not with a write (and, synced, a
// sync) per key.
func TestFlushInBatches(t *testing.T) {
	db, err := kv.Open(t.TempDir(), &kv.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := &countingStore{Store: NewDBStore(db)}
	_, addr := serveStore(t, st, Options{AllowFlush: true})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	const n = 2500
	pairs := make([]any, 0, 2*n)
	for i := range n {
		pairs = append(pairs, "k"+strconv.Itoa(i), "v")
	}
	if err := c.MSet(ctx, pairs...).Err(); err != nil {
		t.Fatal(err)
	}
	st.writes.Store(0)
	if err := c.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if size, _ := c.DBSize(ctx).Result(); size != 0 {
		t.Fatalf("DBSIZE after FLUSHDB = %d", size)
	}
	if d, w := st.deletes.Load(), st.writes.Load(); d != 0 || w != (n+flushChunk-1)/flushChunk {
		t.Errorf("FLUSHDB of %d keys: %d deletes and %d batch writes, want 0 and %d", n, d, w, (n+flushChunk-1)/flushChunk)
	}
}
