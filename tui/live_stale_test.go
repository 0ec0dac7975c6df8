package tui

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
)

// listRow returns the key list's row for key on m's screen.
func listRow(m Model, key string) string {
	for _, line := range strings.Split(m.list.View(), "\n") {
		if f := strings.Fields(strings.TrimLeft(line, "▌● ")); len(f) > 0 && f[0] == key {
			return line
		}
	}
	return ""
}

// A key whose expiry another process removes stays in the list when its
// old expiry passes, one that does expire leaves it, and a value another
// process rewrites is listed with its new size: the list follows what
// that process writes (and r reloads it).
func TestLiveListFollowsOtherWritersSizesAndExpiries(t *testing.T) {
	clock := newTestClock()
	db := openClockDB(t, clock, nil)
	mustPut(t, db, "a", "short", time.Minute)
	mustPut(t, db, "b", "x", 0)
	mustPut(t, db, "c", "brief", time.Minute) // expires, as the list read
	m := New(db, Config{ReadOnly: true, Clock: clock.Now, Getenv: func(string) string { return "" },
		StatusTimeout: -1, Clipboard: io.Discard})
	t.Cleanup(m.Close)
	d := &driver{tb: t, m: m}
	d.settle(tea.WindowSizeMsg{Width: 100, Height: 30})
	d.settle(d.m.reloadKeys()())
	d.settle(statsCmd(d.m.store)())
	if row := listRow(d.m, "a"); !strings.Contains(row, expiryMarker) {
		t.Fatalf("row of a before: %q, want the expiry marker", row)
	}

	// Another writer: a no longer expires, b holds a longer value.
	if err := db.Persist([]byte("a")); err != nil {
		t.Fatal(err)
	}
	mustPut(t, db, "b", "a much longer value now", 0)
	d.settle(statsCmd(d.m.store)()) // the poll that sees the change
	clock.Advance(2 * time.Minute)
	d.settle(expiryTickMsg{})
	d.settle(statsCmd(d.m.store)()) // and a later poll

	if _, err := db.Get([]byte("a")); err != nil {
		t.Fatalf("get a: %v", err)
	}
	if !slices.Contains(d.m.list.items, "a") {
		t.Errorf("list %q lacks a, which the store holds (its expiry was removed by another writer)", d.m.list.items)
	}
	if slices.Contains(d.m.list.items, "c") {
		t.Errorf("list %q holds c, which has expired", d.m.list.items)
	}
	d.settle(keyMsg("r")) // a reload asked for
	if row := listRow(d.m, "b"); !strings.Contains(row, "23 B") {
		t.Errorf("row of b: %q, want its value's size now, 23 B", row)
	}
}

// With a filter kept, the header still counts the keys of a store another
// process writes: the list reloads the matches, and the count with them.
func TestLiveFilteredListCountsOtherWritersKeys(t *testing.T) {
	db := openTestDB(t, "", "a1", "1", "a2", "2", "b", "3")
	d := liveDriver(t, db)
	d.settle(d.m.reloadKeys()())
	d.settle(statsCmd(d.m.store)())
	d.settle(keyMsg("/"))
	d.settle(keyMsg("a"))
	for d.waitLate() && !strings.Contains(d.m.View(), "2 of 3") {
	}
	d.settle(keyMsg("enter"))
	wantScreen(t, d.m, "2 of 3")

	mustPut(t, db, "a3", "4", 0)
	mustPut(t, db, "c", "5", 0)
	mustPut(t, db, "d", "6", 0)
	d.settle(statsCmd(d.m.store)()) // the poll that sees the change
	for d.m.list.scanning && d.waitLate() {
	}
	d.settle(statsCmd(d.m.store)())
	if !slices.Contains(d.m.list.items, "a3") {
		t.Fatalf("the filtered list %q lacks a3", d.m.list.items)
	}
	if got := d.m.list.Total(); got != 6 {
		t.Errorf("header counts %d keys, the store holds 6:\n%s", got, d.m.View())
	}
}

// A value another process rewrites from binary to JSON is shown as JSON,
// as the viewer chooses for a value the user has not switched the view
// of: the hex dump was chosen for the old bytes, not by the user.
func TestLiveViewerDetectsModeOfRewrittenValue(t *testing.T) {
	db := openTestDB(t, "", "k", "\x00\x01\x02\xff")
	d := liveDriver(t, db)
	d.settle(d.m.reloadKeys()())
	d.settle(statsCmd(d.m.store)())
	if got := d.m.viewer.Mode(); got != ModeHex {
		t.Fatalf("mode of a binary value: %v, want hex", got)
	}
	mustPut(t, db, "k", `{"a":1}`, 0)
	d.settle(statsCmd(d.m.store)()) // the poll that sees the change
	if v, _ := d.m.viewer.Value(); string(v) != `{"a":1}` {
		t.Fatalf("viewer holds %q after the poll", v)
	}
	if got := d.m.viewer.Mode(); got != ModeJSON {
		t.Errorf("the rewritten JSON value is shown in mode %v (header %q), want json (auto)",
			got, strings.Split(d.m.viewer.View(), "\n")[1])
	}
}
