package tui

import (
	"fmt"
	"os"
	"sync"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/crabkv/crabkv/kv"
)

// benchKeys is the size of the store the benchmarks move through.
const benchKeys = 1_000_000

var (
	benchOnce sync.Once
	benchDir  string
	benchErr  error
)

// TestMain removes the benchmark store, which is shared by all benchmarks
// because writing a million keys takes seconds.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// millionKeyStore returns the directory of a store holding benchKeys keys,
// written on first use.
func millionKeyStore(b *testing.B) string {
	b.Helper()
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp("", "crabkv-bench-")
		if benchErr != nil {
			return
		}
		var db *kv.DB
		db, benchErr = kv.Open(benchDir, &kv.Options{NoSync: true})
		if benchErr != nil {
			return
		}
		for i := 0; i < benchKeys && benchErr == nil; i++ {
			benchErr = db.Put(fmt.Appendf(nil, "user:%07d", i), fmt.Appendf(nil, `{"id":%d,"name":"user %d"}`, i, i))
		}
		if err := db.Close(); benchErr == nil {
			benchErr = err
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDir
}

// openBenchModel opens the million-key store and returns a model that has
// drawn its first frame.
func openBenchModel(b *testing.B, dir string) (Model, *kv.DB) {
	db, err := kv.Open(dir, &kv.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	m := New(db, Config{ReadOnly: true})
	tm, _ := m.Update(tea.WindowSizeMsg{Width: 100, Height: 40})
	tm, _ = tm.Update(loadKeysCmd(NewDBStore(db, nil), 0)())
	_ = tm.View()
	return tm.(Model), db
}

// BenchmarkFirstFrame measures opening a million-key store, taking its
// sorted key snapshot and drawing the first frame.
func BenchmarkFirstFrame(b *testing.B) {
	dir := millionKeyStore(b)
	for b.Loop() {
		m, db := openBenchModel(b, dir)
		m.Close()
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// benchKeystroke measures Update and View for one key press, over and over.
func benchKeystroke(b *testing.B, setup []tea.Msg, press tea.Msg) {
	dir := millionKeyStore(b)
	m, db := openBenchModel(b, dir)
	defer db.Close()
	defer m.Close()
	var tm tea.Model = m
	for _, msg := range setup {
		tm, _ = tm.Update(msg)
	}
	for b.Loop() {
		tm, _ = tm.Update(press)
		_ = tm.View()
		if tm.(Model).list.cursor >= benchKeys-1 {
			tm, _ = tm.Update(keyMsg("g"))
		}
	}
}

func BenchmarkKeyDown(b *testing.B)  { benchKeystroke(b, nil, keyMsg("j")) }
func BenchmarkPageDown(b *testing.B) { benchKeystroke(b, nil, keyMsg("pgdown")) }

// BenchmarkFilterKeystroke is one key typed into the filter: the debounce
// means the keystroke itself only schedules the filter.
func BenchmarkFilterKeystroke(b *testing.B) {
	benchKeystroke(b, []tea.Msg{keyMsg("/")}, keyMsg("9"))
}

// BenchmarkFilterScan is the filter command the debounce starts: a
// substring match over a million keys, off the UI goroutine.
func BenchmarkFilterScan(b *testing.B) {
	keys := testKeys(benchKeys)
	for b.Loop() {
		_ = FilterKeys(keys, "99999")
	}
}

// BenchmarkFilterPrefix is a ^prefix filter: a binary search.
func BenchmarkFilterPrefix(b *testing.B) {
	keys := testKeys(benchKeys)
	for b.Loop() {
		_ = FilterKeys(keys, "^key:09")
	}
}

// BenchmarkKeysSnapshot is the sorted key snapshot a reload takes.
func BenchmarkKeysSnapshot(b *testing.B) {
	dir := millionKeyStore(b)
	db, err := kv.Open(dir, &kv.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for b.Loop() {
		_ = db.Keys(nil)
	}
}

// BenchmarkAddRemoveKey is what a create and then a delete in the inspector
// cost the key list at a million keys: each copies the snapshot once.
func BenchmarkAddRemoveKey(b *testing.B) {
	l := newTestList(testKeys(benchKeys), 60, 36)
	for b.Loop() {
		l.AddKey("key:0500000x")
		l.RemoveKey("key:0500000x")
	}
}

// BenchmarkMarkShown is a at a million keys shown: every key marked,
// then the sorted list D and x take.
func BenchmarkMarkShown(b *testing.B) {
	l := newTestList(testKeys(benchKeys), 60, 36)
	for b.Loop() {
		l.ClearMarks()
		l.MarkShown()
		_ = l.Marked()
	}
}

// BenchmarkKeyDownMarked is a key press at a million keys, all marked.
func BenchmarkKeyDownMarked(b *testing.B) {
	m, db := openBenchModel(b, millionKeyStore(b))
	defer db.Close()
	m.list.MarkShown()
	msg := keyMsg("j")
	for b.Loop() {
		tm, _ := m.Update(msg)
		_ = tm.View()
	}
}
