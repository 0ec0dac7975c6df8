package remote

import (
	"bytes"
	"io"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/crabkv/crabkv/server"
	"github.com/crabkv/crabkv/tui"
)

// The value search over the network reads small values with GET and a
// large one in windows with GETRANGE, finding a match past the first
// window; the size view ranks the server's keys, and the summary says the
// server does not tell how values are stored.
func TestSearchAndSizesOverTheNetwork(t *testing.T) {
	db, addr := serve(t, server.Options{})
	big := bytes.Repeat([]byte("hay "), 3<<20/4) // 3 MiB
	copy(big[2<<20+5:], "needle")
	for k, v := range map[string][]byte{"a": []byte("no"), "b": []byte("a needle"), "big": big, "c": []byte("\x00needle\xff")} {
		if err := db.Put([]byte(k), v); err != nil {
			t.Fatal(err)
		}
	}
	s := dial(t, "redis://"+addr)
	m := tui.NewWithStore(s, tui.Config{Getenv: func(string) string { return "" }, Clipboard: io.Discard})
	t.Cleanup(m.Close)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30))
	waitScreen(t, tm, "4 keys")
	tm.Send(key("f"))
	for _, r := range "needle" {
		tm.Send(key(string(r)))
	}
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	waitScreen(t, tm, "3 matches for needle", "scanned 4 keys")
	tm.Send(tea.KeyMsg{Type: tea.KeyEsc})
	tm.Send(key("S"))
	waitScreen(t, tm, "ranked 4 keys by value size", "the store does not say")
	tm.Send(key("q"))
	tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second))
}
