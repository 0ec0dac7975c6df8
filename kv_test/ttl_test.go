package kv_test

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func ttlOptions(clock *fakeClock) *kv.Options {
	return &kv.Options{Clock: clock.Now, NoSync: true, Compaction: compact.Policy{Disabled: true}}
}

// present checks everything that must agree on whether key is there: Get,
// Entry, TTL, ReadValueAt, Keys, Ascend and Stats.Keys (of a store with
// keys keys).
func present(t *testing.T, db *kv.DB, key string, want bool, keys int) {
	t.Helper()
	_, err := db.Get([]byte(key))
	_, eerr := db.Entry([]byte(key))
	_, terr := db.TTL([]byte(key))
	_, _, rerr := db.ReadValueAt([]byte(key), make([]byte, 1), 0)
	listed := false
	for _, k := range db.Keys(nil) {
		listed = listed || k == key
	}
	ascended := false
	db.Ascend(nil, func(k []byte) bool {
		ascended = ascended || string(k) == key
		return true
	})
	scanned := false
	if err := db.Scan(nil, nil, func(k, _ []byte) bool {
		scanned = scanned || string(k) == key
		return true
	}); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if scanned != want {
		t.Fatalf("%s: Scan visits it: %v; want %v", key, scanned, want)
	}
	verr := db.View([]byte(key), func([]byte) error { return nil })
	for _, e := range []error{err, eerr, terr, rerr, verr} {
		if want && e != nil {
			t.Fatalf("%s: want present, got %v", key, e)
		}
		if !want && !errors.Is(e, kv.ErrNotFound) {
			t.Fatalf("%s: want ErrNotFound, got %v", key, e)
		}
	}
	if listed != want || ascended != want {
		t.Fatalf("%s: Keys lists it: %v, Ascend: %v; want %v", key, listed, ascended, want)
	}
	if st := db.Stats(); st.Keys != keys {
		t.Fatalf("Stats.Keys = %d, want %d", st.Keys, keys)
	}
	checkAccounting(t, db)
}

// TestExpiryEdges walks a key through the edges of expiry with an
// injected clock: each case writes, moves the clock, maybe reopens or
// compacts, and checks whether the key is there.
func TestExpiryEdges(t *testing.T) {
	const ttl = time.Minute
	type step func(t *testing.T, db *kv.DB, c *fakeClock) *kv.DB
	put := func(t *testing.T, db *kv.DB, c *fakeClock) *kv.DB {
		if err := db.PutTTL([]byte("k"), []byte("v"), ttl); err != nil {
			t.Fatal(err)
		}
		return db
	}
	advance := func(d time.Duration) step {
		return func(t *testing.T, db *kv.DB, c *fakeClock) *kv.DB { c.Add(d); return db }
	}
	reopen := func(removeHint bool) step {
		return func(t *testing.T, db *kv.DB, c *fakeClock) *kv.DB {
			dir := db.Dir()
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if removeHint {
				if err := os.Remove(filepath.Join(dir, "wal.hint")); err != nil {
					t.Fatal(err)
				}
			}
			db2, err := kv.Open(dir, ttlOptions(c))
			if err != nil {
				t.Fatal(err)
			}
			return db2
		}
	}
	compactStep := func(t *testing.T, db *kv.DB, c *fakeClock) *kv.DB {
		if err := db.Compact(); err != nil {
			t.Fatal(err)
		}
		return db
	}
	cases := []struct {
		name  string
		steps []step
		want  bool
	}{
		{"just written", []step{put}, true},
		{"a nanosecond before", []step{put, advance(ttl - 1)}, true},
		{"exactly at expiry", []step{put, advance(ttl)}, false},
		{"long past", []step{put, advance(time.Hour)}, false},
		{"far future", []step{func(t *testing.T, db *kv.DB, c *fakeClock) *kv.DB {
			if err := db.PutTTL([]byte("k"), []byte("v"), 1<<62); err != nil {
				t.Fatal(err)
			}
			return db
		}, advance(100 * 365 * 24 * time.Hour)}, true},
		{"overwritten without TTL", []step{put, func(t *testing.T, db *kv.DB, c *fakeClock) *kv.DB {
			mustPut(t, db, "k", "w")
			return db
		}, advance(time.Hour)}, true},
		{"overwritten with a later TTL", []step{put, advance(ttl / 2), put, advance(ttl / 2)}, true},
		{"overwritten with a later TTL, then expired", []step{put, advance(ttl / 2), put, advance(ttl)}, false},
		{"deleted", []step{put, func(t *testing.T, db *kv.DB, c *fakeClock) *kv.DB {
			if err := db.Delete([]byte("k")); err != nil {
				t.Fatal(err)
			}
			return db
		}}, false},
		{"compacted before expiry", []step{put, compactStep}, true},
		{"compacted after expiry", []step{put, advance(ttl), compactStep}, false},
		{"compacted, then expired", []step{put, compactStep, advance(ttl)}, false},
		{"replayed before expiry", []step{put, reopen(true)}, true},
		{"replayed after expiry", []step{put, reopen(true), advance(ttl)}, false},
		{"expired, then replayed", []step{put, advance(ttl), reopen(true)}, false},
		{"hint-loaded before expiry", []step{put, reopen(false)}, true},
		{"hint-loaded after expiry", []step{put, reopen(false), advance(ttl)}, false},
		{"persisted", []step{put, func(t *testing.T, db *kv.DB, c *fakeClock) *kv.DB {
			if err := db.Persist([]byte("k")); err != nil {
				t.Fatal(err)
			}
			return db
		}, advance(time.Hour), reopen(false)}, true},
		{"given a TTL by Expire", []step{func(t *testing.T, db *kv.DB, c *fakeClock) *kv.DB {
			mustPut(t, db, "k", "v")
			if err := db.Expire([]byte("k"), ttl); err != nil {
				t.Fatal(err)
			}
			return db
		}, advance(ttl), reopen(true)}, false},
		{"Expire with a TTL of zero", []step{put, func(t *testing.T, db *kv.DB, c *fakeClock) *kv.DB {
			if err := db.Expire([]byte("k"), 0); err != nil {
				t.Fatal(err)
			}
			return db
		}}, false},
		{"clock steps back after expiry", []step{put, advance(ttl), func(t *testing.T, db *kv.DB, c *fakeClock) *kv.DB {
			present(t, db, "k", false, 1) // reported expired ...
			c.Add(-time.Hour)             // ... then the clock goes back
			return db
		}}, false},
		{"clock steps back across a clean reopen", []step{put, advance(ttl), func(t *testing.T, db *kv.DB, c *fakeClock) *kv.DB {
			present(t, db, "k", false, 1)
			c.Add(-time.Hour)
			return db
		}, reopen(false)}, false},
		{"in a batch", []step{func(t *testing.T, db *kv.DB, c *fakeClock) *kv.DB {
			b := db.NewBatch()
			b.PutTTL([]byte("k"), []byte("v"), ttl)
			b.Put([]byte("other"), []byte("o"))
			if err := db.Write(b); err != nil {
				t.Fatal(err)
			}
			return db
		}, advance(ttl), compactStep, reopen(true)}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeClock()
			db, err := kv.Open(t.TempDir(), ttlOptions(c))
			if err != nil {
				t.Fatal(err)
			}
			mustPut(t, db, "other", "o") // a key that never expires
			for _, s := range tc.steps {
				db = s(t, db, c)
			}
			keys := 1
			if tc.want {
				keys = 2
			}
			present(t, db, "k", tc.want, keys)
			wantValue(t, db, "other", "o")
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TTL reports the time left, NoExpiry for a key without one, and
// ErrNotFound for an absent key; PutTTL refuses a TTL that is not
// positive.
func TestTTLValues(t *testing.T) {
	c := newFakeClock()
	db := openDB(t, t.TempDir(), ttlOptions(c))
	if err := db.PutTTL([]byte("k"), []byte("v"), 90*time.Second); err != nil {
		t.Fatal(err)
	}
	c.Add(30 * time.Second)
	if d, err := db.TTL([]byte("k")); err != nil || d != time.Minute {
		t.Fatalf("TTL = %v, %v; want 1m", d, err)
	}
	e, err := db.Entry([]byte("k"))
	if err != nil || !e.Expires.Equal(time.Unix(1_800_000_090, 0)) {
		t.Fatalf("Entry = %+v, %v", e, err)
	}
	mustPut(t, db, "p", "v")
	if d, err := db.TTL([]byte("p")); err != nil || d != kv.NoExpiry || d >= 0 {
		t.Fatalf("TTL of a key without expiry = %v, %v", d, err)
	}
	if _, err := db.TTL([]byte("absent")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("TTL of an absent key: %v", err)
	}
	for _, bad := range []time.Duration{0, -time.Second} {
		if err := db.PutTTL([]byte("k"), []byte("v"), bad); !errors.Is(err, kv.ErrInvalidTTL) {
			t.Fatalf("PutTTL(%v) = %v", bad, err)
		}
		b := db.NewBatch()
		b.PutTTL([]byte("k"), []byte("v"), bad)
		if err := db.Write(b); !errors.Is(err, kv.ErrInvalidTTL) {
			t.Fatalf("batch PutTTL(%v) = %v", bad, err)
		}
	}
	if err := db.Expire([]byte("absent"), time.Minute); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Expire of an absent key: %v", err)
	}
	if err := db.Persist([]byte("absent")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Persist of an absent key: %v", err)
	}
	before := db.Stats().LogBytes
	if err := db.Persist([]byte("p")); err != nil || db.Stats().LogBytes != before {
		t.Fatalf("Persist of a key without expiry: %v, log %d -> %d bytes", err, before, db.Stats().LogBytes)
	}
}

// Stats counts expiring and expired keys, moves an expired record's bytes
// to stale the moment it expires, and a compaction reclaims them.
func TestExpiryStats(t *testing.T) {
	c := newFakeClock()
	db := openDB(t, t.TempDir(), ttlOptions(c))
	mustPut(t, db, "plain", "v")
	for _, k := range []string{"a", "b", "c"} {
		if err := db.PutTTL([]byte(k), []byte("value-"+k), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PutTTL([]byte("late"), []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	st := checkAccounting(t, db)
	if st.Keys != 5 || st.ExpiringKeys != 4 || st.ExpiredKeys != 0 || st.StaleBytes != 0 {
		t.Fatalf("before expiry: %+v", st)
	}
	c.Add(time.Minute)
	st2 := checkAccounting(t, db)
	if st2.Keys != 2 || st2.ExpiringKeys != 1 || st2.ExpiredKeys != 3 || st2.StaleBytes != st2.ExpiredBytes ||
		st2.StaleBytes == 0 || st2.LiveBytes != st.LiveBytes-st2.ExpiredBytes {
		t.Fatalf("after expiry: %+v", st2)
	}
	// Overwriting an expired key replaces its record: it is stale as any
	// overwritten record, and no longer counted as expired.
	mustPut(t, db, "a", "new")
	st3 := checkAccounting(t, db)
	if st3.Keys != 3 || st3.ExpiredKeys != 2 || st3.StaleBytes != st2.StaleBytes {
		t.Fatalf("after overwrite: %+v", st3)
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	st4 := checkAccounting(t, db)
	if st4.Keys != 3 || st4.ExpiredKeys != 0 || st4.StaleBytes != 0 || st4.ExpiringKeys != 1 {
		t.Fatalf("after compaction: %+v", st4)
	}
}

// Automatic compaction sees expired bytes as stale, without any write
// being overwritten or deleted.
func TestExpiryTriggersCompaction(t *testing.T) {
	c := newFakeClock()
	opts := ttlOptions(c)
	opts.Compaction = compact.Policy{MinLogBytes: -1}
	db := openDB(t, t.TempDir(), opts)
	val := make([]byte, 1000)
	for i := range 50 {
		if err := db.PutTTL([]byte{byte('a' + i%26), byte(i)}, val, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if st := db.Stats(); st.Compactions != 0 {
		t.Fatalf("compacted before anything expired: %+v", st)
	}
	c.Add(time.Minute)
	mustPut(t, db, "trigger", "x") // the policy looks after each write
	// The write starts the compaction before it returns.
	if st := db.Stats(); !st.Compacting && st.Compactions == 0 {
		t.Fatalf("the write started no compaction: %+v", st)
	}
	if err := db.Compact(); err != nil { // waits for the running one, if any
		t.Fatal(err)
	}
	st := checkAccounting(t, db)
	if st.Keys != 1 || st.ExpiredKeys != 0 || st.LogBytes > 1000 {
		t.Fatalf("after the automatic compaction: %+v", st)
	}
}

// A follower sees a writer's expiring keys with their expiries, as they
// are appended, from a hint and its sidecar, and after a compaction; the
// keys are absent to it from the instant they expire.
func TestFollowerExpiry(t *testing.T) {
	c := newFakeClock()
	dir := t.TempDir()
	w, err := kv.Open(dir, ttlOptions(c))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.PutTTL([]byte("early"), []byte("1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil { // writes the hint and its sidecar
		t.Fatal(err)
	}
	w = openDB(t, dir, ttlOptions(c))
	ro := ttlOptions(c)
	ro.ReadOnly = true
	f := openDB(t, dir, ro)
	if err := w.PutTTL([]byte("late"), []byte("2"), time.Hour); err != nil {
		t.Fatal(err)
	}
	mustPut(t, w, "plain", "3")
	f.Refresh()
	for key, want := range map[string]time.Duration{"early": time.Minute, "late": time.Hour, "plain": kv.NoExpiry} {
		if d, err := f.TTL([]byte(key)); err != nil || d != want {
			t.Fatalf("follower TTL(%s) = %v, %v; want %v", key, d, err, want)
		}
	}
	c.Add(time.Minute)
	present(t, f, "early", false, 2)
	if err := w.Compact(); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Hour)
	f.Refresh()
	present(t, f, "late", false, 1)
	wantValue(t, f, "plain", "3")
}

// Verify counts expiring records like any other, and Repair keeps their
// expiries when it copies the valid records of a damaged log.
func TestRepairKeepsExpiry(t *testing.T) {
	c := newFakeClock()
	dir := t.TempDir()
	db, err := kv.Open(dir, ttlOptions(c))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutTTL([]byte("a"), []byte("alpha"), time.Hour); err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "victim", "to be damaged")
	// More than the sync window after the damage: corruption in the
	// middle, not a torn tail.
	for i := range 12 {
		mustPut(t, db, fmt.Sprintf("filler-%d", i), strings.Repeat("f", 100<<10))
	}
	if err := db.PutTTL([]byte("b"), []byte("beta"), 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	e, err := db.Entry([]byte("victim"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	damageLog(t, dir, func(log []byte) { log[e.Offset+int64(e.RecordSize)-1] ^= 0xff })
	if rep, err := kv.Verify(dir); err != nil || !rep.Corrupt() || rep.Puts != 14 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	if _, err := kv.Repair(dir); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, dir, ttlOptions(c))
	for key, want := range map[string]time.Duration{"a": time.Hour, "b": 2 * time.Hour} {
		if d, err := db.TTL([]byte(key)); err != nil || d != want {
			t.Fatalf("TTL(%s) after repair = %v, %v; want %v", key, d, err, want)
		}
	}
	wantMissing(t, db, "victim")
}

// TestExpiryPastTheLastInstant gives keys absolute expiries past what
// Unix nanoseconds in an int64 hold (after 2262-04-11): time.UnixNano
// wraps there, which deleted the key (ExpireAt) or stored an expiry in the
// past or in 2077 (Batch.PutExpiresAt). Such an expiry is the latest the
// store holds, and the key stays, with its value.
func TestExpiryPastTheLastInstant(t *testing.T) {
	clock := newFakeClock()
	db, err := kv.Open(t.TempDir(), ttlOptions(clock))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	last := time.Unix(0, math.MaxInt64)
	for i, at := range []time.Time{
		time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2603, 10, 11, 0, 0, 0, 0, time.UTC),
		time.Date(5000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.UnixMilli(math.MaxInt64),
	} {
		put, exp := fmt.Sprintf("put%d", i), fmt.Sprintf("expire%d", i)
		if err := db.Put([]byte(exp), []byte("old")); err != nil {
			t.Fatal(err)
		}
		if err := db.ExpireAt([]byte(exp), at); err != nil {
			t.Fatalf("ExpireAt %s: %v", at, err)
		}
		b := db.NewBatch()
		b.PutExpiresAt([]byte(put), []byte("new"), at)
		if err := db.Write(b); err != nil {
			t.Fatalf("PutExpiresAt %s: %v", at, err)
		}
		for key, want := range map[string]string{put: "new", exp: "old"} {
			v, err := db.Get([]byte(key))
			if err != nil || string(v) != want {
				t.Fatalf("%s, expiring at %s: Get = %q, %v; want %q", key, at, v, err, want)
			}
			got, err := db.ExpiresAt([]byte(key))
			if err != nil || !got.Equal(last) {
				t.Fatalf("%s, expiring at %s: ExpiresAt = %s, %v; want %s", key, at, got, err, last)
			}
		}
	}
	// Before 1970 is refused, and before 1678 too, where UnixNano wraps
	// the other way.
	for _, at := range []time.Time{time.Unix(-1, 0), time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC)} {
		b := db.NewBatch()
		b.PutExpiresAt([]byte("early"), []byte("v"), at)
		if err := db.Write(b); !errors.Is(err, kv.ErrInvalidTTL) {
			t.Fatalf("PutExpiresAt %s: %v, want ErrInvalidTTL", at, err)
		}
	}
}

// TestClockAheadOnceDoesNotStick: a clock that ran far ahead once, then
// was set right, held the store's time there for good: the clock saved at
// Close became the floor of every later Open's clock, so TTLs stopped
// counting down and an expiry an hour ahead was in the past. What the
// saved clock must keep is only that a key found expired stays expired.
func TestClockAheadOnceDoesNotStick(t *testing.T) {
	clock := newFakeClock()
	dir := t.TempDir()
	db, err := kv.Open(dir, ttlOptions(clock))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutTTL([]byte("hour"), []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := db.Put([]byte("plain"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	clock.Add(50 * 365 * 24 * time.Hour) // the clock runs ahead
	present(t, db, "hour", false, 1)     // and the key is found expired
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	clock.Add(-50*365*24*time.Hour + 2*time.Second) // set right again
	for round := range 2 {
		db, err = kv.Open(dir, ttlOptions(clock))
		if err != nil {
			t.Fatal(err)
		}
		present(t, db, "hour", false, 1+round) // what was found expired stays so
		key := fmt.Sprintf("soon%d", round)
		if err := db.PutTTL([]byte(key), []byte("v"), 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if ttl, err := db.TTL([]byte(key)); err != nil || ttl != 100*time.Millisecond {
			t.Fatalf("TTL of a key just written for 100ms: %v, %v", ttl, err)
		}
		later := fmt.Sprintf("later%d", round)
		b := db.NewBatch()
		b.PutExpiresAt([]byte(later), []byte("v"), clock.Now().Add(time.Hour))
		if err := db.Write(b); err != nil {
			t.Fatal(err)
		}
		present(t, db, later, true, 3+round)
		clock.Add(time.Second)
		present(t, db, key, false, 2+round)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
