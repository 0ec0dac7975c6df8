package kv_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// pair is a key and its value, as a scan returns them.
type pair struct{ k, v string }

// scanAll returns what db.Scan visits in [start, end).
func scanAll(tb testing.TB, db *kv.DB, start, end []byte) []pair {
	tb.Helper()
	var got []pair
	if err := db.Scan(start, end, func(k, v []byte) bool {
		got = append(got, pair{string(k), string(v)})
		return true
	}); err != nil {
		tb.Fatalf("scan [%q, %q): %v", start, end, err)
	}
	return got
}

// refRange returns the reference's keys in [start, end), in byte order.
func refRange(ref map[string]string, start, end []byte) []pair {
	var out []pair
	for k, v := range ref {
		if (start == nil || k >= string(start)) && (end == nil || k < string(end)) {
			out = append(out, pair{k, v})
		}
	}
	slices.SortFunc(out, func(a, b pair) int { return strings.Compare(a.k, b.k) })
	return out
}

// boundaryKeys are keys at the edges of byte order: 0x00 and 0xFF bytes,
// keys that are prefixes of others, and keys that share 8 bytes.
var boundaryKeys = []string{
	"\x00", "\x00\x00", "a", "a\x00", "a\xff", "a\xff\xff", "ab", "abcdefgh", "abcdefgh\x00",
	"abcdefghi", "abcdefgi", "b", "user:1", "user:10", "user:2", "\xff", "\xff\x00", "\xff\xff", "\xff\xff\xff",
}

// boundaryBounds are range bounds before, between, at and after those
// keys, and nil.
func boundaryBounds() [][]byte {
	bs := [][]byte{nil, []byte("\x00"), []byte("0"), []byte("a"), []byte("a\x00\x00"), []byte("aa"),
		[]byte("abcdefgh"), []byte("abcdefgh\x01"), []byte("c"), []byte("user:"), []byte("user;"),
		[]byte("\xff"), []byte("\xff\xff"), []byte("\xff\xff\xff\xff"), []byte("zzz")}
	for _, k := range boundaryKeys {
		bs = append(bs, []byte(k))
	}
	return bs
}

// checkRanges compares every range of boundaryBounds, Keys of every
// prefix, and seeks, against the reference.
func checkRanges(t *testing.T, db *kv.DB, ref map[string]string) {
	t.Helper()
	bounds := boundaryBounds()
	for _, lo := range bounds {
		for _, hi := range bounds {
			got, want := scanAll(t, db, lo, hi), refRange(ref, lo, hi)
			if !slices.Equal(got, want) && (len(got) != 0 || len(want) != 0) {
				t.Fatalf("scan [%q, %q): got %q, want %q", lo, hi, got, want)
			}
		}
		var wantKeys []string
		for _, p := range refRange(ref, nil, nil) {
			if strings.HasPrefix(p.k, string(lo)) {
				wantKeys = append(wantKeys, p.k)
			}
		}
		if got := db.Keys(lo); !slices.Equal(got, wantKeys) {
			t.Fatalf("Keys(%q): got %q, want %q", lo, got, wantKeys)
		}
	}
	// An iterator that seeks at every bound reads what follows it.
	it := db.NewIterator(nil, nil)
	defer it.Close()
	for _, b := range bounds {
		it.Seek(b)
		want := refRange(ref, b, nil)
		for _, w := range want[:min(3, len(want))] {
			if !it.Next() || string(it.Key()) != w.k || string(it.Value()) != w.v {
				t.Fatalf("seek %q: want %q", b, w)
			}
		}
		if len(want) < 3 && it.Next() {
			t.Fatalf("seek %q: read %q past the last key", b, it.Key())
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
}

func (p pair) String() string { return fmt.Sprintf("%q=%q", p.k, p.v) }

// scanOpts are the configurations scans are tested under: synced and
// NoSync (whose appends go through the memory map), automatic compaction
// off so the tests decide when to compact.
var scanOpts = map[string]*kv.Options{
	"sync":   {Compaction: compact.Policy{Disabled: true}},
	"nosync": {NoSync: true, Compaction: compact.Policy{Disabled: true}},
}

// TestScanBoundaries scans an empty store, then one of boundaryKeys, over
// every pair of bounds, after writes, deletes, a compaction and a reopen.
func TestScanBoundaries(t *testing.T) {
	for name, opts := range scanOpts {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			db := openDB(t, dir, opts)
			ref := map[string]string{}
			checkRanges(t, db, ref) // empty
			for i, k := range boundaryKeys {
				mustPut(t, db, k, fmt.Sprint("v", i))
				ref[k] = fmt.Sprint("v", i)
			}
			checkRanges(t, db, ref) // all in the overlay
			if err := db.Compact(); err != nil {
				t.Fatal(err)
			}
			checkRanges(t, db, ref) // all in the run
			for i, k := range boundaryKeys {
				switch i % 3 {
				case 0:
					if err := db.Delete([]byte(k)); err != nil {
						t.Fatal(err)
					}
					delete(ref, k)
				case 1:
					mustPut(t, db, k, "new"+k)
					ref[k] = "new" + k
				}
			}
			checkRanges(t, db, ref) // run and overlay
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = openDB(t, dir, opts)
			checkRanges(t, db, ref) // from the order file
		})
	}
}

// TestScanStopsAndIterates checks that fn returning false stops a scan,
// and that an iterator's sequence and Close behave.
func TestScanStopsAndIterates(t *testing.T) {
	db := openDB(t, t.TempDir(), scanOpts["nosync"])
	for i := range 1000 {
		mustPut(t, db, key(i), value(i))
	}
	n := 0
	if err := db.Scan(nil, nil, func(k, v []byte) bool { n++; return n < 10 }); err != nil || n != 10 {
		t.Fatalf("scan stopped after %d keys (%v), want 10", n, err)
	}
	it := db.NewIterator([]byte(key(500)), []byte(key(700)))
	i := 500
	for k, v := range it.All() {
		if string(k) != key(i) || string(v) != value(i) {
			t.Fatalf("got %q=%q, want %q", k, v, key(i))
		}
		i++
	}
	if err := it.Close(); err != nil || i != 700 {
		t.Fatalf("iterated to %d (%v), want 700", i, err)
	}
	if it.Next() {
		t.Fatal("Next after Close")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Scan(nil, nil, func(k, v []byte) bool { return true }); err == nil {
		t.Fatal("scan of a closed store succeeded")
	}
}

// TestScanModel runs random puts, deletes, batches, compactions and
// reopens against a map, and compares random ranges after each step. The
// overlay is pushed past its merge threshold along the way.
func TestScanModel(t *testing.T) {
	for name, opts := range scanOpts {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(baseSeed(t), 7))
			dir := t.TempDir()
			db := openDB(t, dir, opts)
			ref := map[string]string{}
			keyOf := func() string { return fmt.Sprintf("k%05d", rng.IntN(20000)) }
			check := func(step int) {
				for range 20 {
					a, b := []byte(keyOf()), []byte(keyOf())
					if bytes.Compare(a, b) > 0 {
						a, b = b, a
					}
					if rng.IntN(5) == 0 {
						a = nil
					}
					if rng.IntN(5) == 0 {
						b = nil
					}
					if got, want := scanAll(t, db, a, b), refRange(ref, a, b); !slices.Equal(got, want) {
						t.Fatalf("step %d: scan [%q, %q): %d keys, want %d", step, a, b, len(got), len(want))
					}
				}
			}
			for step := range rounds(8, 25) {
				ops := 3000
				if !opts.NoSync {
					ops = 150 // each write waits for its sync
				}
				for range rng.IntN(ops) {
					k := keyOf()
					switch r := rng.IntN(10); {
					case r < 6:
						v := fmt.Sprint(step, rng.Uint32())
						mustPut(t, db, k, v)
						ref[k] = v
					case r < 8:
						if err := db.Delete([]byte(k)); err != nil {
							t.Fatal(err)
						}
						delete(ref, k)
					default:
						b := db.NewBatch()
						for range 5 {
							k := keyOf()
							if rng.IntN(3) == 0 {
								b.Delete([]byte(k))
								delete(ref, k)
							} else {
								b.Put([]byte(k), []byte("b"+k))
								ref[k] = "b" + k
							}
						}
						if err := db.Write(b); err != nil {
							t.Fatal(err)
						}
					}
				}
				switch rng.IntN(6) {
				case 0:
					if err := db.Compact(); err != nil {
						t.Fatal(err)
					}
				case 1:
					if err := db.Close(); err != nil {
						t.Fatal(err)
					}
					db = openDB(t, dir, opts)
				}
				check(step)
			}
			if got := db.Keys(nil); len(got) != len(ref) {
				t.Fatalf("Keys: %d, want %d", len(got), len(ref))
			}
		})
	}
}

// TestScanDuringWrites scans while writers put, delete and batch and
// compactions run. Keys no writer touches must each be seen with their
// value; every key seen must be in order and hold a value it had. Once the
// writers stop, a scan must equal the model exactly.
func TestScanDuringWrites(t *testing.T) {
	for name, opts := range scanOpts {
		t.Run(name, func(t *testing.T) {
			db := openDB(t, t.TempDir(), opts)
			const stable, volatile, writers = 3000, 2000, 3
			ref := map[string]string{}
			for i := range stable {
				k, v := fmt.Sprintf("s%05d", i), fmt.Sprint("stable", i)
				mustPut(t, db, k, v)
				ref[k] = v
			}
			var stop atomic.Bool
			var wg sync.WaitGroup
			refs := make([]map[string]string, writers) // each writer's keys
			for w := range writers {
				refs[w] = map[string]string{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(w), 1))
					keyOf := func() string { return fmt.Sprintf("v%05d", rng.IntN(volatile)*writers+w) }
					for !stop.Load() {
						k := keyOf()
						var err error
						switch rng.IntN(4) {
						case 0:
							err = db.Delete([]byte(k))
							delete(refs[w], k)
						case 1:
							b := db.NewBatch()
							for range 3 {
								kj := keyOf()
								b.Put([]byte(kj), []byte("val:"+kj))
								refs[w][kj] = "val:" + kj
							}
							err = db.Write(b)
						default:
							err = db.Put([]byte(k), []byte("val:"+k))
							refs[w][k] = "val:" + k
						}
						if err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					if err := db.Compact(); err != nil {
						t.Error(err)
						return
					}
				}
			}()
			for range rounds(10, 30) {
				var prev string
				seen := 0
				err := db.Scan(nil, nil, func(k, v []byte) bool {
					ks := string(k)
					if prev != "" && ks <= prev {
						t.Errorf("scan: %q after %q", ks, prev)
					}
					prev = ks
					if strings.HasPrefix(ks, "s") {
						seen++
						if string(v) != ref[ks] {
							t.Errorf("scan: %q=%q, want %q", ks, v, ref[ks])
						}
					} else if string(v) != "val:"+ks {
						t.Errorf("scan: %q=%q, a value it never had", ks, v)
					}
					return true
				})
				if err != nil {
					t.Fatal(err)
				}
				if seen != stable {
					t.Fatalf("scan saw %d of %d untouched keys", seen, stable)
				}
			}
			stop.Store(true)
			wg.Wait()
			for _, r := range refs {
				maps.Copy(ref, r)
			}
			if got, want := scanAll(t, db, nil, nil), refRange(ref, nil, nil); !slices.Equal(got, want) {
				t.Fatalf("after the writers: %d keys, want %d", len(got), len(want))
			}
		})
	}
}

// TestScanFollower scans a read-only follower of a writer in the same
// process, as the writer writes, deletes and compacts.
func TestScanFollower(t *testing.T) {
	dir := t.TempDir()
	w := openDB(t, dir, scanOpts["sync"])
	f := openDB(t, dir, &kv.Options{ReadOnly: true})
	ref := map[string]string{}
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 12 {
		for range 300 {
			k := fmt.Sprintf("f%04d", rng.IntN(2000))
			if rng.IntN(4) == 0 {
				if err := w.Delete([]byte(k)); err != nil {
					t.Fatal(err)
				}
				delete(ref, k)
			} else {
				mustPut(t, w, k, fmt.Sprint(round))
				ref[k] = fmt.Sprint(round)
			}
		}
		if round%3 == 2 {
			if err := w.Compact(); err != nil {
				t.Fatal(err)
			}
		}
		f.Refresh()
		if got, want := scanAll(t, f, nil, nil), refRange(ref, nil, nil); !slices.Equal(got, want) {
			t.Fatalf("round %d: follower scanned %d keys, want %d", round, len(got), len(want))
		}
		lo, hi := []byte("f0500"), []byte("f0600")
		if got, want := scanAll(t, f, lo, hi), refRange(ref, lo, hi); !slices.Equal(got, want) {
			t.Fatalf("round %d: follower range: %q, want %q", round, got, want)
		}
	}
}

// TestScanStopsAtDamagedRecord damages the value of one record of a store
// opened from its hint (so that nothing has read the record since) and
// scans up to it from several keys before it, forwards and backwards:
// every key before the damage comes back with its value, in order, and
// then an error that wraps walfmt.ErrCorrupt and names the record's
// offset.
func TestScanStopsAtDamagedRecord(t *testing.T) {
	dir := t.TempDir()
	db, err := kv.Open(dir, &kv.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	keys := make([]string, n)
	for i := range n {
		keys[i] = fmt.Sprintf("key:%04d", i)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, i := range rng.Perm(n) {
		if err := db.Put([]byte(keys[i]), []byte(strings.Repeat(string(rune('a'+i%26)), 100+i%7))); err != nil {
			t.Fatal(err)
		}
	}
	const bad = 100
	var at kv.Version
	if err := db.History([]byte(keys[bad]), func(v kv.Version) bool { at = v; return true }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	damageLog(t, dir, func(log []byte) {
		log[at.Offset+int64(at.RecordSize)-1] ^= 0x40 // the last byte of the value
	})

	db = openDB(t, dir, &kv.Options{NoSync: true})
	want := func(i int) string { return strings.Repeat(string(rune('a'+i%26)), 100+i%7) }
	check := func(what string, got []string, err error, from, step int) {
		t.Helper()
		for j, k := range got {
			if wantKey := keys[from+j*step]; k != wantKey {
				t.Fatalf("%s: key %d is %q, want %q", what, j, k, wantKey)
			}
		}
		if wantN := (bad - from) * step; len(got) != wantN {
			t.Fatalf("%s: %d keys before the error, want %d", what, len(got), wantN)
		}
		var ce *walfmt.CorruptionError
		if !errors.Is(err, walfmt.ErrCorrupt) || !errors.As(err, &ce) || ce.Offset != at.Offset {
			t.Fatalf("%s: error %v, want a corruption at offset %d", what, err, at.Offset)
		}
	}
	for d := range 7 {
		var got []string
		from := bad - d
		err := db.Scan([]byte(keys[from]), nil, func(k, v []byte) bool {
			if i := slices.Index(keys, string(k)); i < 0 || string(v) != want(i) {
				t.Fatalf("Scan: %q has a wrong value (%d bytes)", k, len(v))
			}
			got = append(got, string(k))
			return true
		})
		check(fmt.Sprintf("Scan from %d keys before", d), got, err, from, 1)

		got = got[:0]
		from = bad + d
		it := db.NewIterator(nil, []byte(keys[from]+"\x00"))
		it.SeekEnd()
		for it.Prev() {
			if i := slices.Index(keys, string(it.Key())); i < 0 || string(it.Value()) != want(i) {
				t.Fatalf("Prev: %q has a wrong value", it.Key())
			}
			got = append(got, string(it.Key()))
		}
		check(fmt.Sprintf("Prev from %d keys after", d), got, it.Close(), from, -1)
	}
}

// TestScanRecordKinds scans a store whose neighbouring keys are stored
// every way a record can be — plain puts, batch operations, values stored
// compressed, expiring puts (some expired by the time of the scan),
// values large enough to be read with pread, and keys written after the
// key order was taken (the overlay) — before and after a compaction
// writes them in key order, forwards and backwards, over random ranges.
func TestScanRecordKinds(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	dir := t.TempDir()
	opts := &kv.Options{NoSync: true, Codec: kv.S2, Clock: func() time.Time { return now },
		Compaction: compact.Policy{Disabled: true}}
	db := openDB(t, dir, opts)
	rng := rand.New(rand.NewPCG(baseSeed(t), 11))
	random := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return string(b)
	}
	ref := map[string]string{}
	expires := map[string]time.Time{}
	write := func(i int, gen string) {
		k := fmt.Sprintf("k%05d", i)
		delete(expires, k)
		var v string
		var err error
		switch i % 6 {
		case 0, 5:
			v = random(20 + rng.IntN(200))
			err = db.Put([]byte(k), []byte(v))
		case 1: // stored compressed
			v = strings.Repeat("compressible "+gen+" ", 20)
			err = db.Put([]byte(k), []byte(v))
		case 2: // expiring: half of them before the scans
			ttl := time.Hour
			if i%12 == 2 {
				ttl = time.Minute
			}
			v = random(100)
			err = db.PutTTL([]byte(k), []byte(v), ttl)
			expires[k] = now.Add(ttl)
		case 3: // a batch's operation
			v = random(100)
			b := db.NewBatch()
			b.Put([]byte(k), []byte(v))
			err = db.Write(b)
		case 4: // now and then too large for the map
			v = random(100)
			if i%60 == 4 {
				v = random(40 << 10)
			}
			err = db.Put([]byte(k), []byte(v))
		}
		if err != nil {
			t.Fatal(err)
		}
		ref[k] = v
	}
	live := func() map[string]string {
		out := map[string]string{}
		for k, v := range ref {
			if at, ok := expires[k]; !ok || at.After(now) {
				out[k] = v
			}
		}
		return out
	}
	check := func(stage string) {
		t.Helper()
		want := live()
		if got, w := scanAll(t, db, nil, nil), refRange(want, nil, nil); !slices.Equal(got, w) {
			t.Fatalf("%s: full scan: %d pairs, want %d", stage, len(got), len(w))
		}
		for range 30 {
			a, b := []byte(fmt.Sprintf("k%05d", rng.IntN(3100))), []byte(fmt.Sprintf("k%05d", rng.IntN(3100)))
			if bytes.Compare(a, b) > 0 {
				a, b = b, a
			}
			w := refRange(want, a, b)
			if got := scanAll(t, db, a, b); !slices.Equal(got, w) {
				t.Fatalf("%s: scan [%s, %s): %d pairs, want %d", stage, a, b, len(got), len(w))
			}
			var back []pair
			it := db.NewIterator(a, b)
			it.SeekEnd()
			for it.Prev() {
				back = append(back, pair{string(it.Key()), string(it.Value())})
			}
			if err := it.Close(); err != nil {
				t.Fatal(err)
			}
			slices.Reverse(back)
			if !slices.Equal(back, w) {
				t.Fatalf("%s: backwards over [%s, %s): %d pairs, want %d", stage, a, b, len(back), len(w))
			}
		}
	}
	const n = 3000
	for _, i := range rng.Perm(n) {
		write(i, "one")
	}
	scanAll(t, db, nil, nil) // the key order
	now = now.Add(10 * time.Minute)
	check("as written")
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	check("compacted")
	for range 400 {
		write(rng.IntN(n+100), "two")
	}
	for range 100 {
		k := fmt.Sprintf("k%05d", rng.IntN(n))
		if err := db.Delete([]byte(k)); err != nil {
			t.Fatal(err)
		}
		delete(ref, k)
	}
	check("with an overlay")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, dir, opts)
	check("reopened")
}

// TestScanRangeEndAtDamagedKey damages the first byte of two records'
// keys, so that one sorts after every key and the other before every key,
// in a store opened from its hint. A scan of a range that holds them meets
// a key past its end where the record lies in the key order: it must
// report the damage, not take the key for the range's end and stop
// early, dropping the keys after it without a word. So must a walk
// backwards for the key that now sorts before its start.
func TestScanRangeEndAtDamagedKey(t *testing.T) {
	dir := t.TempDir()
	db, err := kv.Open(dir, &kv.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	key := func(i int) string { return fmt.Sprintf("key:%04d", i) }
	for _, i := range rand.New(rand.NewPCG(7, 8)).Perm(n) {
		mustPut(t, db, key(i), strings.Repeat("v", 100))
	}
	scanAll(t, db, nil, nil) // the key order, saved in wal.order at Close
	offsets := map[int]int64{}
	for _, i := range []int{100, 120} {
		if err := db.History([]byte(key(i)), func(v kv.Version) bool { offsets[i] = v.Offset; return true }); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	damageLog(t, dir, func(log []byte) {
		log[offsets[100]+walfmt.RecordHeaderSize] = 0xff // "key:0100" now sorts last
		log[offsets[120]+walfmt.RecordHeaderSize] = 0x00 // "key:0120" now sorts first
	})
	db = openDB(t, dir, &kv.Options{NoSync: true})
	wantDamage := func(what string, got int, err error, wantN int, off int64) {
		t.Helper()
		var ce *walfmt.CorruptionError
		if got != wantN || !errors.As(err, &ce) || ce.Offset != off {
			t.Fatalf("%s: %d keys and %v, want %d keys and a corruption at offset %d", what, got, err, wantN, off)
		}
	}
	got := 0
	err = db.Scan([]byte(key(50)), []byte(key(150)), func(k, v []byte) bool { got++; return true })
	wantDamage("Scan", got, err, 50, offsets[100])

	it := db.NewIterator([]byte(key(110)), []byte(key(150)))
	it.SeekEnd()
	for got = 0; it.Prev(); got++ {
	}
	wantDamage("Prev", got, it.Close(), 29, offsets[120])

	// Keys skips a damaged record and reports the first it met.
	keys, err := db.CheckedKeys([]byte("key:"))
	wantDamage("CheckedKeys", len(keys), err, n-2, offsets[100])
}
