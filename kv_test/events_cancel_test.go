package kv_test

import (
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// TestSubscribeCancelDeliversQueued cancels a subscription right after
// Compact returns, before reading a single event: the events the
// compaction published before the cancel — Started and Finished — must
// still arrive, and then the channel must close.
func TestSubscribeCancelDeliversQueued(t *testing.T) {
	db := openDB(t, t.TempDir(), hintOpts)
	for i := range 100 {
		mustPut(t, db, key(i%10), value(i))
	}
	events, cancel := db.Subscribe()
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	cancel()
	var kinds []kv.EventKind
	for ev := range events {
		kinds = append(kinds, ev.Kind)
	}
	if len(kinds) < 2 || kinds[0] != kv.CompactionStarted || kinds[len(kinds)-1] != kv.CompactionFinished {
		t.Fatalf("after cancel, got %v; want Started ... Finished", kinds)
	}
}

// TestSubscribeCancelEndsSubscription checks the other half of the
// contract: nothing published after cancel is delivered.
func TestSubscribeCancelEndsSubscription(t *testing.T) {
	db := openDB(t, t.TempDir(), hintOpts)
	for i := range 100 {
		mustPut(t, db, key(i%10), value(i))
	}
	events, cancel := db.Subscribe()
	cancel()
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	for ev := range events {
		t.Fatalf("got %v, published after cancel", ev.Kind)
	}
}
