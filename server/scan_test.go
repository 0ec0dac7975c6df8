package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// TestScanUnderConcurrentWrites is a model test of SCAN's guarantee:
// while other clients add, overwrite and delete keys around them and the
// store compacts, every full scan returns each key present for the whole
// scan exactly once, in byte order, and no key that was never written.
func TestScanUnderConcurrentWrites(t *testing.T) {
	s, addr := startServer(t, Options{})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	const stable = 300
	stableKeys := map[string]bool{}
	for i := range stable {
		k := fmt.Sprintf("k:%04d", i*10)
		stableKeys[k] = true
		if err := c.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// The churn writes and deletes keys between and around the stable
	// ones ("k:0003" sorts between "k:0000" and "k:0010"), and compacts.
	churnKey := func(r *rand.Rand) string {
		n := r.IntN(stable * 10)
		if n%10 == 0 {
			n++
		}
		return fmt.Sprintf("k:%04d", n)
	}
	ctxChurn, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			wc := dialClient(t, addr)
			for i := 0; ctxChurn.Err() == nil && i < 1_000_000; i++ {
				var err error
				switch op := r.IntN(20); {
				case op == 0 && w == 0:
					err = s.db.Compact()
				case op < 10:
					err = wc.Set(ctxChurn, churnKey(r), "x", 0).Err()
				case op < 12:
					err = wc.MSet(ctxChurn, churnKey(r), "y", churnKey(r), "z").Err()
				default:
					err = wc.Del(ctxChurn, churnKey(r), churnKey(r)).Err()
				}
				if err != nil && ctxChurn.Err() == nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	defer func() {
		stop()
		wg.Wait()
	}()
	for scan := range 12 {
		count := []int64{1, 3, 10, 97}[scan%4]
		pattern := []string{"*", "k:*", "k:0*", "*0"}[scan%4/2*2+scan%2]
		var got []string
		var cursor uint64
		for pages := 0; ; pages++ {
			if pages > 10*stable {
				t.Fatal("scan did not end")
			}
			page, next, err := c.Scan(ctx, cursor, pattern, count).Result()
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(page)) > count {
				t.Fatalf("page of %d keys for COUNT %d", len(page), count)
			}
			got = append(got, page...)
			if cursor = next; cursor == 0 {
				break
			}
		}
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("scan %d (MATCH %s COUNT %d) not in order or repeats a key", scan, pattern, count)
		}
		returned := map[string]bool{}
		for _, k := range got {
			returned[k] = true
			if !match([]byte(pattern), []byte(k)) {
				t.Fatalf("MATCH %s returned %q", pattern, k)
			}
			var n int
			if _, err := fmt.Sscanf(k, "k:%04d", &n); err != nil || n >= stable*10 {
				t.Fatalf("scan returned %q, which was never written", k)
			}
		}
		for k := range stableKeys {
			if match([]byte(pattern), []byte(k)) && !returned[k] {
				t.Fatalf("scan %d (MATCH %s COUNT %d) missed %s, present throughout", scan, pattern, count, k)
			}
		}
	}
}

// TestScanMatchAndCount checks what one page examines: COUNT keys of the
// range the pattern's literal prefix stands for, and a cursor of 0 as soon
// as nothing is left.
func TestScanMatchAndCount(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	for _, k := range []string{"a", "user:1", "user:2", "user:3", "user:4", "user:5", "user:6", "uz", "z"} {
		if err := c.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	type page struct {
		keys []string
		more bool
	}
	scanAll := func(pattern string, count int64) []page {
		t.Helper()
		var out []page
		var cursor uint64
		for range 20 {
			keys, next, err := c.Scan(ctx, cursor, pattern, count).Result()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, page{keys, next != 0})
			if cursor = next; cursor == 0 {
				return out
			}
		}
		t.Fatal("scan did not end")
		return nil
	}
	for _, tc := range []struct {
		pattern string
		count   int64
		want    string
	}{
		// The prefix's range holds 6 keys: two full pages, and the second
		// ends the scan.
		{"user:*", 3, "[{[user:1 user:2 user:3] true} {[user:4 user:5 user:6] false}]"},
		{"user:*", 6, "[{[user:1 user:2 user:3 user:4 user:5 user:6] false}]"},
		{"user:[2-4]", 4, "[{[user:2 user:3 user:4] true} {[] false}]"},
		{"user:?", 100, "[{[user:1 user:2 user:3 user:4 user:5 user:6] false}]"},
		// No literal prefix: every key is examined, COUNT at a time.
		{"*z", 4, "[{[] true} {[uz] true} {[z] false}]"},
		{"u*", 5, "[{[user:1 user:2 user:3 user:4 user:5] true} {[user:6 uz] false}]"},
		{"nomatch:*", 10, "[{[] false}]"},
	} {
		if got := fmt.Sprint(scanAll(tc.pattern, tc.count)); got != tc.want {
			t.Errorf("SCAN MATCH %s COUNT %d: pages %s, want %s", tc.pattern, tc.count, got, tc.want)
		}
	}
	// KEYS reads the prefix's range only, and matches the rest.
	if keys, err := c.Keys(ctx, "user:[35]").Result(); err != nil || fmt.Sprint(keys) != "[user:3 user:5]" {
		t.Fatalf("KEYS user:[35] = %v, %v", keys, err)
	}
	if keys, err := c.Keys(ctx, "?z").Result(); err != nil || fmt.Sprint(keys) != "[uz]" {
		t.Fatalf("KEYS ?z = %v, %v", keys, err)
	}
}

// BenchmarkScanPage measures one SCAN page of COUNT 10 over stores of
// different sizes: with the cursor resumed by a seek, its cost stays the
// same as the store grows.
func BenchmarkScanPage(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		// The store is built once: the function b.Run calls runs again
		// for each b.N it tries.
		db, err := kv.Open(b.TempDir(), &kv.Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		for i := 0; i < n; {
			batch := db.NewBatch()
			for j := 0; j < 1000 && i < n; j, i = j+1, i+1 {
				batch.Put(fmt.Appendf(nil, "key:%08d", i), []byte("value"))
			}
			if err := db.Write(batch); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			_, addr := serveDB(b, db, Options{})
			c := dialClient(b, addr)
			ctx := testCtx(b)
			var cursor uint64
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				_, next, err := c.Scan(ctx, cursor, "", 10).Result()
				if err != nil {
					b.Fatal(err)
				}
				cursor = next
			}
		})
	}
}

// TestScanCursorOutlivesOtherScans pauses a scan while another client runs
// scans of many pages, more than any table of recent cursors would hold:
// the paused scan's cursor must still resume it, as a Redis cursor does
// (it is never forgotten there), and the scan must return every key once.
func TestScanCursorOutlivesOtherScans(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	const n = 3000
	for i := 0; i < n; i += 500 {
		var pairs []any
		for j := i; j < i+500; j++ {
			pairs = append(pairs, fmt.Sprintf("k:%05d", j), "v")
		}
		if err := c.MSet(ctx, pairs...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	keys, cur, err := c.Scan(ctx, 0, "", 100).Result()
	if err != nil || cur == 0 {
		t.Fatalf("first page: cursor %d, %v", cur, err)
	}
	other := dialClient(t, addr)
	pages := 0
	for range 3 { // 9,000 pages in all, each a cursor
		for oc := uint64(0); ; pages++ {
			_, next, err := other.Scan(ctx, oc, "", 1).Result()
			if err != nil {
				t.Fatalf("the other scan, page %d: %v", pages, err)
			}
			if oc = next; oc == 0 {
				break
			}
		}
	}
	for cur != 0 {
		var page []string
		page, cur, err = c.Scan(ctx, cur, "", 100).Result()
		if err != nil {
			t.Fatalf("the paused scan, resumed after %d pages of another: %v", pages, err)
		}
		keys = append(keys, page...)
	}
	if len(keys) != n || !slices.IsSorted(keys) || len(slices.Compact(slices.Clone(keys))) != n {
		t.Errorf("the paused scan returned %d keys (sorted %v), want %d once each", len(keys), slices.IsSorted(keys), n)
	}
}

// TestCursorTableBounds: a scan going on moves its cursor among the used,
// which keep only the newest; the cursors of scans left unfinished are
// forgotten oldest first past maxLiveCursors, and past maxCursorBytes of
// keys.
func TestCursorTableBounds(t *testing.T) {
	var tab cursorTable
	first := tab.put("a")
	next := tab.put("b")
	tab.retire(first)
	if k, ok := tab.get(first); !ok || k != "a" {
		t.Fatalf("a used cursor, asked again: %q, %v", k, ok)
	}
	for i := range maxUsedCursors {
		tab.retire(tab.put(fmt.Sprint(i)))
	}
	if _, ok := tab.get(first); ok {
		t.Errorf("a used cursor outlived %d newer used ones", maxUsedCursors)
	}
	if k, ok := tab.get(next); !ok || k != "b" {
		t.Fatalf("a live cursor after %d used ones: %q, %v", maxUsedCursors, k, ok)
	}
	for i := range maxLiveCursors - 1 {
		tab.put(fmt.Sprint(i))
	}
	if _, ok := tab.get(next); !ok {
		t.Fatalf("a live cursor forgotten among %d", maxLiveCursors)
	}
	tab.put("one more")
	if _, ok := tab.get(next); ok {
		t.Errorf("the oldest live cursor kept past %d", maxLiveCursors)
	}
	if n := len(tab.live.m); n != maxLiveCursors {
		t.Errorf("%d live cursors, want %d", n, maxLiveCursors)
	}
	if n := len(tab.live.order); n > 2*maxLiveCursors+64 {
		t.Errorf("the live cursors' order holds %d ids", n)
	}
	big := strings.Repeat("k", 60<<10)
	for range 2 * maxCursorBytes / len(big) {
		tab.put(big)
	}
	if tab.live.bytes > maxCursorBytes {
		t.Errorf("live cursors hold %d bytes of keys, over %d", tab.live.bytes, maxCursorBytes)
	}
}
