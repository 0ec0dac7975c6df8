package tui

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"
)

// sizedModel returns a loaded model on a store holding pairs, w by h cells.
func sizedModel(tb testing.TB, w, h int, pairs ...string) Model {
	tb.Helper()
	db := openTestDB(tb, "", pairs...)
	m := loadedModel(tb, db)
	return update(tb, m, tea.WindowSizeMsg{Width: w, Height: h})
}

// pressModel sends keys to m one at a time, running the commands they return.
func pressModel(tb testing.TB, m Model, keys ...string) Model {
	tb.Helper()
	for _, k := range keys {
		m = updateNoTicks(tb, m, keyMsg(k))
	}
	return m
}

// updateNoTicks is update for key presses whose commands may include
// timers: messages that do not arrive at once are not waited for.
func updateNoTicks(tb testing.TB, m Model, msg tea.Msg) Model {
	tb.Helper()
	tm, cmd := m.Update(msg)
	for _, msg := range runCmdNoTicks(cmd) {
		tm, _ = tm.Update(msg)
	}
	return tm.(Model)
}

// runCmdNoTicks is runCmd that skips the commands that wait: the status
// timer, the filter's debounce and the stats tick.
func runCmdNoTicks(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	var msg tea.Msg
	select {
	case msg = <-done:
	case <-time.After(50 * time.Millisecond):
		return nil
	}
	batch, ok := msg.(tea.BatchMsg)
	if !ok {
		return []tea.Msg{msg}
	}
	var out []tea.Msg
	for _, c := range batch {
		out = append(out, runCmdNoTicks(c)...)
	}
	return out
}

func TestHelpClosesWithoutQuitting(t *testing.T) {
	for _, k := range []string{"q", "esc", "?"} {
		db := openTestDB(t, "", "a", "1")
		tm := startInspector(t, db, Config{})
		waitFor(t, tm, "key a")
		press(tm, "?")
		waitFor(t, tm, "CrabKv inspector")
		press(tm, k, "j")
		m := quit(t, tm)
		if m.state != stateBrowse {
			t.Errorf("%s on the help screen: state %d, want browsing", k, m.state)
		}
	}
}

func TestHelpScrollsOnASmallScreen(t *testing.T) {
	m := sizedModel(t, 40, 12, "a", "1")
	m = pressModel(t, m, "?")
	last := "closes this help"
	if strings.Contains(m.View(), last) {
		t.Fatalf("test needs a help screen taller than 12 rows:\n%s", m.View())
	}
	for range 400 { // more than the help's lines at 40 columns
		m = pressModel(t, m, "down")
	}
	if view := m.View(); !strings.Contains(view, last) || m.state != stateHelp {
		t.Errorf("scrolling the help did not reach its end:\n%s", view)
	}
}

func TestFooterAt80ColumnsKeepsHelpAndQuit(t *testing.T) {
	m := sizedModel(t, 80, 24, "a", "1")
	lines := strings.Split(m.View(), "\n")
	footer := lines[len(lines)-1]
	for _, want := range []string{"? help", "q quit"} {
		if !strings.Contains(footer, want) {
			t.Errorf("footer %q lacks %q", footer, want)
		}
	}
}

func TestTooSmallSaysWhatItNeeds(t *testing.T) {
	m := sizedModel(t, 30, 8, "a", "1")
	view := m.View()
	for _, l := range strings.Split(view, "\n") {
		if w := lipgloss.Width(l); w > 30 {
			t.Errorf("line %q is %d wide in a 30-column terminal", l, w)
		}
	}
	flat := strings.Join(strings.Fields(view), " ")
	for _, want := range []string{"30×8", "40×12"} {
		if !strings.Contains(flat, want) {
			t.Errorf("message %q does not say %s", flat, want)
		}
	}
}

func TestNarrowKeyRowsKeepTheKeysEnd(t *testing.T) {
	m := sizedModel(t, 50, 20,
		"config/replication/setting-001", "1",
		"config/replication/setting-002", "2")
	view := m.View()
	for _, want := range []string{"ing-001", "ing-002", "…"} {
		if !strings.Contains(view, want) {
			t.Errorf("the key list at 50 columns lacks %q:\n%s", want, view)
		}
	}
}

func TestFilterIsSmartCase(t *testing.T) {
	tests := []struct {
		query string
		want  int
	}{
		{"readme", 2}, {"README", 1}, {"^config/read", 2}, {"^config/README", 1},
	}
	keys := []string{"config/README", "config/readme.txt", "other"}
	for _, tt := range tests {
		if got := len(FilterKeys(keys, tt.query)); got != tt.want {
			t.Errorf("%q matches %d keys, want %d", tt.query, got, tt.want)
		}
	}
}

func TestFilterStartsAtFirstMatchAndShowsItsKeys(t *testing.T) {
	db := openTestDB(t, "", "a1", "1", "b", "2", "c", "3", "d1", "4")
	tm := startInspector(t, db, Config{})
	waitFor(t, tm, "4 keys")
	press(tm, "j", "j")
	waitFor(t, tm, "key c")
	press(tm, "/")
	waitFor(t, tm, "enter keep", "esc clear")
	typeText(tm, "1")
	waitFor(t, tm, "2 of 4", "key a1")
	press(tm, "enter")
	m := quit(t, tm)
	if k, _ := m.list.Selected(); k != "a1" {
		t.Errorf("selected %q after filtering, want the first match", k)
	}
}

func TestStatusTimesOut(t *testing.T) {
	m := sizedModel(t, 100, 30, "a", "1")
	tm, cmd := m.Update(keyMsg("r"))
	m = tm.(Model)
	if m.status.text != "reloaded" {
		t.Fatalf("status %q", m.status.text)
	}
	if cmd == nil {
		t.Fatal("no command")
	}
	m = updateNoTicks(t, m, statusExpiredMsg{seq: m.statusSeq})
	if m.status.text != "" {
		t.Errorf("status %q after it expired", m.status.text)
	}
	m = pressModel(t, m, "v")
	old := m.statusSeq
	m = pressModel(t, m, "v")
	m = updateNoTicks(t, m, statusExpiredMsg{seq: old})
	if m.status.text == "" {
		t.Error("an older timer cleared a newer status")
	}
}

func TestCountsAreGroupedAndSingular(t *testing.T) {
	m := sizedModel(t, 100, 30, "a", "1")
	if view := m.View(); !strings.Contains(view, "1 key ") && !strings.HasSuffix(strings.Split(view, "\n")[0], "1 key") {
		t.Errorf("title does not say 1 key:\n%s", strings.Split(view, "\n")[0])
	}
	if strings.Contains(m.View(), "1 keys") {
		t.Error("says 1 keys")
	}
	for n, want := range map[int]string{0: "0 keys", 1: "1 key", 2703: "2,703 keys", 1234567: "1,234,567 keys"} {
		if got := countKeys(n); got != want {
			t.Errorf("countKeys(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestCopyWithOSC52(t *testing.T) {
	var clip bytes.Buffer
	db := openTestDB(t, "", "user:1", "the value")
	tm := startInspector(t, db, Config{Clipboard: &clip})
	waitFor(t, tm, "key user:1", "offset ") // the value has loaded
	press(tm, "y")
	waitFor(t, tm, "copied the key")
	press(tm, "Y")
	waitFor(t, tm, "copied the value")
	quit(t, tm)
	for _, s := range []string{"user:1", "the value"} {
		if seq := "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(s)) + "\a"; !strings.Contains(clip.String(), seq) {
			t.Errorf("clipboard output %q lacks %q", clip.String(), seq)
		}
	}
}

func TestViewerHeaderShowsALongKeyInFull(t *testing.T) {
	long := "tenant/acme/region/eu-west-1/service/billing/invoice/2024/0001"
	db := openTestDB(t, "", long, "v")
	tm := startInspector(t, db, Config{}, teatest.WithInitialTermSize(80, 24))
	waitFor(t, tm, "invoice/2024/0001")
	m := quit(t, tm)
	flat := strings.Join(strings.Fields(m.viewer.View()), "")
	if !strings.Contains(flat, long) {
		t.Errorf("the viewer header does not show %q:\n%s", long, m.viewer.View())
	}
}

// TestInspectorViewerTopAndBottom drives g, G, Home and End in the viewer
// pane of the running inspector.
func TestInspectorViewerTopAndBottom(t *testing.T) {
	db := openTestDB(t, "", "long", string(numberedLines(300)))
	tm := startInspector(t, db, Config{})
	waitFor(t, tm, "line 0000000")
	press(tm, "tab", "G")
	waitFor(t, tm, "line 0000299")
	press(tm, "g")
	waitFor(t, tm, "line 0000000")
	press(tm, "end")
	waitFor(t, tm, "line 0000299")
	m := quit(t, tm)
	if !strings.Contains(m.viewer.View(), "line 0000299") {
		t.Errorf("the viewer is not at the end:\n%s", m.viewer.View())
	}
}

// TestInspectorEscapesInvisibleCharacters checks that the inspector shows
// zero-width and NUL characters as the CLI does.
func TestInspectorEscapesInvisibleCharacters(t *testing.T) {
	db := openTestDB(t, "", "zero\u200bwidth", "nul\x00byte")
	tm := startInspector(t, db, Config{})
	// The value is binary (NUL), so it is shown as hex first: once it
	// is, v steps to text. (Pressed before the value had loaded, the
	// steps started from another mode.)
	waitFor(t, tm, `zero\u200bwidth`, "view hex")
	press(tm, "v")
	waitFor(t, tm, "view text", `nul\x00byte`)
	quit(t, tm)
}

func TestCompactBytesFitsFiveCells(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 1023: "1023B", 2355: "2.3K", 648806: "634K", 1023 << 10: "1023K", 16 << 20: "16M"} {
		if got := compactBytes(n); got != want || len(got) > narrowSizeColumn {
			t.Errorf("compactBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
