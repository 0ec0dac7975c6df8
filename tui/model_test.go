package tui

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/crabkv/crabkv/kv"
)

const waitTimeout = 5 * time.Second

// openTestDB opens a store in a fresh directory and puts pairs in it.
func openTestDB(tb testing.TB, dir string, pairs ...string) *kv.DB {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	db, err := kv.Open(dir, &kv.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Error(err)
		}
	})
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := db.Put([]byte(pairs[i]), []byte(pairs[i+1])); err != nil {
			tb.Fatal(err)
		}
	}
	return db
}

// startInspector runs the inspector on db in a 100x30 test terminal, or
// as opts say.
func startInspector(tb testing.TB, db *kv.DB, cfg Config, opts ...teatest.TestOption) *teatest.TestModel {
	tb.Helper()
	if cfg.Getenv == nil {
		cfg.Getenv = func(string) string { return "" }
	}
	if cfg.Clipboard == nil {
		cfg.Clipboard = io.Discard
	}
	m := New(db, cfg)
	tb.Cleanup(m.Close)
	return teatest.NewTestModel(tb, m, append([]teatest.TestOption{teatest.WithInitialTermSize(100, 30)}, opts...)...)
}

// waitFor waits until the screen output contains every one of want.
func waitFor(tb testing.TB, tm *teatest.TestModel, want ...string) {
	tb.Helper()
	teatest.WaitFor(tb, tm.Output(), func(b []byte) bool {
		for _, w := range want {
			if !bytes.Contains(b, []byte(w)) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(waitTimeout), teatest.WithCheckInterval(10*time.Millisecond))
}

// press sends keys one at a time, as a person types them.
func press(tm *teatest.TestModel, keys ...string) {
	for _, k := range keys {
		tm.Send(keyMsg(k))
	}
}

// typeText sends s one rune per message.
func typeText(tm *teatest.TestModel, s string) {
	for _, r := range s {
		tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
}

// quit presses q and returns the final model.
func quit(tb testing.TB, tm *teatest.TestModel) Model {
	tb.Helper()
	press(tm, "q")
	return tm.FinalModel(tb, teatest.WithFinalTimeout(waitTimeout)).(Model)
}

func getValue(tb testing.TB, db *kv.DB, key string) string {
	tb.Helper()
	v, err := db.Get([]byte(key))
	if err != nil {
		tb.Fatalf("get %q: %v", key, err)
	}
	return string(v)
}

func TestInspectorCreatesKey(t *testing.T) {
	db := openTestDB(t, "", "existing", "1")
	tm := startInspector(t, db, Config{})
	waitFor(t, tm, "existing")
	press(tm, "n")
	waitFor(t, tm, "New key")
	typeText(tm, "greeting")
	press(tm, "tab")
	typeText(tm, "hello, crab")
	press(tm, "ctrl+s")
	waitFor(t, tm, "created greeting")
	m := quit(t, tm)
	if got := getValue(t, db, "greeting"); got != "hello, crab" {
		t.Errorf("stored %q", got)
	}
	if k, _ := m.list.Selected(); k != "greeting" {
		t.Errorf("selected %q after create, want the new key", k)
	}
}

func TestInspectorEditsValue(t *testing.T) {
	db := openTestDB(t, "", "a", "first", "b", "old value")
	tm := startInspector(t, db, Config{})
	waitFor(t, tm, "first")
	press(tm, "j")
	waitFor(t, tm, "old value")
	press(tm, "e")
	waitFor(t, tm, "Edit")
	typeText(tm, "new ")
	press(tm, "ctrl+s")
	waitFor(t, tm, "saved b")
	quit(t, tm)
	if got := getValue(t, db, "b"); got != "new old value" {
		t.Errorf("stored %q", got)
	}
}

func TestInspectorEditCancel(t *testing.T) {
	db := openTestDB(t, "", "a", "keep me")
	tm := startInspector(t, db, Config{})
	waitFor(t, tm, "keep me")
	press(tm, "e")
	waitFor(t, tm, "Edit")
	typeText(tm, "zzz")
	press(tm, "esc")
	waitFor(t, tm, "cancelled")
	quit(t, tm)
	if got := getValue(t, db, "a"); got != "keep me" {
		t.Errorf("stored %q after cancel", got)
	}
}

func TestInspectorDeletesKey(t *testing.T) {
	db := openTestDB(t, "", "a", "1", "b", "2", "c", "3")
	tm := startInspector(t, db, Config{})
	waitFor(t, tm, "3 keys")
	press(tm, "j", "d")
	waitFor(t, tm, "delete b? y/n")
	press(tm, "n")
	waitFor(t, tm, "kept b")
	press(tm, "d")
	waitFor(t, tm, "delete b? y/n")
	press(tm, "y")
	waitFor(t, tm, "deleted b")
	m := quit(t, tm)
	if _, err := db.Get([]byte("b")); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("b after delete: %v", err)
	}
	if k, _ := m.list.Selected(); k != "c" {
		t.Errorf("selected %q after delete, want the next key", k)
	}
	if got := getValue(t, db, "a"); got != "1" {
		t.Errorf("a = %q", got)
	}
}

func TestInspectorCompacts(t *testing.T) {
	db := openTestDB(t, "")
	for i := range 50 {
		for _, k := range []string{"x", "y"} {
			if err := db.Put([]byte(k), bytes.Repeat([]byte{byte('a' + i%26)}, 500)); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := db.Stats()
	tm := startInspector(t, db, Config{})
	waitFor(t, tm, "2 keys")
	press(tm, "c")
	waitFor(t, tm, "compacted")
	m := quit(t, tm)
	after := db.Stats()
	if after.Compactions != 1 {
		t.Errorf("Compactions = %d, want 1", after.Compactions)
	}
	if after.StaleBytes != 0 || after.LogBytes >= before.LogBytes {
		t.Errorf("after compaction: %+v (before %+v)", after, before)
	}
	if !strings.Contains(m.status.text, "compacted") {
		t.Errorf("status %q", m.status.text)
	}
}

func TestInspectorFilters(t *testing.T) {
	db := openTestDB(t, "", "config/a", "1", "session:1", "2", "user:1", "3", "user:2", "4")
	tm := startInspector(t, db, Config{})
	waitFor(t, tm, "4 keys")
	press(tm, "/")
	typeText(tm, "^user:")
	waitFor(t, tm, "2 of 4")
	press(tm, "enter", "j")
	waitFor(t, tm, "key user:2")
	m := quit(t, tm)
	if m.list.Len() != 2 || m.list.Query() != "^user:" {
		t.Errorf("filter left %d keys, query %q", m.list.Len(), m.list.Query())
	}
}

// TestInspectorEscapesControlCharacters checks that keys and values reach
// the terminal as text, so a key cannot clear the screen or retitle the
// window.
func TestInspectorEscapesControlCharacters(t *testing.T) {
	evilKey := "evil\x1b[2J\x1b]0;pwned\x07"
	db := openTestDB(t, "", evilKey, "red \x1b[31mRED\x1b[0m \u009b2J", "z", "1")
	tm := startInspector(t, db, Config{})
	waitFor(t, tm, `evil\x1b[2J\x1b]0;pwned\a`, `red \x1b[31mRED\x1b[0m`)
	press(tm, "q")
	out, err := io.ReadAll(tm.FinalOutput(t, teatest.WithFinalTimeout(waitTimeout)))
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"\x1b]0;", "\x07", "\x1b[31m", "\u009b"} {
		if bytes.Contains(out, []byte(raw)) {
			t.Errorf("output holds raw %q", raw)
		}
	}
	view := tm.FinalModel(t).(Model).View()
	if strings.ContainsAny(view, "\x1b\x07\u009b") {
		t.Errorf("view holds a control character:\n%q", view)
	}
}

func TestInspectorReadOnly(t *testing.T) {
	dir := t.TempDir()
	rw := openTestDB(t, dir, "a", "1")
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := kv.Open(dir, &kv.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tm := startInspector(t, db, Config{ReadOnly: true})
	waitFor(t, tm, "READ-ONLY", "key a")
	press(tm, "e")
	waitFor(t, tm, "the store is open read-only")
	press(tm, "d", "c")
	m := quit(t, tm)
	if m.state != stateBrowse {
		t.Errorf("state %d, want browsing", m.state)
	}
	if footer := m.footerView(); strings.Contains(footer, "edit") || strings.Contains(footer, "delete") {
		t.Errorf("footer offers writes: %q", footer)
	}
	if got := getValue(t, db, "a"); got != "1" {
		t.Errorf("a = %q", got)
	}
}

func TestInspectorViewModes(t *testing.T) {
	db := openTestDB(t, "", "j", `{"b":[1,2],"a":"x"}`)
	tm := startInspector(t, db, Config{})
	waitFor(t, tm, `"b": [`)
	press(tm, "v")
	waitFor(t, tm, "view hex")
	press(tm, "v")
	waitFor(t, tm, "view text")
	m := quit(t, tm)
	if m.viewer.Mode() != ModeText {
		t.Errorf("mode %v", m.viewer.Mode())
	}
}

func TestInspectorShowsEngineErrors(t *testing.T) {
	db := openTestDB(t, "", "a", "1")
	tm := startInspector(t, db, Config{})
	waitFor(t, tm, "key a")
	press(tm, "n", "tab")
	typeText(tm, "value without a key")
	press(tm, "ctrl+s")
	waitFor(t, tm, "save: the key is empty")
	press(tm, "esc")
	quit(t, tm)
}

// TestInspectorGolden pins the whole screen for a small store.
func TestInspectorGolden(t *testing.T) {
	db := openTestDB(t, "",
		"config/README", "Configuration lives here.\n\tIndented line.",
		"user:1", `{"name":"Ada","roles":["admin"]}`,
		"user:2", `{"name":"Grace"}`,
		"weird/\x1b[2Jkey", "bell\x07",
	)
	if err := db.Put([]byte("user:2"), []byte(`{"name":"Grace","city":"Osaka"}`)); err != nil {
		t.Fatal(err)
	}
	tm := startInspector(t, db, Config{})
	waitFor(t, tm, "4 keys")
	press(tm, "j")
	waitFor(t, tm, `"roles": [`)
	m := quit(t, tm)
	// The title shows the temporary directory; pin it to a fixed name of
	// the same width so the layout is unchanged.
	dir := db.Dir()
	view := strings.Replace(m.View(), dir, "/tmp/data"+strings.Repeat(" ", max(len(dir)-9, 0)), 1)
	golden.RequireEqual(t, []byte(view))
}

// runCmd runs cmd and the commands it batches, and returns their messages.
// It must only be given commands that return at once (no ticks).
func runCmd(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	batch, ok := msg.(tea.BatchMsg)
	if !ok {
		return []tea.Msg{msg}
	}
	var out []tea.Msg
	for _, c := range batch {
		out = append(out, runCmd(c)...)
	}
	return out
}

// loadedModel returns a model on db that has loaded its keys.
func loadedModel(tb testing.TB, db *kv.DB) Model {
	tb.Helper()
	m := New(db, Config{Getenv: func(string) string { return "" }, StatusTimeout: -1, Clipboard: io.Discard})
	tb.Cleanup(m.Close)
	tm, _ := m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	for _, msg := range runCmd(m.list.initial) { // the first window of keys
		tm, _ = tm.Update(msg)
	}
	return tm.(Model)
}

// update applies msg and then every message its commands return, but never
// a key reload, which the test reports.
func update(tb testing.TB, m Model, msg tea.Msg) Model {
	tb.Helper()
	tm, cmd := m.Update(msg)
	for _, msg := range runCmd(cmd) {
		if _, ok := msg.(keysLoadedMsg); ok {
			tb.Fatalf("%T reloaded all the keys", msg)
		}
		tm, _ = tm.Update(msg)
	}
	return tm.(Model)
}

// TestPutAndDeleteUpdateListInPlace checks that a key created in the
// inspector appears at its sorted place, and a deleted one disappears,
// without reading all the keys back from the store.
func TestPutAndDeleteUpdateListInPlace(t *testing.T) {
	db := openTestDB(t, "", "a", "1", "c", "3", "e", "5")
	m := loadedModel(t, db)

	m = update(t, m, putCmd(NewDBStore(db, nil), "d", []byte("4"), KeepTTL)())
	if want := []string{"a", "c", "d", "e"}; !slices.Equal(m.list.items, want) {
		t.Fatalf("after creating d: %q, want %q", m.list.items, want)
	}
	if k, _ := m.list.Selected(); k != "d" || m.viewer.Key() != "d" || !strings.Contains(m.viewer.View(), "4") {
		t.Fatalf("selected %q, viewer on %q:\n%s", k, m.viewer.Key(), m.viewer.View())
	}
	if !strings.Contains(m.View(), "4 keys") || !strings.Contains(m.status.text, "created d") {
		t.Fatalf("status %q; screen:\n%s", m.status.text, m.View())
	}

	m = update(t, m, putCmd(NewDBStore(db, nil), "d", []byte("four"), KeepTTL)())
	if !slices.Equal(m.list.items, []string{"a", "c", "d", "e"}) || !strings.Contains(m.viewer.View(), "four") {
		t.Fatalf("after editing d: %q, viewer:\n%s", m.list.items, m.viewer.View())
	}

	m = update(t, m, deleteCmd(NewDBStore(db, nil), "c")())
	if want := []string{"a", "d", "e"}; !slices.Equal(m.list.items, want) {
		t.Fatalf("after deleting c: %q, want %q", m.list.items, want)
	}
	if k, _ := m.list.Selected(); k != "d" {
		t.Fatalf("selected %q after deleting another key, want d", k)
	}
	m = update(t, m, deleteCmd(NewDBStore(db, nil), "d")())
	if k, _ := m.list.Selected(); k != "e" || m.viewer.Key() != "e" {
		t.Fatalf("selected %q, viewer on %q after deleting d, want e", k, m.viewer.Key())
	}
	if got, want := mustShown(t, m.list), db.Keys(nil); !slices.Equal(got, want) {
		t.Fatalf("list %q, store %q", got, want)
	}
}

// snapshotStore hides that a store reads its keys in order, as the
// remote store does not: the list then keeps a snapshot of them all.
type snapshotStore struct{ Store }

// TestStaleKeyReloadIsRetried checks that a full key snapshot asked for
// before a write is not allowed to hide that write.
func TestStaleKeyReloadIsRetried(t *testing.T) {
	db := openTestDB(t, "", "a", "1")
	m := NewWithStore(snapshotStore{NewDBStore(db, nil)}, Config{Getenv: func(string) string { return "" }, StatusTimeout: -1, Clipboard: io.Discard})
	t.Cleanup(m.Close)
	m = update(t, m, tea.WindowSizeMsg{Width: 100, Height: 30})
	m = update(t, m, loadKeysCmd(m.store, 0)())
	stale := keysLoadedMsg{keys: db.Keys(nil), edits: m.list.Edits()} // r pressed
	m = update(t, m, putCmd(NewDBStore(db, nil), "b", []byte("2"), KeepTTL)())
	tm, cmd := m.Update(stale)
	if !slices.Equal(tm.(Model).list.all, []string{"a", "b"}) {
		t.Fatalf("stale snapshot applied: %q", tm.(Model).list.all)
	}
	msgs := runCmd(cmd)
	if len(msgs) != 1 {
		t.Fatalf("stale snapshot answered with %v, want one reload", msgs)
	}
	tm, _ = tm.Update(msgs[0])
	if got := tm.(Model).list.all; !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("after the reload: %q", got)
	}
}

// TestStaleWindowIsReadAgain checks the same of a window of keys: one
// read before a write is read again rather than shown.
func TestStaleWindowIsReadAgain(t *testing.T) {
	db := openTestDB(t, "", "a", "1")
	m := loadedModel(t, db)
	stale := runCmd(m.reloadKeys()) // r pressed
	if len(stale) != 1 {
		t.Fatalf("reload sent %v, want one read", stale)
	}
	m = update(t, m, putCmd(NewDBStore(db, nil), "b", []byte("2"), KeepTTL)())
	tm, cmd := m.Update(stale[0])
	if got := tm.(Model).list.items; !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("stale window applied: %q", got)
	}
	var again []tea.Msg
	for _, msg := range runCmd(cmd) {
		if _, ok := msg.(windowMsg); ok {
			again = append(again, msg)
		}
	}
	if len(again) != 1 {
		t.Fatalf("stale window answered with %v, want one read", again)
	}
	tm, _ = tm.Update(again[0])
	if got := tm.(Model).list.items; !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("after the read: %q", got)
	}
}

// TestInspectorCreatesKeyUnderFilter checks that a created key that matches
// the filter in effect shows up in the filtered list.
func TestInspectorCreatesKeyUnderFilter(t *testing.T) {
	db := openTestDB(t, "", "config/a", "1", "user:1", "2", "user:3", "3")
	tm := startInspector(t, db, Config{})
	waitFor(t, tm, "3 keys")
	press(tm, "/")
	typeText(tm, "^user:")
	waitFor(t, tm, "2 of 3")
	press(tm, "enter", "n")
	waitFor(t, tm, "New key")
	typeText(tm, "user:2")
	press(tm, "tab")
	typeText(tm, "two")
	press(tm, "ctrl+s")
	waitFor(t, tm, "created user:2", "3 of 4")
	m := quit(t, tm)
	if want := []string{"user:1", "user:2", "user:3"}; !slices.Equal(m.list.items, want) {
		t.Errorf("listed %q, want %q", m.list.items, want)
	}
}

// D deletes every key the filter shows, after asking, and leaves the rest.
func TestInspectorDeletesShownKeys(t *testing.T) {
	db := openTestDB(t, "", "config/a", "1", "user:1", "2", "user:2", "3", "user:3", "4")
	tm := startInspector(t, db, Config{})
	waitFor(t, tm, "4 keys")
	press(tm, "/")
	typeText(tm, "^user:")
	waitFor(t, tm, "3 of 4")
	press(tm, "enter", "D")
	waitFor(t, tm, "delete the 3 keys shown? y/n")
	press(tm, "n")
	waitFor(t, tm, "kept them")
	press(tm, "D")
	waitFor(t, tm, "delete the 3 keys shown? y/n")
	press(tm, "y")
	waitFor(t, tm, "deleted 3 keys")
	m := quit(t, tm)
	if keys := db.Keys(nil); len(keys) != 1 || keys[0] != "config/a" {
		t.Errorf("keys after D: %q", keys)
	}
	if m.list.Len() != 0 {
		t.Errorf("the list still shows %d keys", m.list.Len())
	}
}

// mustShown returns the keys l's filter lets through.
func mustShown(tb testing.TB, l KeyList) []string {
	tb.Helper()
	keys, err := l.Shown()
	if err != nil {
		tb.Fatal(err)
	}
	return keys
}

// TestLiveReloadSeesWriteBeforeFirstFigures lets another writer add a key
// after the inspector has read its keys but before it has read the
// store's first figures, and delivers the figures first, as a busy
// machine may. The figures then describe a store the list does not show:
// the next poll, which finds the same figures, must still bring the key
// into the list (a follower's inspector once showed 20 keys of 21 for as
// long as nothing else was written).
func TestLiveReloadSeesWriteBeforeFirstFigures(t *testing.T) {
	db := openTestDB(t, "", "a", "1", "b", "2")
	d := liveDriver(t, db)
	keys := d.m.reloadKeys()() // the first read, as Init makes it: a and b
	if err := db.Put([]byte("c"), []byte("3")); err != nil {
		t.Fatal(err)
	}
	d.settle(statsCmd(d.m.store)()) // the figures: three keys
	d.settle(keys)
	d.settle(statsCmd(d.m.store)()) // the next poll: the same figures
	wantListedAfterPoll(t, d, "c")
}

// TestLiveReloadIgnoresFiguresOfOvertakenRead has a live reload's read
// overtaken by a later one (the user reloads again) that reads the keys
// before a write, while the overtaken one runs after it. The overtaken
// read's keys are dropped, and so must its figures be: taken as the
// figures the list shows, they would hide the write from every later
// poll.
func TestLiveReloadIgnoresFiguresOfOvertakenRead(t *testing.T) {
	db := openTestDB(t, "", "a", "1", "b", "2")
	d := liveDriver(t, db)
	d.settle(d.m.reloadKeys()())
	d.settle(statsCmd(d.m.store)())
	overtaken := d.m.reloadKeys()
	later := d.m.reloadKeys()()
	if err := db.Put([]byte("c"), []byte("3")); err != nil {
		t.Fatal(err)
	}
	old := overtaken() // the figures and keys after the write
	d.settle(later)    // the keys before it: a and b
	d.settle(old)
	d.settle(statsCmd(d.m.store)()) // the next poll: three keys
	wantListedAfterPoll(t, d, "c")
}

// liveDriver drives an inspector on db as on a store that changes under
// it (read-only), its window sized and nothing read yet.
func liveDriver(t *testing.T, db *kv.DB) *driver {
	t.Helper()
	m := New(db, Config{ReadOnly: true, Getenv: func(string) string { return "" }, StatusTimeout: -1, Clipboard: io.Discard})
	t.Cleanup(m.Close)
	d := &driver{tb: t, m: m}
	d.settle(tea.WindowSizeMsg{Width: 100, Height: 30})
	return d
}

// wantListedAfterPoll checks that the list holds key after the poll the
// test has just delivered.
func wantListedAfterPoll(t *testing.T, d *driver, key string) {
	t.Helper()
	if !slices.Contains(d.m.list.items, key) {
		t.Fatalf("after the next poll the list holds %q, want %s too", d.m.list.items, key)
	}
}
