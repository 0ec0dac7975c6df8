package tui

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/crabkv/crabkv/kv"
)

// driveMsgs applies msgs to m, then every message the commands they return
// send, until none is left; the timers that repeat (stats, expiries) are
// left out.
func driveMsgs(tb testing.TB, m Model, msgs ...tea.Msg) Model {
	tb.Helper()
	queue := msgs
	for i := 0; len(queue) > 0; i++ {
		if i > 100_000 {
			tb.Fatal("the commands never settle")
		}
		msg := queue[0]
		queue = queue[1:]
		switch msg.(type) {
		case statsTickMsg, expiryTickMsg, statusExpiredMsg, nil:
			continue
		}
		tm, cmd := m.Update(msg)
		m = tm.(Model)
		queue = append(queue, runCmdWithin(cmd, 5*time.Second)...)
	}
	return m
}

// runCmdWithin is runCmd for commands that may wait up to d.
func runCmdWithin(cmd tea.Cmd, d time.Duration) []tea.Msg {
	if cmd == nil {
		return nil
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	var msg tea.Msg
	select {
	case msg = <-done:
	case <-time.After(d):
		return nil
	}
	batch, ok := msg.(tea.BatchMsg)
	if !ok {
		return []tea.Msg{msg}
	}
	var out []tea.Msg
	for _, c := range batch {
		out = append(out, runCmdWithin(c, d)...)
	}
	return out
}

// windowStore opens a store of n keys, "k00000" on, more than a window
// holds, and returns it with its sorted keys.
func windowStore(tb testing.TB, n int, name func(i int) string) (*kv.DB, []string) {
	tb.Helper()
	db := openTestDB(tb, "")
	b := db.NewBatch()
	keys := make([]string, n)
	for i := range n {
		keys[i] = name(i)
		b.Put([]byte(keys[i]), []byte("v"))
	}
	if err := db.Write(b); err != nil {
		tb.Fatal(err)
	}
	slices.Sort(keys)
	return db, keys
}

func numbered(i int) string { return fmt.Sprintf("k%05d", i) }

// selected returns the key under m's cursor.
func selected(m Model) string {
	k, _ := m.list.Selected()
	return k
}

// TestKeyListWindowWalksTheStore moves through a store of more keys than
// a window holds, a page and a key at a time both ways, and jumps to both
// ends: the cursor is always on the key at its place in the sorted keys,
// and the window stays bounded.
func TestKeyListWindowWalksTheStore(t *testing.T) {
	db, keys := windowStore(t, 3*winMax+17, numbered)
	m := loadedModel(t, db)
	if !m.list.windowed() || len(m.list.items) != m.list.jumpLoad() {
		t.Fatalf("first read holds %d keys (windowed %v), want %d", len(m.list.items), m.list.windowed(), m.list.jumpLoad())
	}
	if !strings.Contains(m.View(), groupDigits(len(keys))+" keys") {
		t.Fatalf("title does not count %d keys:\n%s", len(keys), m.View())
	}
	rows := m.list.rows()
	at := 0
	check := func(what string) {
		t.Helper()
		if got := selected(m); got != keys[at] {
			t.Fatalf("%s: on %q, want %q (index %d)", what, got, keys[at], at)
		}
		if n := len(m.list.items); n > winMax+winLoad {
			t.Fatalf("%s: window of %d keys", what, n)
		}
		if v := m.list.Visible(); !slices.Equal(v, keys[at-m.list.cursor+m.list.offset:][:len(v)]) {
			t.Fatalf("%s: rows %q are not the keys in order", what, v)
		}
	}
	for at+rows < len(keys) {
		m = driveMsgs(t, m, keyMsg("pgdown"))
		at += rows
		check("page down")
	}
	m = driveMsgs(t, m, keyMsg("pgdown"))
	at = len(keys) - 1
	check("page down at the end")
	for range 2*winMax + 5 {
		m = driveMsgs(t, m, keyMsg("k"))
		at--
	}
	check("up")
	m = driveMsgs(t, m, keyMsg("g"))
	at = 0
	check("top")
	m = driveMsgs(t, m, keyMsg("G"))
	at = len(keys) - 1
	check("bottom")
	for range 3 * winMax / rows {
		m = driveMsgs(t, m, keyMsg("pgup"))
		at -= rows
	}
	check("page up")
	for range winMax + 3 {
		m = driveMsgs(t, m, keyMsg("j"))
		at++
	}
	check("down")
}

// TestKeyListWindowEdits creates and deletes keys inside and outside the
// window: the window shows them at their place, selects a created key
// read from outside it, and counts the store's keys.
func TestKeyListWindowEdits(t *testing.T) {
	db, keys := windowStore(t, 2*winMax, numbered)
	m := loadedModel(t, db)
	s := NewDBStore(db, nil)
	m = driveMsgs(t, m, putCmd(s, "k00003x", []byte("new"), KeepTTL)())
	if got := selected(m); got != "k00003x" || !strings.Contains(m.View(), groupDigits(len(keys)+1)+" keys") {
		t.Fatalf("after creating a key in the window: on %q\n%s", got, m.View())
	}
	far := numbered(2*winMax-3) + "x" // past the window
	m = driveMsgs(t, m, putCmd(s, far, []byte("new"), KeepTTL)())
	if got := selected(m); got != far {
		t.Fatalf("after creating a key past the window: on %q, want %q", got, far)
	}
	if i := slices.Index(m.list.items, far); i < 0 || m.list.items[i-1] != numbered(2*winMax-3) || m.list.items[i+1] != numbered(2*winMax-2) {
		t.Fatalf("the key past the window is not among its neighbours: %q", m.list.items)
	}
	m = driveMsgs(t, m, deleteCmd(s, far)())
	if got := selected(m); got != numbered(2*winMax-2) {
		t.Fatalf("after deleting the selected key: on %q", got)
	}
	if !strings.Contains(m.View(), groupDigits(len(keys)+1)+" keys") {
		t.Fatalf("count after a create and a delete:\n%s", m.View())
	}
}

// TestQueryRanges checks which filters read ranges and which ranges.
func TestQueryRanges(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  []keyRange
		ok    bool
	}{
		{"", everyKey, true},
		{"^User", []keyRange{{"User", "Uses"}}, true},
		{"^42", []keyRange{{"42", "43"}}, true},
		{"^a-", []keyRange{{"A-", "A."}, {"a-", "a."}}, true},
		{"^a\xff", nil, false}, // not UTF-8: matched by a scan, as before
		{"^ab", []keyRange{{"AB", "AC"}, {"Ab", "Ac"}, {"aB", "aC"}, {"ab", "ac"}}, true},
		{"^\xff\xff", []keyRange{{lo: "\xff\xff"}}, true},
		{"^abcdefg", nil, false}, // 128 spellings
		{"^é", nil, false},
		{"user", nil, false},
	} {
		got, ok := queryRanges(tc.query)
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("queryRanges(%q) = %q, %v; want %q, %v", tc.query, got, ok, tc.want, tc.ok)
		}
	}
}

// filterTo types query into the filter and lets its debounce end.
func filterTo(tb testing.TB, m Model, query string) Model {
	tb.Helper()
	m = driveMsgs(tb, m, keyMsg("/"))
	for _, r := range query {
		m = driveMsgs(tb, m, keyMsg(string(r)))
	}
	return driveMsgs(tb, m, filterTickMsg{seq: m.list.seq})
}

// walkShown pages through the whole filtered list and returns its keys.
func walkShown(tb testing.TB, m Model) []string {
	tb.Helper()
	m = driveMsgs(tb, m, keyMsg("enter"))
	var out []string
	for {
		v := m.list.Visible()
		for _, k := range v {
			if len(out) == 0 || k > out[len(out)-1] {
				out = append(out, k)
			}
		}
		if len(v) == 0 || v[len(v)-1] == selected(driveMsgs(tb, m, keyMsg("G"))) {
			return out
		}
		m = driveMsgs(tb, m, keyMsg("pgdown"))
	}
}

// TestKeyListPrefixFilterWindow filters a store of mixed-case keys with
// ^prefixes, exact and case-blind: the list shows, a window at a time,
// exactly the keys FilterKeys keeps.
func TestKeyListPrefixFilterWindow(t *testing.T) {
	name := func(i int) string {
		return fmt.Sprintf("%s:%05d", []string{"user", "User", "USER", "uSer", "usex", "item"}[i%6], i)
	}
	db, keys := windowStore(t, 3*winMax, name)
	for _, q := range []string{"^User", "^user", "^us", "^item:0001", "^zzz"} {
		m := filterTo(t, loadedModel(t, db), q)
		if !m.list.windowed() {
			t.Fatalf("%s: filtered by a scan, not a window", q)
		}
		if got, want := walkShown(t, m), FilterKeys(keys, q); !slices.Equal(got, want) {
			t.Fatalf("%s: shows %d keys, want %d", q, len(got), len(want))
		}
	}
}

// TestKeyListStreamedFilter filters by a substring, in chunks: the first
// chunk's matches show with the scan's progress, a later keystroke drops
// the chunks of the query before it, and the matches end up those
// FilterKeys keeps, in order.
func TestKeyListStreamedFilter(t *testing.T) {
	defer func(n int) { scanChunkKeys = n }(scanChunkKeys)
	scanChunkKeys = 500
	db, keys := windowStore(t, 3000, numbered)
	m := loadedModel(t, db)
	m = driveMsgs(t, m, keyMsg("/"), keyMsg("7"))
	tm, cmd := m.Update(filterTickMsg{seq: m.list.seq})
	m = tm.(Model)
	chunk := runCmdWithin(cmd, 5*time.Second)
	tm, _ = m.Update(chunk[0]) // the first chunk only: its next is dropped
	m = tm.(Model)
	if !m.list.scanning || !strings.Contains(m.list.View(), "%") {
		t.Fatalf("no progress shown while the scan runs (scanning %v):\n%s", m.list.scanning, m.list.View())
	}
	if got, want := m.list.items, FilterKeys(keys[:500], "7"); !slices.Equal(got, want) {
		t.Fatalf("first chunk shows %q, want %q", got, want)
	}
	tm, next := m.Update(keyMsg("7")) // "77": the scan for "7" stops
	m = tm.(Model)
	for _, msg := range runCmdWithin(next, 5*time.Second) {
		if _, ok := msg.(filterChunkMsg); ok {
			t.Fatal("a keystroke let the old scan go on")
		}
	}
	m = driveMsgs(t, m, filterTickMsg{seq: m.list.seq})
	if m.list.scanning || m.list.Query() != "77" {
		t.Fatalf("scan for %q still running (%v)", m.list.Query(), m.list.scanning)
	}
	if got, want := m.list.items, FilterKeys(keys, "77"); !slices.Equal(got, want) {
		t.Fatalf("shows %d keys, want %d", len(got), len(want))
	}
	if !strings.Contains(m.list.View(), groupDigits(len(FilterKeys(keys, "77")))+" of 3,000") {
		t.Fatalf("header:\n%s", m.list.View())
	}
	m = driveMsgs(t, m, keyMsg("esc"))
	if !m.list.windowed() || m.list.Query() != "" {
		t.Fatalf("esc left the filter %q (windowed %v)", m.list.Query(), m.list.windowed())
	}
}

// TestKeyListEscDropsFilterRead checks that esc, pressed while a
// ^prefix filter's read is under way, is not undone by the read.
func TestKeyListEscDropsFilterRead(t *testing.T) {
	db, keys := windowStore(t, 100, numbered)
	l := loadedModel(t, db).list
	for _, k := range []string{"/", "^", "k", "0", "0", "5"} {
		l, _ = l.Update(keyMsg(k))
	}
	l, read := l.Update(filterTickMsg{seq: l.seq})
	l, back := l.Update(keyMsg("esc"))
	l, _ = l.Update(read())
	if l.Query() != "" {
		t.Fatalf("after esc: filter %q", l.Query())
	}
	if back != nil { // the matches were never shown: nothing to read back
		l, _ = l.Update(back())
	}
	if l.Query() != "" || !slices.Equal(l.items, keys) {
		t.Fatalf("after esc: filter %q, %d keys shown", l.Query(), len(l.items))
	}
}

// TestStreamedFilterChunksResumeExactly reads a streamed filter to its end
// with chunks of many sizes, some of which end where the store's iterator
// refills its buffer of keys: each chunk must start right after the key
// the one before it ended on, whatever the store has done with the bytes
// of that key since.
func TestStreamedFilterChunksResumeExactly(t *testing.T) {
	defer func(n int) { scanChunkKeys = n }(scanChunkKeys)
	db, keys := windowStore(t, 1000, numbered)
	src := loadedModel(t, db).list.src
	want := FilterKeys(keys, "0")
	for _, size := range []int{1, 97, 128, 240, 256, 500, 512, 999, 1000} {
		scanChunkKeys = size
		var got []string
		from, scanned := "", 0
		for range 2000 { // 1,000 keys take at most 1,001 chunks
			msg := filterChunkCmd(src, 1, "0", from, scanned)().(filterChunkMsg)
			if msg.err != nil {
				t.Fatal(msg.err)
			}
			got = append(got, msg.matches...)
			from, scanned = msg.next, msg.scanned
			if msg.done {
				break
			}
		}
		if !slices.Equal(got, want) || scanned != len(keys) {
			t.Fatalf("chunks of %d: %d matches of %d keys read, want %d of %d", size, len(got), scanned, len(want), len(keys))
		}
	}
}

// TestShownActionsWaitForStreamedFilter presses D, a and x while a
// substring filter is still reading the store: each acts on every key the
// filter lets through, so none may act on the matches found so far. They
// say the filter is still searching, and work once it is done.
func TestShownActionsWaitForStreamedFilter(t *testing.T) {
	defer func(n int) { scanChunkKeys = n }(scanChunkKeys)
	scanChunkKeys = 500
	db, keys := windowStore(t, 3000, numbered)
	m := loadedModel(t, db)
	m = driveMsgs(t, m, keyMsg("/"), keyMsg("7"))
	tm, cmd := m.Update(filterTickMsg{seq: m.list.seq})
	m = tm.(Model)
	chunk := runCmdWithin(cmd, 5*time.Second)
	tm, _ = m.Update(chunk[0]) // the first chunk only
	m = tm.(Model)
	m = update(t, m, keyMsg("enter"))
	if !m.list.scanning || m.list.Filtering() {
		t.Fatalf("want the filter applied and still scanning (scanning %v, filtering %v)", m.list.scanning, m.list.Filtering())
	}
	for _, k := range []string{"D", "a", "x"} {
		m = update(t, m, keyMsg(k))
		if m.pendingDeleteShown != nil || m.list.MarkedCount() != 0 || m.exportKeys != nil || m.state != stateBrowse {
			t.Fatalf("%s acted on the %d matches found so far (state %v, marked %d, to export %d)",
				k, len(m.list.items), m.state, m.list.MarkedCount(), len(m.exportKeys))
		}
		if !strings.Contains(m.status.text, "still searching") {
			t.Fatalf("%s: status %q does not say the filter is still searching", k, m.status.text)
		}
	}
	m = driveMsgs(t, m, filterTickMsg{seq: m.list.seq})
	for m.list.scanning {
		next := filterChunkCmd(m.list.src, m.list.seq, m.list.Query(), m.list.scanFrom, m.list.scanned)()
		m = update(t, m, next)
	}
	m = update(t, m, keyMsg("a"))
	if got, want := m.list.MarkedCount(), len(FilterKeys(keys, "7")); got != want {
		t.Fatalf("a marked %d keys once the filter was done, want %d", got, want)
	}
}

// TestShownKeysReadOffTheUIGoroutine presses a on a window of a store
// larger than it holds: the keys are read by a command, not by the key
// press, and all of them get marked; keys read for a filter that has
// changed since are dropped.
func TestShownKeysReadOffTheUIGoroutine(t *testing.T) {
	db, keys := windowStore(t, 3*winMax, numbered)
	m := loadedModel(t, db)
	if _, held := m.list.shownHeld(); held {
		t.Fatal("the window holds every key")
	}
	tm, cmd := m.Update(keyMsg("a"))
	m = tm.(Model)
	if m.list.MarkedCount() != 0 || cmd == nil {
		t.Fatalf("a read the keys on the key press (marked %d, command %v)", m.list.MarkedCount(), cmd != nil)
	}
	msgs := runCmdWithin(cmd, 5*time.Second)
	m = update(t, m, msgs[0])
	if got := m.list.Marked(); !slices.Equal(got, keys) {
		t.Fatalf("a marked %d keys, want all %d", len(got), len(keys))
	}

	m = update(t, m, keyMsg("u"))
	tm, cmd = m.Update(keyMsg("a"))
	m = driveMsgs(t, tm.(Model), keyMsg("/"), keyMsg("^"), keyMsg("z"))
	m = update(t, m, filterTickMsg{seq: m.list.seq})
	m = update(t, m, runCmdWithin(cmd, 5*time.Second)[0])
	if m.list.MarkedCount() != 0 || !strings.Contains(m.status.text, "filter changed") {
		t.Fatalf("keys read for the old filter were marked (%d, status %q)", m.list.MarkedCount(), m.status.text)
	}
}
