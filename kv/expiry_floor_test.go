package kv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
)

// floorClock is a clock a test moves while stores read it.
type floorClock struct{ ns atomic.Int64 }

func (c *floorClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *floorClock) add(d time.Duration) { c.ns.Add(int64(d)) }
func newFloorClock() *floorClock {
	c := &floorClock{}
	c.ns.Store(time.Unix(1_700_000_000, 0).UnixNano())
	return c
}
func (c *floorClock) options() *Options {
	return &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}, Clock: c.now, FollowPoll: 5 * time.Millisecond}
}

// expiredBeforeClose writes 3000 keys and one that expires in an hour to a
// store in dir, finds it expired with the clock two hours ahead, closes
// the store and sets the clock back. It returns a key of the hint's
// damaged chunk, if damage.
func expiredBeforeClose(t *testing.T, dir string, clock *floorClock, damage bool) (victim string) {
	t.Helper()
	db, err := Open(dir, clock.options())
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
	clock.add(2 * time.Hour)
	if _, err := db.Get([]byte("exp")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get exp after its hour: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	clock.add(-2 * time.Hour) // the clock set back
	if damage {
		_, victim = damageChunk(t, dir)
	}
	return victim
}

// TestExpiryFloorSurvivesRebuild: a key found expired with the clock
// ahead, the store closed cleanly and reopened with the clock set right,
// stays absent. It did only until the index was rebuilt from the log (a
// damaged hint chunk, touched by a Get): the replay built the expiry
// table afresh from the records' own expiries, and the key came back with
// an hour to live.
func TestExpiryFloorSurvivesRebuild(t *testing.T) {
	clock := newFloorClock()
	dir := t.TempDir()
	victim := expiredBeforeClose(t, dir, clock, true)
	db, err := Open(dir, clock.options())
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

// TestFollowerSwitchKeepsExpiryFloor: a follower that moves to a log whose
// hint has a damaged chunk under the records after it reads the whole log
// again, without the hint: that replay dropped the hint's expiry floor, and
// a key the writer found expired came back on the follower, with its hour.
func TestFollowerSwitchKeepsExpiryFloor(t *testing.T) {
	clock := newFloorClock()
	dir := t.TempDir()
	victim := expiredBeforeClose(t, dir, clock, true)
	fdir := crashCopy(t, dir)
	w, err := Open(dir, clock.options())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Put([]byte(victim), []byte("new")); err != nil { // after the hint, in the damaged chunk
		t.Fatal(err)
	}
	moved := crashCopy(t, dir)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	o := clock.options()
	o.ReadOnly = true
	r, err := Open(fdir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Get([]byte("exp")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("follower, before the move: Get exp: %v", err)
	}
	// The log of the same store, in another file: the follower moves to it.
	if err := os.Rename(filepath.Join(moved, logName), filepath.Join(fdir, logName)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if v, err := r.Get([]byte(victim)); err == nil && string(v) == "new" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the follower never moved to the new log")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if v, err := r.Get([]byte("exp")); !errors.Is(err, ErrNotFound) {
		ttl, _ := r.TTL([]byte("exp"))
		t.Fatalf("follower, after the move: Get exp = %q, %v (TTL %v); want ErrNotFound", v, err, ttl)
	}
}

// TestExpiryFloorWithoutHint: the hint unreadable (cut short), its expiry
// sidecar whole: Open replays the log without the hint, and the floor the
// sidecar sets holds still. The replay had none, and the key found expired
// came back with its hour.
func TestExpiryFloorWithoutHint(t *testing.T) {
	clock := newFloorClock()
	dir := t.TempDir()
	expiredBeforeClose(t, dir, clock, false)
	p := filepath.Join(dir, hintName)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, fi.Size()-1); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir, clock.options())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.hintCovered != 0 {
		t.Fatal("the hint was used")
	}
	if v, err := db.Get([]byte("exp")); !errors.Is(err, ErrNotFound) {
		ttl, _ := db.TTL([]byte("exp"))
		t.Fatalf("Get exp = %q, %v (TTL %v); want ErrNotFound", v, err, ttl)
	}
}
