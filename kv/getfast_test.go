package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
)

// The lock-free Get is off under the race detector (see getfast.go), so
// these tests prove it only in a plain build: .ci/run runs the engine's
// tests both ways.

// openFastTest opens a NoSync store that never compacts by itself, for a
// test of the lock-free read, which it skips under the race detector.
func openFastTest(t *testing.T) *DB {
	t.Helper()
	if raceEnabled {
		t.Skip("the lock-free read is off under the race detector")
	}
	db, err := Open(t.TempDir(), &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestGetFastAgreesWithTheLockedRead reads every kind of key a store can
// hold both ways: the lock-free read must answer what the locked one
// answers, or leave the answer to it.
func TestGetFastAgreesWithTheLockedRead(t *testing.T) {
	db := openFastTest(t)
	var keys [][]byte
	put := func(k string, v []byte) {
		t.Helper()
		if err := db.Put([]byte(k), v); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, []byte(k))
	}
	for i := range 3000 { // past several growths of the index
		put(fmt.Sprintf("plain-%05d", i), bytes.Repeat([]byte{byte(i)}, 1+i%200))
	}
	for i := range 50 {
		put(fmt.Sprintf("gone-%02d", i), []byte("soon deleted"))
		if err := db.Delete([]byte(fmt.Sprintf("gone-%02d", i))); err != nil {
			t.Fatal(err)
		}
	}
	put("large", bytes.Repeat([]byte("L"), largeRecord+1))
	if err := db.PutTTL([]byte("expiring"), []byte("for an hour"), time.Hour); err != nil {
		t.Fatal(err)
	}
	keys = append(keys, []byte("expiring"), []byte("never-written"))
	b := db.NewBatch()
	for i := range 20 {
		b.Put([]byte(fmt.Sprintf("batched-%02d", i)), []byte(fmt.Sprintf("in a batch %d", i)))
		keys = append(keys, []byte(fmt.Sprintf("batched-%02d", i)))
	}
	if err := db.Write(b); err != nil {
		t.Fatal(err)
	}

	answered := 0
	for _, k := range keys {
		want, wantErr := db.getLocked(k)
		val, found, ok, _ := db.getFast(k)
		name := string(k)
		switch {
		case name == "large" || name == "expiring":
			if ok {
				t.Errorf("%s: answered without the lock; it must leave it to the locked read", name)
			}
			continue
		case !ok:
			t.Errorf("%s: the lock-free read gave up on a store no one writes", name)
			continue
		}
		answered++
		if errors.Is(wantErr, ErrNotFound) {
			if found {
				t.Errorf("%s: found %q, the locked read finds none", name, val)
			}
			continue
		}
		if wantErr != nil {
			t.Fatalf("%s: locked read: %v", name, wantErr)
		}
		if !found || !bytes.Equal(val, want) {
			t.Errorf("%s: got %q (found %v), want %q", name, val, found, want)
		}
	}
	if answered < len(keys)-2 {
		t.Fatalf("the lock-free read answered %d of %d keys", answered, len(keys))
	}

	// A value stored encoded is decoded from the copy.
	db2, err := Open(t.TempDir(), &Options{NoSync: true, Codec: S2})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	v := bytes.Repeat([]byte("compressible "), 100)
	if err := db2.Put([]byte("k"), v); err != nil {
		t.Fatal(err)
	}
	got, found, ok, _ := db2.getFast([]byte("k"))
	if !ok || !found || !bytes.Equal(got, v) {
		t.Fatalf("encoded value: ok %v found %v, %d bytes, want %d", ok, found, len(got), len(v))
	}
}

// TestGetFastAfterReopenFromHint reads a store opened from its hint,
// whose table is checked a chunk at a time as lookups first touch it: the
// lock-free read leaves a chunk not yet checked to the locked one, and
// reads without the lock once it has passed.
func TestGetFastAfterReopenFromHint(t *testing.T) {
	if raceEnabled {
		t.Skip("the lock-free read is off under the race detector")
	}
	dir := t.TempDir()
	opts := &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}}
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000
	for i := range n {
		if err := db.Put(fmt.Appendf(nil, "k%05d", i), fmt.Appendf(nil, "v%05d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.mu.index.chk == nil {
		t.Fatal("the store did not open from its hint")
	}
	// A key whose hash another key shares is left to the locked read for
	// good: the lock-free probe does not read a record of the unverified
	// prefix with another key (probeFast). With 20,000 keys that happens
	// in about one store in twenty.
	sharing := map[uint32]int{}
	for i := range n {
		sharing[db.mu.index.hash(fmt.Appendf(nil, "k%05d", i))]++
	}
	answered := 0
	for i := range n {
		key := fmt.Appendf(nil, "k%05d", i)
		want := fmt.Sprintf("v%05d", i)
		if val, found, ok, _ := db.getFast(key); ok {
			answered++
			if !found || string(val) != want {
				t.Fatalf("%s: got %q (found %v), want %q", key, val, found, want)
			}
			continue
		}
		if got, err := db.Get(key); err != nil || string(got) != want { // checks the chunks
			t.Fatalf("%s: %q, %v", key, got, err)
		}
		val, found, ok, again := db.getFast(key)
		if !ok && !again && sharing[db.mu.index.hash(key)] > 1 {
			continue
		}
		if !ok || !found || string(val) != want {
			t.Fatalf("%s: after a locked read checked its chunks: ok %v found %v %q", key, ok, found, val)
		}
	}
	// Most keys land in chunks an earlier key's read has checked.
	if answered < n/2 {
		t.Fatalf("the lock-free read answered %d of %d keys at the first try", answered, n)
	}
}

// TestGetFastNoticesASwapMidRead has a compaction replace the index and
// the log between the lock-free read's look at one and at the other: it
// holds the old index and the new log's map, whose offsets do not match.
// It must see that a writer intervened and read again, not answer from
// the mismatch.
func TestGetFastNoticesASwapMidRead(t *testing.T) {
	db := openFastTest(t)
	// The compaction drops the first writes of k000-k069, so every later
	// record moves to a lower offset: the old index's offsets land on
	// other keys' records in the new log, inside it. Few enough keys that
	// the index never grows, and its table stays on the heap, readable
	// after the swap.
	for i := range 700 {
		if err := db.Put(fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "v0-%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 70 {
		if err := db.Put(fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "v1-%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []int{500, 137, 699, 42} {
		key := fmt.Appendf(nil, "k%03d", k)
		swapped := false
		db.testHookFast = func() {
			if !swapped {
				swapped = true
				if err := db.Compact(); err != nil {
					t.Error(err)
				}
			}
		}
		val, found, ok, again := db.getFast(key)
		db.testHookFast = nil
		if !swapped {
			t.Fatal("the hook did not run")
		}
		if ok {
			t.Fatalf("%s: answered %q (found %v) across a swap", key, val, found)
		}
		if !again {
			t.Errorf("%s: gave up for good on a swap; it should try again", key)
		}
		got, err := db.Get(key)
		want := fmt.Sprintf("v0-%03d", k)
		if k < 70 {
			want = fmt.Sprintf("v1-%03d", k)
		}
		if err != nil || string(got) != want {
			t.Fatalf("%s: Get after the swap: %q, %v; want %q", key, got, err, want)
		}
	}
}

// TestGetFastNoticesAGrowthMidRead has the index grow, and its old table
// migrate whole, between the lock-free read's look at the tables and its
// probe: the table it holds has every key marked as moved. It must see
// that a writer intervened and read again, not answer that the key is
// missing.
func TestGetFastNoticesAGrowthMidRead(t *testing.T) {
	db := openFastTest(t)
	for i := range 700 { // the heap table of 1,024 slots, not yet grown
		if err := db.Put(fmt.Appendf(nil, "k%05d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	grown := false
	db.testHookFast = func() {
		if grown {
			return
		}
		grown = true
		for i := 700; i < 5000; i++ { // grows, and migrates old whole
			if err := db.Put(fmt.Appendf(nil, "k%05d", i), []byte("v")); err != nil {
				t.Error(err)
			}
		}
	}
	val, found, ok, again := db.getFast([]byte("k00123"))
	db.testHookFast = nil
	if !grown {
		t.Fatal("the hook did not run")
	}
	if ok {
		t.Fatalf("answered %q (found %v) from a table that was migrated meanwhile", val, found)
	}
	if !again {
		t.Error("gave up for good on a growth; it should try again")
	}
	if got, err := db.Get([]byte("k00123")); err != nil || string(got) != "v" {
		t.Fatalf("Get after the growth: %q, %v", got, err)
	}
}

// TestGetFastBesideWriters reads keys without the lock while a writer
// puts and deletes them, the index grows, and compactions replace the log
// (and cut the one they replaced): every answer must be one the key had
// at some moment during the read. Each key's writes are numbered; a read
// that begins after write a of its key returned, and ends before write b
// began, must see a write numbered from a to b, and nothing for a delete.
func TestGetFastBesideWriters(t *testing.T) {
	if raceEnabled {
		t.Skip("the lock-free read is off under the race detector")
	}
	for _, noSync := range []bool{true, false} {
		t.Run(fmt.Sprintf("NoSync=%v", noSync), func(t *testing.T) {
			testGetFastBesideWriters(t, noSync)
		})
	}
}

func testGetFastBesideWriters(t *testing.T, noSync bool) {
	db, err := Open(t.TempDir(), &Options{NoSync: noSync, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.freeStep = 64 << 10 // many cuts of each replaced log

	const keys = 20000
	ops := 150000
	if !noSync {
		ops = 3000
	}
	if testing.Short() {
		ops /= 5
	}
	// begun[k] is the number of the last write of key k begun, acked[k]
	// that of the last one returned. Odd keys are deleted by their odd
	// writes.
	var begun, acked [keys]atomic.Uint64
	key := func(k int) []byte { return fmt.Appendf(nil, "key-%06d", k) }
	value := func(k int, n uint64) []byte {
		v := make([]byte, 24+k%64)
		binary.BigEndian.PutUint64(v, uint64(k))
		binary.BigEndian.PutUint64(v[8:], n)
		return v
	}
	deletes := func(k int, n uint64) bool { return k%2 == 1 && n%2 == 1 }
	deletedWithin := func(k int, lo, hi uint64) bool {
		for n := lo; n <= hi && n <= lo+2; n++ {
			if deletes(k, n) {
				return true
			}
		}
		return false
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var fast, total atomic.Int64
	errc := make(chan error, 8)
	fail := func(err error) {
		select {
		case errc <- err:
		default:
		}
	}
	for r := range 2 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := rng.IntN(keys)
				lo := acked[k].Load()
				val, found, ok, _ := db.getFast(key(k))
				var err error
				if ok {
					fast.Add(1)
				} else {
					val, err = db.getLocked(key(k))
					found = err == nil
					if errors.Is(err, ErrNotFound) {
						err = nil
					}
				}
				hi := begun[k].Load()
				total.Add(1)
				if err != nil {
					fail(fmt.Errorf("key %d: %v", k, err))
					return
				}
				if !found {
					// Never written, or a delete numbered lo..hi.
					if lo != 0 && !deletedWithin(k, lo, hi) {
						fail(fmt.Errorf("key %d: not found, but writes %d..%d put it (fast %v)", k, lo, hi, ok))
						return
					}
					continue
				}
				if len(val) != 24+k%64 || binary.BigEndian.Uint64(val) != uint64(k) {
					fail(fmt.Errorf("key %d: got another key's value %x (fast %v)", k, val, ok))
					return
				}
				n := binary.BigEndian.Uint64(val[8:])
				if n < lo || n > hi || deletes(k, n) {
					fail(fmt.Errorf("key %d: got write %d, outside %d..%d (fast %v)", k, n, lo, hi, ok))
					return
				}
			}
		})
	}
	wg.Go(func() { // compactions, back to back
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := db.Compact(); err != nil {
				fail(fmt.Errorf("compact: %v", err))
				return
			}
		}
	})

	rng := rand.New(rand.NewPCG(1, 2))
	var counts [keys]uint64
	for range ops {
		// New keys keep arriving, so the index keeps growing.
		k := rng.IntN(keys)
		counts[k]++
		n := counts[k]
		begun[k].Store(n)
		var err error
		if deletes(k, n) {
			err = db.Delete(key(k))
		} else {
			err = db.Put(key(k), value(k, n))
		}
		if err != nil {
			t.Fatal(err)
		}
		acked[k].Store(n)
		select {
		case err := <-errc:
			close(stop)
			wg.Wait()
			t.Fatal(err)
		default:
		}
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	t.Logf("%d reads, %d of them without the lock", total.Load(), fast.Load())
	if fast.Load() < total.Load()/4 {
		t.Fatalf("only %d of %d reads were answered without the lock", fast.Load(), total.Load())
	}
}
