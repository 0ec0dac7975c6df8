package tui

import (
	"bytes"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crabkv/crabkv/internal/ndjson"
	"github.com/crabkv/crabkv/kv"
)

// testClock is a clock that moves only when told: the store's
// (kv.Options.Clock) and the inspector's (Config.Clock) both read it.
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// openClockDB opens a store in a fresh directory on clock, writing with
// codec.
func openClockDB(tb testing.TB, clock *testClock, codec kv.Codec) *kv.DB {
	tb.Helper()
	db, err := kv.Open(tb.TempDir(), &kv.Options{NoSync: true, Clock: clock.Now, Codec: codec})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Error(err)
		}
	})
	return db
}

func mustPut(tb testing.TB, db *kv.DB, k, v string, ttl time.Duration) {
	tb.Helper()
	var err error
	if ttl > 0 {
		err = db.PutTTL([]byte(k), []byte(v), ttl)
	} else {
		err = db.Put([]byte(k), []byte(v))
	}
	if err != nil {
		tb.Fatal(err)
	}
}

// The viewer counts down the expiry of the key shown, the list marks the
// keys that expire, and a key leaves the list when it expires.
func TestInspectorCountsDownAndDropsExpiringKey(t *testing.T) {
	clock := newTestClock()
	db := openClockDB(t, clock, nil)
	mustPut(t, db, "plain", "forever", 0)
	mustPut(t, db, "session", "short-lived", 5*time.Minute)
	tm := startInspector(t, db, Config{Clock: clock.Now})
	waitFor(t, tm, "2 keys")
	press(tm, "j")
	waitFor(t, tm, "expires in 5m00s", expiryMarker)

	clock.Advance(3*time.Minute + 30*time.Second)
	waitFor(t, tm, "expires in 1m30s") // only the tick redraws it

	clock.Advance(2 * time.Minute)
	waitFor(t, tm, "key plain") // the viewer moved on: session is gone
	m := quit(t, tm)
	if got := mustShown(t, m.list); len(got) != 1 || got[0] != "plain" {
		t.Errorf("list after expiry: %q, want [plain]", got)
	}
	if k := m.viewer.Key(); k != "plain" {
		t.Errorf("viewer shows %q after its key expired, want the next key", k)
	}
	if m.viewer.Expires() != (time.Time{}) {
		t.Errorf("viewer reports an expiry for a key that has none")
	}
	if strings.Contains(m.View(), expiryMarker) {
		t.Errorf("a key without expiry is marked:\n%s", m.View())
	}
	if strings.Contains(m.View(), "expires in") {
		t.Errorf("header of a key without expiry shows one:\n%s", m.View())
	}
}

// Only the rows of keys that expire carry the marker.
func TestKeyListMarksOnlyExpiringKeys(t *testing.T) {
	l := newTestList([]string{"a", "b", "c"}, 40, 10)
	now := time.Now()
	l.SetSizes(map[string]int{"a": 1, "b": 2, "c": 3})
	l.SetExpiries(map[string]time.Time{"a": {}, "b": now.Add(time.Minute), "c": {}})
	var marked []string
	for _, line := range strings.Split(l.View(), "\n") {
		if strings.Contains(line, expiryMarker) {
			marked = append(marked, strings.TrimSpace(line))
		}
	}
	if len(marked) != 1 || !strings.Contains(marked[0], "b") {
		t.Errorf("marked rows %q, want only b's", marked)
	}
	if got := l.Expired(now); len(got) != 0 {
		t.Errorf("expired before time: %q", got)
	}
	if got := l.Expired(now.Add(time.Minute)); len(got) != 1 || got[0] != "b" {
		t.Errorf("expired at b's expiry: %q, want [b]", got)
	}
}

// A value stored compressed shows its codec, both sizes and the ratio.
func TestViewerHeaderShowsCodecAndRatio(t *testing.T) {
	clock := newTestClock()
	db := openClockDB(t, clock, kv.Zstd)
	value := strings.Repeat(`{"name":"crab","legs":10}`, 40) // 1,000 bytes
	mustPut(t, db, "doc", value, 0)
	e, err := db.Entry([]byte("doc"))
	if err != nil || e.Codec != "zstd" || e.StoredValueSize >= e.ValueSize {
		t.Fatalf("setup: entry %+v, %v: want a zstd value", e, err)
	}
	tm := startInspector(t, db, Config{Clock: clock.Now})
	waitFor(t, tm, "zstd ")
	m := quit(t, tm)
	header := m.viewer.headerView()
	want := "zstd " + FormatBytes(1000) + "→" + FormatBytes(int64(e.StoredValueSize))
	if !strings.Contains(header, want) || !strings.Contains(header, "×") {
		t.Errorf("header %q lacks %q and a ratio", header, want)
	}
}

func TestFormatRemaining(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Millisecond:                       "1s",
		45 * time.Second:                       "45s",
		4*time.Minute + 12*time.Second:         "4m12s",
		4*time.Minute + 11500*time.Millisecond: "4m12s",
		2*time.Hour + 5*time.Minute:            "2h05m",
		76 * time.Hour:                         "3d04h",
		0:                                      "0s",
	} {
		if got := FormatRemaining(d); got != want {
			t.Errorf("FormatRemaining(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestParseTTL(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"": KeepTTL, "  ": KeepTTL, "0": NoTTL, "none": NoTTL, "None": NoTTL, "0s": NoTTL,
		"90s": 90 * time.Second, " 10m ": 10 * time.Minute, "1h30m": 90 * time.Minute,
	} {
		if got, err := ParseTTL(in); err != nil || got != want {
			t.Errorf("ParseTTL(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, words := range map[string]string{
		"two": "not a duration", "-5s": "negative", "10": "not a duration", "5us": "under a millisecond",
	} {
		if _, err := ParseTTL(in); err == nil || !strings.Contains(err.Error(), words) {
			t.Errorf("ParseTTL(%q) error %v, want one saying %q", in, err, words)
		}
	}
}

// The form sets a TTL on a new key, keeps an edited key's expiry when its
// field is left empty, clears it with "none", and refuses a bad one
// without writing.
func TestFormSetsKeepsAndClearsTTL(t *testing.T) {
	clock := newTestClock()
	db := openClockDB(t, clock, nil)
	mustPut(t, db, "a", "one", 0)
	tm := startInspector(t, db, Config{Clock: clock.Now})
	waitFor(t, tm, "1 key")

	// New key with a TTL.
	press(tm, "n")
	waitFor(t, tm, "New key")
	typeText(tm, "b")
	press(tm, "tab")
	typeText(tm, "two")
	press(tm, "tab")
	typeText(tm, "90s")
	press(tm, "ctrl+s")
	waitFor(t, tm, "created b", "expires in 1m30s")
	if ttl, err := db.TTL([]byte("b")); err != nil || ttl != 90*time.Second {
		t.Fatalf("TTL of the new key: %v, %v; want 90s", ttl, err)
	}
	at, _ := db.ExpiresAt([]byte("b"))

	// Edit, the TTL left empty: the expiry stays.
	press(tm, "e")
	waitFor(t, tm, "Edit b", "keep: expires in 1m30s")
	typeText(tm, "X")
	press(tm, "ctrl+s")
	waitFor(t, tm, "saved b")
	if got := getValue(t, db, "b"); got != "Xtwo" {
		t.Fatalf("edited value %q", got)
	}
	if got, err := db.ExpiresAt([]byte("b")); err != nil || !got.Equal(at) {
		t.Fatalf("expiry after an edit that left it: %v, %v; want %v", got, err, at)
	}

	// A bad TTL: nothing written, the form stays.
	press(tm, "e")
	waitFor(t, tm, "Edit b")
	typeText(tm, "Y")
	press(tm, "tab")
	typeText(tm, "soon")
	press(tm, "ctrl+s")
	waitFor(t, tm, `TTL "soon" is not a duration`)
	if got := getValue(t, db, "b"); got != "Xtwo" {
		t.Fatalf("a form with a bad TTL wrote %q", got)
	}

	// "none" clears the expiry and keeps the value's bytes.
	for range len("soon") {
		press(tm, "backspace")
	}
	typeText(tm, "none")
	press(tm, "ctrl+s")
	waitFor(t, tm, "saved b")
	quit(t, tm)
	if ttl, err := db.TTL([]byte("b")); err != nil || ttl != kv.NoExpiry {
		t.Fatalf("TTL after none: %v, %v; want no expiry", ttl, err)
	}
	if got := getValue(t, db, "b"); got != "YXtwo" {
		t.Fatalf("value after clearing the TTL %q", got)
	}
}

// The export writes expires_at, in Unix milliseconds as crabkv export
// does, for the keys that expire, and nothing more for the others.
func TestExportWritesExpiresAt(t *testing.T) {
	clock := newTestClock()
	db := openClockDB(t, clock, nil)
	mustPut(t, db, "plain", "1", 0)
	mustPut(t, db, "session", "2", time.Hour)
	dir := t.TempDir()
	tmp, n, err := writeExport(NewDBStore(db, nil), []string{"plain", "session"}, dir)
	if err != nil || n != 2 {
		t.Fatalf("export: %d keys, %v", n, err)
	}
	got, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatal(err)
	}
	want := ndjson.AppendPair(nil, []byte("plain"), []byte("1"))
	want = append(want, ndjson.AppendExpiresAt(ndjson.AppendPair(nil, []byte("session"), []byte("2")), clock.Now().Add(time.Hour))...)
	if !bytes.Equal(got, want) {
		t.Fatalf("exported:\n%s\nwant:\n%s", got, want)
	}
	lines := bytes.SplitAfter(got, []byte("\n"))
	_, _, at, err := ndjson.ParsePair(bytes.TrimSpace(lines[1]))
	if err != nil || !at.Equal(clock.Now().Add(time.Hour)) {
		t.Fatalf("expires_at reads back as %v, %v", at, err)
	}
}
