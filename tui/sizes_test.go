package tui

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// rowKeys lists the keys of rows, "key:size" each.
func rowKeys(rows []findRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s:%d", r.key, r.size))
	}
	return out
}

// The heap keeps the n largest; among equal sizes the first keys in byte
// order, whatever order they come in.
func TestTopSizesOrderAndTies(t *testing.T) {
	offers := []findRow{{key: "a", size: 5}, {key: "b", size: 9}, {key: "c", size: 5}, {key: "d", size: 9},
		{key: "e", size: 1}, {key: "f", size: 9}, {key: "g", size: 0}, {key: "h", size: 12}}
	for _, tc := range []struct {
		n    int
		want []string
	}{
		{1, []string{"h:12"}},
		{3, []string{"h:12", "b:9", "d:9"}},
		{5, []string{"h:12", "b:9", "d:9", "f:9", "a:5"}},
		{20, []string{"h:12", "b:9", "d:9", "f:9", "a:5", "c:5", "e:1", "g:0"}},
	} {
		for _, order := range [][]findRow{offers, reversed(offers)} {
			top := newTopSizes(tc.n)
			for _, o := range order {
				top.offer([]byte(o.key), o.size)
			}
			if got := rowKeys(top.sorted()); !slices.Equal(got, tc.want) {
				t.Errorf("top %d: %q, want %q", tc.n, got, tc.want)
			}
		}
	}
}

func reversed(rows []findRow) []findRow {
	out := slices.Clone(rows)
	slices.Reverse(out)
	return out
}

func TestSizeSummaryCounts(t *testing.T) {
	s := newSizeSummary()
	exp := time.Unix(1e9, 0)
	for _, info := range []ValueInfo{
		{ValueSize: 0, Codec: "raw"},
		{ValueSize: 1, Codec: "raw", StoredSize: 1},
		{ValueSize: 1000, Codec: "zstd", StoredSize: 100, Expires: exp},
		{ValueSize: 1024, Codec: "raw", StoredSize: 1024},
		{ValueSize: 5000, Codec: "s2", StoredSize: 800, Expires: exp},
	} {
		s.add(info)
	}
	if s.keys != 5 || s.total != 7025 || s.expiring != 2 || s.encoded() != 2 || s.smallest != 0 || s.stored != 1925 {
		t.Errorf("summary %+v", s)
	}
	// Buckets: 0 → empty, 1 → [1,2), 1000 → [512,1024), 1024 → [1024,2048), 5000 → [4096,8192).
	want := map[int]int{0: 1, 1: 1, 10: 1, 11: 1, 13: 1}
	for i, n := range s.hist {
		if n != want[i] {
			t.Errorf("hist[%d] = %d, want %d", i, n, want[i])
		}
	}
}

// sizePairs is a store's pairs with values of the given sizes.
func sizedPairs(sizes map[string]int) []string {
	var pairs []string
	for _, k := range slices.Sorted(mapsKeys(sizes)) {
		pairs = append(pairs, k, strings.Repeat("v", sizes[k]))
	}
	return pairs
}

func mapsKeys(m map[string]int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// s lists the keys by value size, largest first and ties in key order;
// deleting a listed key takes it out and shows the next.
func TestInspectorSizeViewOrdersAndFollowsDeletes(t *testing.T) {
	db := openTestDB(t, "", sizedPairs(map[string]int{
		"alpha": 300, "bravo": 5000, "charlie": 300, "delta": 12, "echo": 5000, "foxtrot": 0,
	})...)
	tm := startInspector(t, db, Config{})
	waitFor(t, tm, "6 keys")
	press(tm, "s")
	waitFor(t, tm, "ranked 6 keys by value size", "key bravo")
	press(tm, "d")
	waitFor(t, tm, "delete bravo? y/n")
	press(tm, "y")
	waitFor(t, tm, "deleted bravo", "key echo")
	m := quit(t, tm)
	want := []string{"echo:5000", "alpha:300", "charlie:300", "delta:12", "foxtrot:0"}
	if got := rowKeys(m.find.rows); !slices.Equal(got, want) {
		t.Errorf("size view after deleting bravo: %q, want %q", got, want)
	}
	if r, _ := m.find.Selected(); r.key != "echo" {
		t.Errorf("selected %q after the delete, want echo", r.key)
	}
	if slices.ContainsFunc(m.find.summary.biggest, func(r findRow) bool { return r.key == "bravo" }) {
		t.Errorf("the summary still names bravo")
	}
	if _, err := db.Get([]byte("bravo")); err == nil {
		t.Errorf("bravo is still in the store")
	}
}

// A listed key that expires leaves the size view, as it leaves the list.
func TestInspectorSizeViewDropsExpiredKey(t *testing.T) {
	clock := newTestClock()
	db := openClockDB(t, clock, nil)
	mustPut(t, db, "big", strings.Repeat("b", 4000), time.Minute)
	mustPut(t, db, "mid", strings.Repeat("m", 400), 0)
	mustPut(t, db, "small", "s", 0)
	tm := startInspector(t, db, Config{Clock: clock.Now})
	waitFor(t, tm, "3 keys")
	press(tm, "s")
	waitFor(t, tm, "ranked 3 keys", "key big", "expires in 1m00s")
	clock.Advance(2 * time.Minute)
	waitFor(t, tm, "key mid")
	m := quit(t, tm)
	if got := rowKeys(m.find.rows); !slices.Equal(got, []string{"mid:400", "small:1"}) {
		t.Errorf("size view after big expired: %q", got)
	}
}

// S shows the summary: counts, bytes, expiring and encoded keys, the
// largest keys and the histogram.
func TestInspectorSizeSummary(t *testing.T) {
	clock := newTestClock()
	db := openClockDB(t, clock, kv.Zstd)
	mustPut(t, db, "doc", strings.Repeat(`{"name":"crab"}`, 100), time.Hour) // 1,500 bytes, compresses
	mustPut(t, db, "tiny", "x", 0)
	mustPut(t, db, "empty", "", 0)
	for i := range 5 {
		mustPut(t, db, fmt.Sprintf("n%d", i), fmt.Sprintf("%03d", i), 0)
	}
	tm := startInspector(t, db, Config{Clock: clock.Now})
	waitFor(t, tm, "8 keys")
	press(tm, "S")
	waitFor(t, tm, "ranked 8 keys")
	m := quit(t, tm)
	view := m.View()
	for _, want := range []string{
		"Summary", "keys      8",
		"values    " + FormatBytes(1519) + " total · 189 B average",
		"sizes     0 B smallest · 1.5 KiB largest",
		"expiring  1 key (12.5%)", "encoded   1 key (12.5%) · zstd 1",
		"Largest 5", "1.5 KiB  doc",
		"empty           1", "< 2B           1", "< 4B           5", "< 2.0K           1",
	} {
		if !strings.Contains(view, want) {
			t.Errorf("summary lacks %q:\n%s", want, view)
		}
	}
	m = pressModel(t, m, "S")
	if strings.Contains(m.View(), "expiring") || !strings.Contains(m.View(), "key doc") {
		t.Errorf("S again did not bring the viewer back")
	}
}
