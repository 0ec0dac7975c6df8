package tui

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/crabkv/crabkv/kv"
)

// binaryValue holds every byte value, NUL and escape sequences included.
func binaryValue() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// historyDB is a store where k has four records: a binary value, a text
// value, a delete, and its current value; other keys come between them.
func historyDB(tb testing.TB) *kv.DB {
	db := openTestDB(tb, "", "a", "1")
	for _, step := range []func() error{
		func() error { return db.Put([]byte("k"), binaryValue()) },
		func() error { return db.Put([]byte("b"), []byte("2")) },
		func() error { return db.Put([]byte("k"), []byte("second")) },
		func() error { return db.Delete([]byte("k")) },
		func() error { return db.PutTTL([]byte("k"), []byte("now"), time.Hour) },
	} {
		if err := step(); err != nil {
			tb.Fatal(err)
		}
	}
	return db
}

// selectKey moves the key list's cursor to k.
func selectKey(tb testing.TB, m Model, k string) Model {
	tb.Helper()
	for range m.list.Len() {
		if sel, _ := m.list.Selected(); sel == k {
			return m
		}
		m = drive(tb, m, "j")
	}
	tb.Fatalf("key %q not in the list", k)
	return m
}

func TestHistoryListsVersions(t *testing.T) {
	db := historyDB(t)
	m := selectKey(t, loadedModel(t, db), "k")
	m = drive(t, m, "h")
	wantScreen(t, m, "History", "4 versions", "3 back", "2 back", "deleted", "latest", "current", "expires in")
	if len(m.hist.versions) != 4 || !m.hist.versions[3].Current || !m.hist.versions[2].Tombstone {
		t.Fatalf("versions: %+v", m.hist.versions)
	}
	// The latest is shown at once.
	e, err := db.Entry([]byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	wantScreen(t, m, "version at offset "+itoa(e.Offset), "current, read-only")
	if v, ok := m.hist.viewer.Value(); !ok || string(v) != "now" {
		t.Fatalf("viewer holds %q, %v", v, ok)
	}
	m = drive(t, m, "esc")
	if m.state != stateBrowse {
		t.Fatalf("state %v after esc", m.state)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestHistoryViewsOldVersionByteForByte(t *testing.T) {
	db := historyDB(t)
	m := drive(t, selectKey(t, loadedModel(t, db), "k"), "h", "g", "enter")
	v, ok := m.hist.viewer.Value()
	if !ok || !bytes.Equal(v, binaryValue()) {
		t.Fatalf("old version: %q (%v), want the 256 byte values", v, ok)
	}
	first := m.hist.versions[0]
	wantScreen(t, m, "version at offset "+itoa(first.Offset)+" · read-only", "view hex")
	if strings.Contains(m.View(), "\x1b[2J") {
		t.Fatal("a control byte of the value reached the screen")
	}
	m = drive(t, m, "j", "j", "enter") // the delete
	wantScreen(t, m, "deleted here")
	if got := getValue(t, db, "k"); got != "now" {
		t.Fatalf("viewing changed the key: %q", got)
	}
}

func TestHistoryRestore(t *testing.T) {
	db := historyDB(t)
	m := drive(t, selectKey(t, loadedModel(t, db), "k"), "h", "g", "enter", "R")
	if m.state != stateConfirmRestore || !strings.Contains(m.View(), "without an expiry") {
		t.Fatalf("state %v, screen:\n%s", m.state, m.View())
	}
	m = drive(t, m, "n")
	if got := getValue(t, db, "k"); got != "now" {
		t.Fatalf("cancelled restore wrote %q", got)
	}
	m = drive(t, m, "R", "y")
	got, err := db.Get([]byte("k"))
	if err != nil || !bytes.Equal(got, binaryValue()) {
		t.Fatalf("after restore k = %q, %v", got, err)
	}
	// The restore is without an expiry, though the value it replaced had one.
	if at, err := db.ExpiresAt([]byte("k")); err != nil || !at.IsZero() {
		t.Fatalf("restored key expires at %v, %v; want never", at, err)
	}
	wantScreen(t, m, "restored the version at offset", "5 versions")
	if last := m.hist.versions[4]; !last.Current || last.ValueSize != 256 {
		t.Fatalf("latest version after restore: %+v", last)
	}
}

func TestHistoryRestoreKeepsFutureExpiry(t *testing.T) {
	db := openTestDB(t, "", "k", "plain")
	if err := db.PutTTL([]byte("k"), []byte("expiring"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := db.Put([]byte("k"), []byte("latest")); err != nil {
		t.Fatal(err)
	}
	m := drive(t, loadedModel(t, db), "h", "k", "enter", "R")
	wantScreen(t, m, "expiring in")
	before := time.Now()
	m = drive(t, m, "y")
	wantValueOf(t, db, "k", "expiring")
	at, err := db.ExpiresAt([]byte("k"))
	if err != nil || at.Before(before.Add(50*time.Minute)) || at.After(before.Add(time.Hour)) {
		t.Fatalf("restored key expires at %v (%v); want within the hour the version had", at, err)
	}
	_ = m
}

func wantValueOf(tb testing.TB, db *kv.DB, key, want string) {
	tb.Helper()
	if got := getValue(tb, db, key); got != want {
		tb.Fatalf("%s = %q, want %q", key, got, want)
	}
}

func TestHistoryAfterCompaction(t *testing.T) {
	db := historyDB(t)
	m := drive(t, selectKey(t, loadedModel(t, db), "k"), "h")
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	m = drive(t, m, "g", "enter") // a version the compaction dropped
	wantScreen(t, m, "a compaction has dropped this version")
	m = drive(t, m, "r")
	wantScreen(t, m, "1 version", "current")
	if len(m.hist.versions) != 1 || !m.hist.versions[0].Current {
		t.Fatalf("versions after compaction: %+v", m.hist.versions)
	}
}

func TestHistoryRestoreRefusedWhileAnotherProcessWrites(t *testing.T) {
	db := historyDB(t)
	m := drive(t, selectKey(t, loadedModel(t, db), "k"), "h", "g", "enter")
	m = settleMsg(t, m, statsMsg{writing: true, writer: kv.Holder{PID: 4242, Program: "app"}})
	m = settleMsg(t, m, keyMsg("R"))
	if m.state == stateConfirmRestore || !strings.Contains(m.View(), "pid 4242") {
		t.Fatalf("restore with a writer: state %v, screen:\n%s", m.state, m.View())
	}
}

// settleMsg applies msg and what follows at once, waiting for nothing.
func settleMsg(tb testing.TB, m Model, msg any) Model {
	tb.Helper()
	d := &driver{tb: tb, m: m}
	d.settle(msg)
	return d.m
}

func TestHistoryReadOnlyCannotRestore(t *testing.T) {
	db := historyDB(t)
	m := New(db, Config{ReadOnly: true, Getenv: func(string) string { return "" }, StatusTimeout: -1, Clipboard: io.Discard})
	t.Cleanup(m.Close)
	m = drive(t, selectKey(t, sized(m, db), "k"), "h", "g", "enter", "R")
	if m.state == stateConfirmRestore || !strings.Contains(m.View(), "read-only") {
		t.Fatalf("read-only restore: state %v", m.state)
	}
}

// sized gives m a window and db's keys, as loadedModel does.
func sized(m Model, db *kv.DB) Model {
	tm, _ := m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	tm, _ = tm.Update(keysLoadedMsg{keys: db.Keys(nil)})
	return tm.(Model)
}

// noHistoryStore is a Store that keeps no readable log, as a server over
// the network.
type noHistoryStore struct{ Store }

func TestHistoryUnavailableWithoutLog(t *testing.T) {
	db := historyDB(t)
	m := NewWithStore(noHistoryStore{NewDBStore(db, nil)}, Config{Getenv: func(string) string { return "" }, StatusTimeout: -1, Clipboard: io.Discard})
	t.Cleanup(m.Close)
	m = drive(t, selectKey(t, sized(m, db), "k"), "h")
	if !errors.Is(m.hist.err, errNoHistory) {
		t.Fatalf("history error %v", m.hist.err)
	}
	wantScreen(t, m, "does not show its log", "opened from its directory")
}

// TestInspectorHistory runs the history in a test terminal: list, view the
// first version, restore it.
func TestInspectorHistory(t *testing.T) {
	db := historyDB(t)
	tm := startInspector(t, db, Config{})
	waitFor(t, tm, "3 keys")
	press(tm, "j", "j")
	waitFor(t, tm, "key k")
	press(tm, "h")
	waitFor(t, tm, "History of k", "4 versions")
	press(tm, "g", "enter")
	waitFor(t, tm, "view hex")
	press(tm, "R")
	waitFor(t, tm, "Restore the version at offset")
	press(tm, "y")
	waitFor(t, tm, "5 versions")
	press(tm, "esc")
	m := quit(t, tm)
	if got, err := db.Get([]byte("k")); err != nil || !bytes.Equal(got, binaryValue()) {
		t.Fatalf("k = %q, %v after restoring its first version", got, err)
	}
	if m.state != stateBrowse {
		t.Fatalf("state %v", m.state)
	}
}
