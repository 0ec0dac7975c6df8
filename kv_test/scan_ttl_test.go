package kv_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// TestScanExpiredThenChanged checks that a key which had expired before a
// scan began, and is written again (and perhaps deleted) while the scan
// runs, is seen as it was at the scan's start, absent, or with its new
// value: never with the expired one. The write replaces the expired record
// the scan's snapshot still names, and with it the store's note of when
// that record expires. Forwards, backwards, with values and keys only.
func TestScanExpiredThenChanged(t *testing.T) {
	setup := func(t *testing.T) (*kv.DB, *fakeClock) {
		clock := newFakeClock()
		db := openDB(t, t.TempDir(), ttlOptions(clock))
		for i := range 100 {
			mustPut(t, db, fmt.Sprintf("k%03d", i), "v")
		}
		for _, k := range []string{"a", "z"} {
			if err := db.PutTTL([]byte(k), []byte("old"), time.Second); err != nil {
				t.Fatal(err)
			}
		}
		clock.Add(2 * time.Second)
		wantMissing(t, db, "a")
		wantMissing(t, db, "z")
		return db, clock
	}
	rewrite := func(t *testing.T, db *kv.DB, key string, del bool) {
		mustPut(t, db, key, "new")
		if del {
			if err := db.Delete([]byte(key)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, del := range []bool{false, true} {
		// Forwards the scan meets z last, backwards a: each is rewritten
		// after the first key is read.
		walks := []struct {
			name, key string
			step      func(it *kv.Iterator) bool
		}{
			{"Next", "z", (*kv.Iterator).Next},
			{"Prev", "a", (*kv.Iterator).Prev},
		}
		for _, w := range walks {
			t.Run(fmt.Sprintf("%s/deleted=%v", w.name, del), func(t *testing.T) {
				db, _ := setup(t)
				it := db.NewIterator(nil, nil)
				if w.name == "Prev" {
					it.SeekEnd()
				}
				if !w.step(it) {
					t.Fatal("no first key")
				}
				rewrite(t, db, w.key, del)
				for w.step(it) {
					if string(it.Key()) == w.key && (del || string(it.Value()) != "new") {
						t.Errorf("the scan read %s = %q (the key was rewritten, deleted %v)", w.key, it.Value(), del)
					}
				}
				if err := it.Close(); err != nil {
					t.Fatal(err)
				}
			})
		}
		t.Run(fmt.Sprintf("Ascend/deleted=%v", del), func(t *testing.T) {
			db, _ := setup(t)
			first, saw := true, false
			db.Ascend(nil, func(k []byte) bool {
				if first {
					first = false
					rewrite(t, db, "z", del)
				}
				saw = saw || string(k) == "z"
				return true
			})
			if saw && del {
				t.Error("Ascend listed z, absent when it began and when it ended")
			}
		})
	}
}

// TestScanExpiryOneInstant checks that a scan judges expiry at the instant
// it begins: two keys a batch wrote with the same expiry, which no moment
// holds one without the other, are both seen, though the clock passes
// their expiry while the scan runs.
func TestScanExpiryOneInstant(t *testing.T) {
	clock := newFakeClock()
	db := openDB(t, t.TempDir(), ttlOptions(clock))
	for i := range 100 {
		mustPut(t, db, fmt.Sprintf("k%03d", i), "v")
	}
	b := db.NewBatch()
	at := clock.Now().Add(time.Second)
	b.PutExpiresAt([]byte("a"), []byte("1"), at)
	b.PutExpiresAt([]byte("z"), []byte("1"), at)
	if err := db.Write(b); err != nil {
		t.Fatal(err)
	}
	var got []string
	first := true
	err := db.Scan(nil, nil, func(k, v []byte) bool {
		if first {
			first = false
			clock.Add(2 * time.Second)
		}
		if string(k) == "a" || string(k) == "z" {
			got = append(got, string(k))
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Errorf("the scan saw %v of a batch's keys that had not expired when it began, and expire at one instant", got)
	}
}
