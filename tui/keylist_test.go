package tui

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

func testKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key:%07d", i)
	}
	return keys
}

func keyMsg(s string) tea.KeyMsg {
	switch s {
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "pgdown":
		return tea.KeyMsg{Type: tea.KeyPgDown}
	case "pgup":
		return tea.KeyMsg{Type: tea.KeyPgUp}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "ctrl+s":
		return tea.KeyMsg{Type: tea.KeyCtrlS}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	case "home":
		return tea.KeyMsg{Type: tea.KeyHome}
	case "end":
		return tea.KeyMsg{Type: tea.KeyEnd}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "backspace":
		return tea.KeyMsg{Type: tea.KeyBackspace}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

func newTestList(keys []string, w, h int) KeyList {
	l := NewKeyList(NewCommon())
	l.SetSize(w, h)
	l.SetKeys(keys, "")
	return l
}

// settleFilter plays the end of the debounce: the tick for the latest
// keystroke arrives and the filter command it starts runs.
func settleFilter(t *testing.T, l KeyList) KeyList {
	t.Helper()
	l, cmd := l.Update(filterTickMsg{seq: l.seq})
	if cmd == nil {
		t.Fatal("tick for the latest keystroke started no filter")
	}
	l, _ = l.Update(cmd())
	return l
}

func TestKeyListNavigation(t *testing.T) {
	l := newTestList(testKeys(1000), 30, 11) // 10 rows under the header
	steps := []struct {
		key            string
		cursor, offset int
	}{
		{"j", 1, 0}, {"j", 2, 0}, {"k", 1, 0},
		{"pgdown", 11, 10}, {"pgdown", 21, 20}, {"pgup", 11, 10},
		{"G", 999, 990}, {"j", 999, 990}, {"g", 0, 0}, {"k", 0, 0},
	}
	for i, s := range steps {
		l, _ = l.Update(keyMsg(s.key))
		if l.cursor != s.cursor || l.offset != s.offset {
			t.Fatalf("step %d (%s): cursor %d offset %d, want %d %d", i, s.key, l.cursor, l.offset, s.cursor, s.offset)
		}
	}
}

func TestKeyListViewRendersWindowOnly(t *testing.T) {
	l := newTestList(testKeys(1_000_000), 30, 6)
	l, _ = l.Update(keyMsg("G"))
	got := l.View()
	want := strings.Join([]string{
		"Keys            1,000,000 keys",
		" key:0999995                  ",
		" key:0999996                  ",
		" key:0999997                  ",
		" key:0999998                  ",
		"▌key:0999999                  ",
	}, "\n")
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestKeyListSizesAndEscaping(t *testing.T) {
	l := newTestList([]string{"a", "b\x1b[2J", "c"}, 24, 4)
	missing := l.MissingSizes()
	if !reflect.DeepEqual(missing, []string{"a", "b\x1b[2J", "c"}) {
		t.Fatalf("MissingSizes = %q", missing)
	}
	if again := l.MissingSizes(); len(again) != 0 {
		t.Fatalf("pending sizes asked for again: %q", again)
	}
	l.SetSizes(map[string]int{"a": 10, "b\x1b[2J": 2048})
	got := l.View()
	want := strings.Join([]string{
		"Keys              3 keys",
		"▌a                   10B",
		" b\\x1b[2J           2.0K",
		" c                     …",
	}, "\n")
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestFilterKeys(t *testing.T) {
	keys := []string{"blob/1", "config/a", "config/b", "session:9", "user:1", "user:10", "xconfig/"}
	tests := []struct {
		query string
		want  []string
	}{
		{"", keys},
		{"^config/", []string{"config/a", "config/b"}},
		{"config/", []string{"config/a", "config/b", "xconfig/"}},
		{"^user:1", []string{"user:1", "user:10"}},
		{"^zzz", []string{}},
		{":1", []string{"user:1", "user:10"}},
		{"nope", nil},
	}
	for _, tt := range tests {
		got := FilterKeys(keys, tt.query)
		if len(got) == 0 && len(tt.want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("FilterKeys(%q) = %q, want %q", tt.query, got, tt.want)
		}
	}
}

func TestKeyListFilter(t *testing.T) {
	l := newTestList([]string{"config/a", "session:1", "user:1", "user:2", "user:3"}, 30, 10)
	l, _ = l.Update(keyMsg("/"))
	if !l.Filtering() {
		t.Fatal("/ did not open the filter")
	}
	for _, r := range "user" {
		l, _ = l.Update(keyMsg(string(r)))
	}
	if l.Query() != "" {
		t.Fatal("filter applied before the debounce ended")
	}
	if _, cmd := l.Update(filterTickMsg{seq: l.seq - 1}); cmd != nil {
		t.Fatal("a superseded keystroke's tick started a filter")
	}
	l = settleFilter(t, l)
	if l.Len() != 3 || l.Query() != "user" {
		t.Fatalf("after typing: %d keys, query %q", l.Len(), l.Query())
	}
	l, _ = l.Update(keyMsg("enter"))
	l, _ = l.Update(keyMsg("j"))
	if k, _ := l.Selected(); k != "user:2" {
		t.Fatalf("selected %q, want user:2", k)
	}
	l, _ = l.Update(keyMsg("esc"))
	if l.Len() != 5 || l.Query() != "" {
		t.Fatalf("esc left %d keys, query %q", l.Len(), l.Query())
	}
	if k, _ := l.Selected(); k != "user:2" {
		t.Fatalf("selection lost on clear: %q", k)
	}
}

func TestKeyListDropsStaleFilterResults(t *testing.T) {
	l := newTestList([]string{"a1", "a2", "b1"}, 30, 10)
	l, _ = l.Update(keyMsg("/"))
	l, _ = l.Update(keyMsg("a"))
	stale := filterCmd(l.seq, l.gen, l.all, "a")() // started, then overtaken
	l, _ = l.Update(keyMsg("2"))
	l, _ = l.Update(stale)
	if l.Query() != "" || l.Len() != 3 {
		t.Fatalf("stale result applied: query %q, %d keys", l.Query(), l.Len())
	}
	l, _ = l.Update(filterResultMsg{seq: l.seq, gen: l.gen, query: "a2", keys: []string{"a2"}})
	if l.Query() != "a2" || l.Len() != 1 {
		t.Fatalf("current result not applied: query %q, %d keys", l.Query(), l.Len())
	}
}

func TestKeyListSetKeysKeepsSelection(t *testing.T) {
	l := newTestList([]string{"a", "b", "c", "d"}, 30, 10)
	l.SetKeys([]string{"a", "c", "d"}, "b") // b was deleted
	if k, _ := l.Selected(); k != "c" {
		t.Fatalf("selected %q, want the key after the deleted one", k)
	}
	l.SetKeys(nil, "c")
	if _, ok := l.Selected(); ok {
		t.Fatal("selection in an empty list")
	}
	if !strings.Contains(l.View(), "no keys yet") {
		t.Fatalf("empty view: %q", l.View())
	}
}

func TestKeyListMouseWheel(t *testing.T) {
	l := newTestList(testKeys(100), 30, 11)
	wheel := func(b tea.MouseButton) tea.MouseMsg {
		return tea.MouseMsg{Action: tea.MouseActionPress, Button: b}
	}
	l, _ = l.Update(wheel(tea.MouseButtonWheelDown))
	l, _ = l.Update(wheel(tea.MouseButtonWheelDown))
	if l.cursor != 6 {
		t.Fatalf("cursor %d after two wheel steps down, want 6", l.cursor)
	}
	l, _ = l.Update(wheel(tea.MouseButtonWheelUp))
	if l.cursor != 3 {
		t.Fatalf("cursor %d after a wheel step up, want 3", l.cursor)
	}
}

func TestKeyListAddRemoveKey(t *testing.T) {
	keys := []string{"config/a", "session:1", "user:1", "user:3"}
	tests := []struct {
		name     string
		query    string
		edit     func(*KeyList)
		want     []string // all keys afterwards
		items    []string // keys listed afterwards
		selected string
	}{
		{"add", "", func(l *KeyList) { l.AddKey("user:2") },
			[]string{"config/a", "session:1", "user:1", "user:2", "user:3"},
			[]string{"config/a", "session:1", "user:1", "user:2", "user:3"}, "user:2"},
		{"add first", "", func(l *KeyList) { l.AddKey("a") },
			[]string{"a", "config/a", "session:1", "user:1", "user:3"},
			[]string{"a", "config/a", "session:1", "user:1", "user:3"}, "a"},
		{"add last", "", func(l *KeyList) { l.AddKey("zz") },
			[]string{"config/a", "session:1", "user:1", "user:3", "zz"},
			[]string{"config/a", "session:1", "user:1", "user:3", "zz"}, "zz"},
		{"add existing", "", func(l *KeyList) { l.AddKey("user:1") },
			keys, keys, "user:1"},
		{"add matching prefix filter", "^user:", func(l *KeyList) { l.AddKey("user:2") },
			[]string{"config/a", "session:1", "user:1", "user:2", "user:3"},
			[]string{"user:1", "user:2", "user:3"}, "user:2"},
		{"add hidden by filter", "^user:", func(l *KeyList) { l.AddKey("blob") },
			[]string{"blob", "config/a", "session:1", "user:1", "user:3"},
			[]string{"user:1", "user:3"}, "user:1"},
		{"add matching substring filter", ":1", func(l *KeyList) { l.AddKey("blob:1") },
			[]string{"blob:1", "config/a", "session:1", "user:1", "user:3"},
			[]string{"blob:1", "session:1", "user:1"}, "blob:1"},
		{"remove", "", func(l *KeyList) { l.RemoveKey("config/a") },
			[]string{"session:1", "user:1", "user:3"},
			[]string{"session:1", "user:1", "user:3"}, "session:1"},
		{"remove last", "", func(l *KeyList) { l.AddKey("user:3"); l.RemoveKey("user:3") },
			[]string{"config/a", "session:1", "user:1"},
			[]string{"config/a", "session:1", "user:1"}, "user:1"},
		{"remove other keeps selection", "", func(l *KeyList) { l.AddKey("user:1"); l.RemoveKey("config/a") },
			[]string{"session:1", "user:1", "user:3"},
			[]string{"session:1", "user:1", "user:3"}, "user:1"},
		{"remove missing", "", func(l *KeyList) { l.RemoveKey("nope") },
			keys, keys, "config/a"},
		{"remove filtered", "^user:", func(l *KeyList) { l.RemoveKey("user:1") },
			[]string{"config/a", "session:1", "user:3"},
			[]string{"user:3"}, "user:3"},
		{"remove hidden by filter", "^user:", func(l *KeyList) { l.RemoveKey("config/a") },
			[]string{"session:1", "user:1", "user:3"},
			[]string{"user:1", "user:3"}, "user:1"},
	}
	for _, tt := range tests {
		// With a filter command running, the snapshot it reads must be
		// left alone; without one it is changed in place.
		for _, scanning := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/scanning=%t", tt.name, scanning), func(t *testing.T) {
				snapshot := slices.Clone(keys)
				l := newTestList(snapshot, 30, 10)
				if tt.query != "" {
					l.query = tt.query
					l.items = FilterKeys(l.all, tt.query)
				}
				if scanning {
					l.scans = 1
				}
				tt.edit(&l)
				if !reflect.DeepEqual(l.all, tt.want) {
					t.Errorf("all = %q, want %q", l.all, tt.want)
				}
				if !reflect.DeepEqual(l.items, tt.items) {
					t.Errorf("items = %q, want %q", l.items, tt.items)
				}
				if k, _ := l.Selected(); k != tt.selected {
					t.Errorf("selected %q, want %q", k, tt.selected)
				}
				if scanning && !reflect.DeepEqual(snapshot, keys) {
					t.Errorf("the snapshot being scanned was modified: %q", snapshot)
				}
			})
		}
	}
}

// TestKeyListEditScrolling checks where an added or removed key leaves the
// rows: a key created on screen does not scroll the list, one created off
// screen is brought to the middle, and deleting the selected key leaves the
// rows in place.
func TestKeyListEditScrolling(t *testing.T) {
	l := newTestList(testKeys(1000), 30, 11) // 10 rows
	for range 3 {
		l, _ = l.Update(keyMsg("j"))
	}
	steps := []struct {
		edit           func()
		selected       string
		cursor, offset int
	}{
		{func() { l.AddKey("key:0000005x") }, "key:0000005x", 6, 0},
		{func() { l.AddKey("key:0000500x") }, "key:0000500x", 502, 497},
		{func() { l.RemoveKey("key:0000500x") }, "key:0000501", 502, 497},
		{func() { l.RemoveKey("key:0000005x") }, "key:0000501", 501, 497},
	}
	for i, s := range steps {
		s.edit()
		if k, _ := l.Selected(); k != s.selected || l.cursor != s.cursor || l.offset != s.offset {
			t.Fatalf("step %d: selected %q, cursor %d, offset %d; want %q, %d, %d",
				i, k, l.cursor, l.offset, s.selected, s.cursor, s.offset)
		}
	}
	if l.Len() != 1000 || !strings.Contains(l.headerView(), "1,000 keys") {
		t.Fatalf("%d keys listed; header %q", l.Len(), l.headerView())
	}
}

// TestKeyListFilterAfterEdit checks that a key added while a filter scans
// the snapshot on another goroutine neither races with the scan (go test
// -race) nor goes missing: the scan is run again on the new snapshot.
func TestKeyListFilterAfterEdit(t *testing.T) {
	keys := append(make([]string, 0, 8), "user:1", "user:3", "x") // room to insert in place
	l := newTestList(keys, 30, 10)
	l, _ = l.Update(keyMsg("/"))
	for _, r := range "^user" {
		l, _ = l.Update(keyMsg(string(r)))
	}
	l, cmd := l.Update(filterTickMsg{seq: l.seq})
	done := make(chan tea.Msg)
	go func() { done <- cmd() }()
	l.AddKey("user:2")
	l, cmd = l.Update(<-done)
	if cmd == nil || l.Query() != "" {
		t.Fatalf("result from the old snapshot applied: query %q", l.Query())
	}
	l, _ = l.Update(cmd())
	if want := []string{"user:1", "user:2", "user:3"}; !reflect.DeepEqual(l.items, want) {
		t.Fatalf("items %q, want %q", l.items, want)
	}
}

// TestKeyListReloadKeepsRow checks that a reload leaves the selected key on
// its screen row instead of scrolling it to the middle.
func TestKeyListReloadKeepsRow(t *testing.T) {
	l := newTestList(testKeys(1000), 30, 11) // 10 rows
	l, _ = l.Update(keyMsg("pgdown"))
	l, _ = l.Update(keyMsg("j"))
	sel, _ := l.Selected()
	cursor, offset := l.cursor, l.offset
	l.SetKeys(testKeys(1000), sel)
	if l.cursor != cursor || l.offset != offset {
		t.Fatalf("reload moved cursor %d offset %d to %d %d", cursor, offset, l.cursor, l.offset)
	}
}

func TestKeyListLoading(t *testing.T) {
	l := NewKeyList(NewCommon())
	l.SetSize(30, 5)
	if v := l.View(); !strings.Contains(v, "loading keys…") || strings.Contains(v, "0 keys") {
		t.Fatalf("before the first load:\n%s", v)
	}
	l.SetKeys(nil, "")
	if v := l.View(); !strings.Contains(v, "no keys yet") || !strings.Contains(v, "0 keys") {
		t.Fatalf("after loading no keys:\n%s", v)
	}
}
