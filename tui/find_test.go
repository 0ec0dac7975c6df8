package tui

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/crabkv/crabkv/kv"
)

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		err  string
	}{
		{in: "needle", want: "needle"},
		{in: `\x00\xff`, want: "\x00\xff"},
		{in: `\X`, err: `unknown escape \X`},
		{in: `a\x1Bb`, want: "a\x1bb"},
		{in: `tab\there\n\r\0`, want: "tab\there\n\r\x00"},
		{in: `C:\\dir`, want: `C:\dir`},
		{in: `\x4`, err: "two hex digits"},
		{in: `\xzz`, err: "two hex digits"},
		{in: `end\`, err: `lone \`},
		{in: `\q`, err: `unknown escape \q`},
		{in: "", err: "type something"},
		{in: "héllo", want: "héllo"},
	} {
		got, err := ParseQuery(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseQuery(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.err)
		case tc.err == "" && (err != nil || string(got) != tc.want):
			t.Errorf("ParseQuery(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// A value read in windows is found across a window's edge, and no read
// is larger than a window and the query's overlap.
func TestFindInWindows(t *testing.T) {
	q := []byte("needle")
	for _, at := range []int{0, searchWindow - 3, searchWindow - len(q), searchWindow, 3*searchWindow + 1, 4*searchWindow - len(q)} {
		v := make([]byte, 4*searchWindow)
		copy(v[at:], q)
		largest := 0
		src := valueSource{size: len(v), readAt: func(p []byte, off int64) (int, error) {
			largest = max(largest, len(p))
			return copy(p, v[off:]), nil
		}}
		var buf []byte
		got, err := findIn(q, src, &buf)
		if err != nil || got != at {
			t.Errorf("needle at %d: found at %d, %v", at, got, err)
		}
		if largest > searchWindow+len(q)-1 {
			t.Errorf("read %d bytes at once, more than a window", largest)
		}
	}
	var buf []byte
	src := valueSource{size: 2 * searchWindow, readAt: func(p []byte, off int64) (int, error) { return len(p), nil }}
	if got, _ := findIn(q, src, &buf); got != -1 {
		t.Errorf("no needle: found at %d", got)
	}
}

// gatedStore is a Store that is not a Scanner, as a server is not, and
// whose Get of one key waits until the gate opens.
type gatedStore struct {
	Store
	gateKey string
	gate    chan struct{}
	reached chan struct{} // closed when Get of gateKey begins
	once    sync.Once
	mu      sync.Mutex
	largest string // the last key in byte order that Get was asked for
}

func (g *gatedStore) Get(key string) ([]byte, error) {
	g.mu.Lock()
	g.largest = max(g.largest, key)
	g.mu.Unlock()
	if key == g.gateKey {
		g.once.Do(func() { close(g.reached) })
		<-g.gate
	}
	return g.Store.Get(key)
}

// numberedPairs returns n keys k0000… whose values hold "needle" where
// match says.
func numberedPairs(n int, match func(i int) bool) []string {
	var pairs []string
	for i := range n {
		v := fmt.Sprintf("value %d", i)
		if match(i) {
			v = fmt.Sprintf("a needle in %d", i)
		}
		pairs = append(pairs, fmt.Sprintf("k%04d", i), v)
	}
	return pairs
}

// flushAtEveryCheck makes walks send a batch every ctxCheckEvery keys.
func flushAtEveryCheck(t *testing.T) {
	old := findFlushEvery
	findFlushEvery = 0
	t.Cleanup(func() { findFlushEvery = old })
}

// A walk sends its matches in batches, in key order, and stops when
// cancelled: its channel closes and it reads no further keys.
func TestValueSearchStreamsInOrderAndStops(t *testing.T) {
	flushAtEveryCheck(t)
	db := openTestDB(t, "", numberedPairs(1000, func(int) bool { return true })...)
	g := &gatedStore{Store: NewDBStore(db, nil), gateKey: "k0600", gate: make(chan struct{}), reached: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan findMsg, 1)
	f := &findSender{ctx: ctx, out: ch, seq: 1, prog: findProgress{total: -1}}
	go func() {
		defer close(ch)
		valueSearch(g, []byte("needle"))(f)
	}()
	var got []string
	for len(got) < 512 {
		msg := <-ch
		if msg.done {
			t.Fatalf("the walk ended before the gate: %v", msg.err)
		}
		for _, r := range msg.rows {
			got = append(got, r.key)
		}
		if !slices.IsSorted(got) {
			t.Fatalf("batches out of key order: %q", got[max(len(got)-3, 0):])
		}
		if msg.progress.keys != len(got) {
			t.Errorf("progress %d keys, %d matches: every value matches", msg.progress.keys, len(got))
		}
	}
	<-g.reached
	cancel()
	close(g.gate)
	for msg := range ch { // the last batch may still come; then it closes
		for _, r := range msg.rows {
			got = append(got, r.key)
		}
	}
	if !slices.IsSorted(got) || len(got) > 768 {
		t.Errorf("after cancel: %d matches (%q…)", len(got), got[len(got)-1])
	}
	if g.largest > "k0767" {
		t.Errorf("read %s after the cancel, past the batch under way", g.largest)
	}
}

func TestInspectorSearchesValues(t *testing.T) {
	pairs := numberedPairs(40, func(i int) bool { return i%7 == 3 })
	db := openTestDB(t, "", pairs...)
	tm := startInspector(t, db, Config{})
	waitFor(t, tm, "40 keys")
	press(tm, "f")
	typeText(tm, "needle")
	press(tm, "enter")
	waitFor(t, tm, "6 matches for needle")
	m := quit(t, tm)
	var keys []string
	for _, r := range m.find.rows {
		keys = append(keys, r.key)
	}
	want := []string{"k0003", "k0010", "k0017", "k0024", "k0031", "k0038"}
	if !slices.Equal(keys, want) {
		t.Errorf("matches %q, want %q", keys, want)
	}
	if m.viewer.Key() != "k0003" {
		t.Errorf("viewer shows %q, want the first match", m.viewer.Key())
	}
	if r := m.find.rows[0]; r.off != 2 || r.size != len("a needle in 3") {
		t.Errorf("first match %+v: want offset 2 of 13 bytes", r)
	}
}

// The search of a store that is not a Scanner shows its matches while it
// runs, and esc stops it where it is; a second esc goes back to the keys.
func TestInspectorSearchStreamsAndCancels(t *testing.T) {
	flushAtEveryCheck(t)
	db := openTestDB(t, "", numberedPairs(1000, func(i int) bool { return i%2 == 0 })...)
	g := &gatedStore{Store: NewDBStore(db, nil), gateKey: "k0600", gate: make(chan struct{}), reached: make(chan struct{})}
	var openGate sync.Once
	t.Cleanup(func() { openGate.Do(func() { close(g.gate) }) })
	m := NewWithStore(g, Config{Getenv: func(string) string { return "" }, Clipboard: io.Discard})
	t.Cleanup(m.Close)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30))
	waitFor(t, tm, "1,000 keys")
	press(tm, "f")
	typeText(tm, "needle")
	press(tm, "enter")
	// The walk waits at the gate; the batches of keys 256 and 512 are on
	// screen.
	waitFor(t, tm, "256 matches", "scanning 51%", "512/1,000 keys")
	press(tm, "esc")
	waitFor(t, tm, "stopped at 512 keys")
	openGate.Do(func() { close(g.gate) })
	press(tm, "j")
	waitFor(t, tm, "a needle in 2")
	press(tm, "esc")
	waitFor(t, tm, "back to the key list")
	m = quit(t, tm)
	if m.find.Shown() || m.find.running {
		t.Errorf("the finder is still shown after two esc")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.largest > "k0767" {
		t.Errorf("read %s: the walk went on past its batch after esc", g.largest)
	}
}

// A query of escaped bytes finds a binary value, also one stored
// compressed; a query nothing holds says so.
func TestInspectorSearchesBinaryValues(t *testing.T) {
	clock := newTestClock()
	db := openClockDB(t, clock, kv.Zstd)
	mustPut(t, db, "bin", "\x00\x01\xff\xfe tail", 0)
	mustPut(t, db, "doc", strings.Repeat("crab ", 300)+"\x1b[31m", 0)
	mustPut(t, db, "text", "plain", 0)
	if e, _ := db.Entry([]byte("doc")); e.Codec != "zstd" {
		t.Fatalf("setup: doc stored %s, want zstd", e.Codec)
	}
	tm := startInspector(t, db, Config{Clock: clock.Now})
	waitFor(t, tm, "3 keys")
	press(tm, "f")
	typeText(tm, `\xff\xfe`)
	press(tm, "enter")
	waitFor(t, tm, `1 match for \xff\xfe`)
	press(tm, "f")
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlU}) // clears the last query
	typeText(tm, `\x1b[31m`)
	press(tm, "enter")
	waitFor(t, tm, `1 match for \x1b[31m`)
	press(tm, "f")
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlU}) // clears the last query
	typeText(tm, "lobster")
	press(tm, "enter")
	waitFor(t, tm, "0 matches for lobster", "no value holds it")
	press(tm, "f")
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlU}) // clears the last query
	typeText(tm, `\q`)
	press(tm, "enter")
	waitFor(t, tm, `unknown escape \q`)
	// The input stays open, to fix the query in.
	press(tm, "backspace", "backspace")
	typeText(tm, "plain")
	press(tm, "enter")
	waitFor(t, tm, "1 match for plain")
	m := quit(t, tm)
	if bytes.Contains([]byte(m.View()), []byte("\x1b[31m")) {
		t.Errorf("the query reached the terminal raw")
	}
}

// A match opens its value at the match's line, marked; in a value too
// large to hold, at the part that holds it.
func TestSearchResultOpensAtTheMatch(t *testing.T) {
	var long strings.Builder
	for i := range 400 {
		fmt.Fprintf(&long, "line %d of hay\n", i)
	}
	lines := long.String()
	big := strings.Repeat("hay hay hay\n", 3*streamLimit/12) // over streamLimit: streamed
	db := openTestDB(t, "",
		"a-long", lines[:len(lines)/2]+"the needle is here\n"+lines[len(lines)/2:],
		"b-big", big+"a needle deep down\n"+big)
	tm := startInspector(t, db, Config{})
	waitFor(t, tm, "2 keys")
	press(tm, "f")
	typeText(tm, "needle")
	press(tm, "enter")
	waitFor(t, tm, "2 matches for needle", "the needle is here", "line 199 of hay")
	press(tm, "j")
	waitFor(t, tm, "a needle deep down", "part 4/7")
	m := quit(t, tm)
	if !strings.Contains(m.viewer.View(), m.common.Styles.Selected.Render("needle")) {
		t.Errorf("the match is not marked:\n%s", m.viewer.View())
	}
	press := func(m Model, k string) Model { return pressModel(t, m, k) }
	m = press(m, "k") // back to a-long, which is loaded again and opened at its match
	if m.viewer.vp.YOffset == 0 || !strings.Contains(m.viewer.View(), "needle") {
		t.Errorf("a-long not opened at its match (offset %d):\n%s", m.viewer.vp.YOffset, m.viewer.View())
	}
}
