package kv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
)

// TestCompactionCollectsTail writes while a compaction runs — overwrites,
// deletes, new keys, keys deleted and written again, batches — and checks
// that the store it leaves holds exactly what was written, with the live
// and stale bytes a replay of its log counts. The writes come after the
// rewrite's copy, where the catch-up knows from the marks of dead records
// which tail records to leave out and builds the new index at once; or
// before the snapshot, when no death is marked yet and the build must find
// each key's latest record by its key; with a put with an expiry among
// them, where the build stops and the rest is applied record by record; in
// a store scanned, whose compaction copies in key order, or not.
func TestCompactionCollectsTail(t *testing.T) {
	for _, tc := range []struct {
		name              string
		beforeSnapshot    bool
		expiring, scanned bool
	}{
		{name: "after the copy"},
		{name: "after the copy, an expiry among them", expiring: true},
		{name: "after the copy, scanned", scanned: true},
		{name: "before the snapshot", beforeSnapshot: true},
		{name: "before the snapshot, an expiry among them", beforeSnapshot: true, expiring: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fs := newPauseFS()
			opts := &Options{NoSync: true, FS: fs, Compaction: compact.Policy{Disabled: true}}
			db, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = db.Close() }()
			const n = 3000
			model := map[string]string{}
			expiring := map[string]bool{}
			put := func(k, v string) {
				t.Helper()
				if err := db.Put([]byte(k), []byte(v)); err != nil {
					t.Fatal(err)
				}
				model[k] = v
				delete(expiring, k)
			}
			for i := range n {
				put(fmt.Sprintf("key%05d", i), fmt.Sprintf("first %d", i))
			}
			// Dead records below the end, so that the copy moves the live
			// ones to other offsets than they had.
			for i := 0; i < n; i += 3 {
				put(fmt.Sprintf("key%05d", i), fmt.Sprintf("second %d", i))
			}
			if tc.scanned {
				scanKeys(t, db) // gives the store its key order
			}
			rng := rand.New(rand.NewPCG(uint64(len(tc.name)), 7))
			burst := func() {
				for i := range 4 * n {
					k := fmt.Sprintf("key%05d", rng.IntN(n+n/2)) // a third of them new
					switch r := rng.IntN(10); {
					case r < 6:
						put(k, fmt.Sprintf("burst %d", i))
					case r < 8:
						if err := db.Delete([]byte(k)); err != nil && !errors.Is(err, ErrNotFound) {
							t.Error(err)
						}
						delete(model, k)
						delete(expiring, k)
					default:
						b := db.NewBatch()
						k2 := fmt.Sprintf("key%05d", rng.IntN(n+n/2))
						b.Put([]byte(k), []byte(fmt.Sprintf("batch %d", i)))
						b.Delete([]byte(k2))
						if err := db.Write(b); err != nil {
							t.Error(err)
						}
						model[k] = fmt.Sprintf("batch %d", i)
						delete(model, k2)
						delete(expiring, k)
						delete(expiring, k2)
					}
					if tc.expiring && i == 2*n {
						if err := db.PutTTL([]byte("ttl"), []byte("expiring"), time.Hour); err != nil {
							t.Error(err)
						}
						model["ttl"] = "expiring"
						expiring["ttl"] = true
					}
				}
			}
			done := make(chan error, 1)
			if tc.beforeSnapshot {
				fs.atOpen.Store(true)
				go func() { done <- db.Compact() }()
				<-fs.paused
				burst()
				close(fs.resume)
			} else {
				db.testHookCopied = burst
				go func() { done <- db.Compact() }()
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if db.Stats().Compactions != 1 {
				t.Fatalf("compactions: %d, want 1", db.Stats().Compactions)
			}
			check := func(when string, db *DB) Stats {
				t.Helper()
				for i := range n + n/2 + 1 {
					k := fmt.Sprintf("key%05d", i)
					if i == n+n/2 {
						k = "ttl"
					}
					v, err := db.Get([]byte(k))
					want, ok := model[k]
					switch {
					case !ok && !errors.Is(err, ErrNotFound):
						t.Fatalf("%s: Get(%s) = %q, %v; want ErrNotFound", when, k, v, err)
					case ok && (err != nil || string(v) != want):
						t.Fatalf("%s: Get(%s) = %q, %v; want %q", when, k, v, err, want)
					}
				}
				s := db.Stats()
				if s.Keys != len(model) || s.ExpiringKeys != len(expiring) {
					t.Fatalf("%s: %d keys, %d expiring; want %d, %d", when, s.Keys, s.ExpiringKeys, len(model), len(expiring))
				}
				return s
			}
			after := check("after the compaction", db)
			db.testHookCopied = nil
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			rep, err := Verify(dir)
			if err != nil || rep.FirstBad != -1 || rep.Keys != len(model) || rep.LiveBytes != after.LiveBytes || rep.StaleBytes != after.StaleBytes {
				t.Fatalf("verify: %+v, %v; want no damage, %d keys, live %d, stale %d", rep, err, len(model), after.LiveBytes, after.StaleBytes)
			}
			// The new log holds no put that had died before the catch-up
			// reached it: only the live ones, and, after a copy the writes
			// followed, every key's value as the copy found it.
			puts := len(model)
			if !tc.beforeSnapshot {
				puts = n
				for _, v := range model {
					if !strings.HasPrefix(v, "first") && !strings.HasPrefix(v, "second") {
						puts++
					}
				}
			}
			if rep.Puts != puts {
				t.Fatalf("the new log holds %d puts, want %d", rep.Puts, puts)
			}
			// A replay without the hint counts the log's bytes afresh.
			if err := os.Remove(filepath.Join(dir, hintName)); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			opts.FS = nil
			if db, err = Open(dir, opts); err != nil {
				t.Fatal(err)
			}
			replayed := check("after a replay", db)
			if after.LiveBytes != replayed.LiveBytes || after.StaleBytes != replayed.StaleBytes || after.LogBytes != replayed.LogBytes {
				t.Fatalf("after the compaction: live %d, stale %d of %d bytes; a replay counts live %d, stale %d of %d",
					after.LiveBytes, after.StaleBytes, after.LogBytes, replayed.LiveBytes, replayed.StaleBytes, replayed.LogBytes)
			}
		})
	}
}

// TestCloseDuringCompactionClosesOldLog closes the store while a
// compaction copies: Close lets it finish, and the log it replaced is
// closed, beside Close's own work, by the time Close returns — no
// descriptor of this process still holds its unlinked blocks.
func TestCloseDuringCompactionClosesOldLog(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc/self/fd")
	}
	dir := t.TempDir()
	opts := &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}}
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		for range 2 {
			if err := db.Put(fmt.Appendf(nil, "key%05d", i), fmt.Appendf(nil, "value %d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	closed := make(chan error, 1)
	// The old log's close takes a while, as freeing a large file's blocks
	// does: Close must wait for it all the same.
	db.testHookOldLog = func() { time.Sleep(50 * time.Millisecond) }
	db.testHookCopied = func() {
		go func() { closed <- db.Close() }()
		for !db.closing() {
			time.Sleep(time.Millisecond)
		}
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir) {
			t.Errorf("after Close, descriptor %s still holds %s", fd.Name(), target)
		}
	}
	if db, err = Open(dir, opts); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if s := db.Stats(); s.Keys != 2000 || s.StaleBytes != 0 {
		t.Fatalf("after a reopen: %d keys, %d stale bytes; want 2000, 0 (compacted)", s.Keys, s.StaleBytes)
	}
}

// TestCompactionIndexSizedAsReplay compacts a store of 3000 keys, a count
// that fills a table of 4096 slots to three quarters and one of 8192 to
// less than half, and reopens it without its hint: the compaction's new
// index must be the size a replay of the new log builds, so that the
// memory a key costs, and the hint a compaction writes, do not depend on
// whether the store was last compacted or reopened. Both ways of building
// it are taken: from the collected records, and, in a store with an
// expiring key, from the copied slots (newIndexOf).
func TestCompactionIndexSizedAsReplay(t *testing.T) {
	for _, expiring := range []bool{false, true} {
		t.Run(fmt.Sprintf("expiring=%v", expiring), func(t *testing.T) {
			dir := t.TempDir()
			db, err := Open(dir, &Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			const keys = 3000
			for round := range 2 {
				for i := range keys {
					k, v := fmt.Appendf(nil, "key-%05d", i), fmt.Appendf(nil, "value %d", round)
					if expiring && i == 0 {
						err = db.PutTTL(k, v, time.Hour)
					} else {
						err = db.Put(k, v)
					}
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := db.Compact(); err != nil {
				t.Fatal(err)
			}
			slots := func(db *DB) int {
				db.mu.RLock()
				defer db.mu.RUnlock()
				return len(db.mu.index.slots)
			}
			compacted := slots(db)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(dir, "wal.hint")); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			db, err = Open(dir, &Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if replayed := slots(db); compacted != replayed || compacted != tableFor(keys) {
				t.Fatalf("%d keys: %d slots after the compaction, %d after a replay; want %d", keys, compacted, replayed, tableFor(keys))
			}
		})
	}
}
