package remote

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/crabkv/crabkv/internal/ndjson"
	"github.com/crabkv/crabkv/server"
	"github.com/crabkv/crabkv/tui"
)

func key(s string) tea.KeyMsg {
	switch s {
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "space":
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

func waitScreen(tb testing.TB, tm *teatest.TestModel, want ...string) {
	tb.Helper()
	teatest.WaitFor(tb, tm.Output(), func(b []byte) bool {
		for _, w := range want {
			if !bytes.Contains(b, []byte(w)) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
}

// The inspector on a server streams a value over its render limit a part
// at a time, as it does on a directory, and deletes marked keys there.
func TestInspectorOverTheNetwork(t *testing.T) {
	db, addr := serve(t, server.Options{})
	var big []byte
	const lines = 3 << 20 / 13 // 3 MiB of 13-byte lines
	for i := range lines {
		big = fmt.Appendf(big, "line %07d\n", i)
	}
	for k, v := range map[string][]byte{"a": []byte("one"), "b": []byte("two"), "big": big, "c": []byte("three")} {
		if err := db.Put([]byte(k), v); err != nil {
			t.Fatal(err)
		}
	}
	s := dial(t, "redis://"+addr)
	m := tui.NewWithStore(s, tui.Config{Getenv: func(string) string { return "" }, Clipboard: io.Discard})
	t.Cleanup(m.Close)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30))
	waitScreen(t, tm, "redis://"+addr, "4 keys", "one")

	tm.Send(key("space")) // a, and on to b
	tm.Send(key("j"))     // big
	waitScreen(t, tm, "line 0000000", "part 1/3")
	tm.Send(key("tab"))
	tm.Send(key("G"))
	waitScreen(t, tm, fmt.Sprintf("line %07d", lines-1), "part 3/3")
	tm.Send(key("tab"))
	tm.Send(key("j")) // c
	tm.Send(key("space"))
	waitScreen(t, tm, "2 marked")
	tm.Send(key("D"))
	waitScreen(t, tm, "delete the 2 marked keys? y/n")
	tm.Send(key("y"))
	waitScreen(t, tm, "deleted 2 keys")
	tm.Send(key("q"))
	tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second))
	if keys := db.Keys(nil); !slices.Equal(keys, []string{"b", "big"}) {
		t.Errorf("keys on the server after D: %q", keys)
	}
}

// Over the network the viewer shows a key's expiry, which PTTL gives,
// and the list marks the key.
func TestInspectorShowsExpiryOverTheNetwork(t *testing.T) {
	db, addr := serve(t, server.Options{})
	if err := db.PutTTL([]byte("session"), []byte("v"), 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	s := dial(t, "redis://"+addr)
	m := tui.NewWithStore(s, tui.Config{Getenv: func(string) string { return "" }, Clipboard: io.Discard})
	t.Cleanup(m.Close)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30))
	waitScreen(t, tm, "expires in 1h59m", "◔")
	tm.Send(key("q"))
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
}

// The export over the network writes expires_at for a key with an
// expiry, read with PTTL, and nothing more for a key without one.
func TestInspectorExportsExpiryOverTheNetwork(t *testing.T) {
	db, addr := serve(t, server.Options{})
	if err := db.PutTTL([]byte("session"), []byte("v"), 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := db.Put([]byte("plain"), []byte("w")); err != nil {
		t.Fatal(err)
	}
	at, err := db.ExpiresAt([]byte("session"))
	if err != nil {
		t.Fatal(err)
	}
	s := dial(t, "redis://"+addr)
	dir := t.TempDir()
	m := tui.NewWithStore(s, tui.Config{Getenv: func(string) string { return "" }, Clipboard: io.Discard, ExportDir: dir})
	t.Cleanup(m.Close)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(200, 30))
	waitScreen(t, tm, "2 keys")
	tm.Send(key("x"))
	waitScreen(t, tm, "export")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitScreen(t, tm, "exported 2 keys")
	tm.Send(key("q"))
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))

	got, err := os.ReadFile(filepath.Join(dir, "crabkv-export.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(got), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("exported %q, want 2 lines", got)
	}
	if _, _, exp, err := ndjson.ParsePair(lines[0]); err != nil || !exp.IsZero() {
		t.Errorf("plain: expires %v, %v; want none", exp, err)
	}
	// PTTL counts in milliseconds and the inspector adds it to its own
	// clock: the instant is the store's within the test's bound.
	if _, _, exp, err := ndjson.ParsePair(lines[1]); err != nil || exp.IsZero() || exp.Sub(at).Abs() > 10*time.Second {
		t.Errorf("session: expires %v, %v; the store says %v", exp, err, at)
	}
}
