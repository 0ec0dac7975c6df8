package tui

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/crabkv/crabkv/kv"
)

// The inspector's benchmarks at ten million keys run only when
// CRABKV_BENCH_10M names a directory: the store they browse (16-byte
// keys, 100-byte values, about 1.4 GB) is written there on first use, with
// NoSync, and kept for later runs, since writing it takes minutes.
// CRABKV_BENCH_10M_KEYS sets another number of keys, for a smaller store
// in another directory.
const bench10MEnv = "CRABKV_BENCH_10M"

// bench10MKeys is the number of keys of the store.
var bench10MKeys = func() int {
	if n, err := strconv.Atoi(os.Getenv(bench10MEnv + "_KEYS")); err == nil && n > 0 {
		return n
	}
	return 10_000_000
}()

// tenMillionKeyStore returns the directory of the ten-million-key store,
// writing it if it is not there, or skips b when CRABKV_BENCH_10M is unset.
func tenMillionKeyStore(tb testing.TB) string {
	tb.Helper()
	root := os.Getenv(bench10MEnv)
	if root == "" {
		tb.Skip("set " + bench10MEnv + " to a directory to run the ten-million-key benchmarks")
	}
	if bench10MKeys != 10_000_000 {
		root = filepath.Join(root, strconv.Itoa(bench10MKeys))
	}
	dir := filepath.Join(root, "store")
	done := filepath.Join(root, "complete")
	if _, err := os.Stat(done); err == nil {
		return dir
	}
	if err := os.RemoveAll(dir); err != nil {
		tb.Fatal(err)
	}
	if err := fill10M(dir); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// bench10MKey is the i-th key of the ten-million-key store: 16 bytes.
func bench10MKey(i int) []byte { return fmt.Appendf(nil, "key:%012d", i) }

// fill10M writes the keys in a scattered order (i*7919 mod n), as a
// store filled by many clients would hold them, in batches, then opens
// and scans the store once so that its Close writes the key order and the
// hint, as a store in use would have them.
func fill10M(dir string) error {
	db, err := kv.Open(dir, &kv.Options{NoSync: true})
	if err != nil {
		return err
	}
	value := make([]byte, 100)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	b := db.NewBatch()
	for i := 0; i < bench10MKeys; i++ {
		b.Put(bench10MKey(i*7919%bench10MKeys), value)
		if b.Len() == 1000 || i == bench10MKeys-1 {
			if err := db.Write(b); err != nil {
				_ = db.Close()
				return err
			}
			b.Reset()
		}
	}
	db.Ascend([]byte("key:"), func([]byte) bool { return false }) // builds the key order
	return db.Close()
}

// TestBuild10MStore writes the ten-million-key store, when asked for.
func TestBuild10MStore(t *testing.T) { tenMillionKeyStore(t) }

// open10M opens the store and returns the inspector on it, as a snapshot
// of every key (the list of old, and of the remote store) or as a window,
// with its first frame drawn.
func open10M(tb testing.TB, dir string, snapshot bool) (Model, *kv.DB) {
	tb.Helper()
	db, err := kv.Open(dir, &kv.Options{ReadOnly: true})
	if err != nil {
		tb.Fatal(err)
	}
	return firstFrame(tb, db, snapshot), db
}

// firstFrame returns the inspector on db with its first frame drawn.
// The benchmarks run the key list's own reads, in line, and none of the
// other commands (the value, the sizes, the figures), which do not hold
// up the list.
func firstFrame(tb testing.TB, db *kv.DB, snapshot bool) Model {
	tb.Helper()
	var s Store = NewDBStore(db, nil)
	if snapshot {
		s = snapshotStore{s}
	}
	m := NewWithStore(s, Config{ReadOnly: true, StatusTimeout: -1})
	tm, _ := m.Update(tea.WindowSizeMsg{Width: 100, Height: 40})
	if snapshot {
		tm, _ = tm.Update(loadKeysCmd(s, 0)())
	} else {
		tm, _ = tm.Update(m.list.initial())
	}
	m = tm.(Model)
	if len(m.list.Visible()) == 0 {
		tb.Fatal("no keys on the first screen")
	}
	_ = m.View()
	return m
}

// listPress gives msg to the key list and applies the read it starts,
// if any, with the ones that follow it when follow is set, and returns
// the model with the list's frame drawn.
func listPress(m Model, msg tea.Msg, follow bool) Model {
	l, cmd := m.list.Update(msg)
	m.list = l
	for cmd != nil {
		reply := cmd()
		if _, ok := reply.(tea.BatchMsg); ok {
			break // the filter input's cursor and debounce timers
		}
		m.list, cmd = m.list.Update(reply)
		if !follow {
			break
		}
	}
	_ = m.View()
	return m
}

// BenchmarkInspector10MFirstFrame is the time from an open store to the
// first screen of sorted keys: the whole snapshot, or the first window.
func BenchmarkInspector10MFirstFrame(b *testing.B) {
	dir := tenMillionKeyStore(b)
	for _, mode := range []string{"window", "snapshot"} {
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				db, err := kv.Open(dir, &kv.Options{ReadOnly: true})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				m := firstFrame(b, db, mode == "snapshot")
				b.StopTimer()
				m.Close()
				if err := db.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkInspector10MBottom is G from the first screen: the last keys.
func BenchmarkInspector10MBottom(b *testing.B) {
	m, db := open10M(b, tenMillionKeyStore(b), false)
	defer db.Close()
	defer m.Close()
	for b.Loop() {
		m = listPress(m, keyMsg("G"), false)
		b.StopTimer()
		if k, _ := m.list.Selected(); k != string(bench10MKey(bench10MKeys-1)) {
			b.Fatalf("G selected %q", k)
		}
		m = listPress(m, keyMsg("g"), true)
		b.StartTimer()
	}
}

// BenchmarkInspector10MPageDown is PgDn, page after page: now and then
// the window reads more keys ahead of the screen, in line here.
func BenchmarkInspector10MPageDown(b *testing.B) {
	m, db := open10M(b, tenMillionKeyStore(b), false)
	defer db.Close()
	defer m.Close()
	for b.Loop() {
		m = listPress(m, keyMsg("pgdown"), true)
	}
}

// BenchmarkInspector10MPrefixFilter is a ^prefix filter once its
// debounce ends: "^key:0000050" (at ten million keys) is case-blind, so
// eight ranges, one per spelling of "key", are read for a window.
func BenchmarkInspector10MPrefixFilter(b *testing.B) {
	m, db := open10M(b, tenMillionKeyStore(b), false)
	defer db.Close()
	defer m.Close()
	prefix := string(bench10MKey(bench10MKeys / 2))[:11]
	m = listPress(m, keyMsg("/"), false)
	for _, r := range "^" + prefix {
		m = listPress(m, keyMsg(string(r)), false)
	}
	for b.Loop() {
		m = listPress(m, filterTickMsg{seq: m.list.seq}, false)
	}
	if k, _ := m.list.Selected(); k != prefix+"00000" {
		b.Fatalf("the filter selected %q", k)
	}
}

// BenchmarkInspector10MSubstring is a substring keystroke: the keystroke
// itself (debounced), then the filter's first chunk of matches on screen
// with its progress, then the whole scan.
func BenchmarkInspector10MSubstring(b *testing.B) {
	m, db := open10M(b, tenMillionKeyStore(b), false)
	defer db.Close()
	defer m.Close()
	m = listPress(m, keyMsg("/"), false)
	b.Run("keystroke", func(b *testing.B) {
		for b.Loop() {
			tm, _ := m.Update(keyMsg("9"))
			_ = tm.View()
		}
	})
	for range 3 {
		m = listPress(m, keyMsg("9"), false)
	}
	b.Run("first-chunk", func(b *testing.B) {
		for b.Loop() {
			got := listPress(m, filterTickMsg{seq: m.list.seq}, false)
			if !got.list.scanning {
				b.Fatal("the scan ended after one chunk")
			}
		}
	})
	b.Run("whole-scan", func(b *testing.B) {
		for b.Loop() {
			m = listPress(m, filterTickMsg{seq: m.list.seq}, true)
		}
		if m.list.scanning || len(m.list.items) == 0 {
			b.Fatalf("scan running %v, %d matches", m.list.scanning, len(m.list.items))
		}
	})
}

// BenchmarkInspector10MMemory reports the memory of the engine alone
// (the store open, its key order loaded) and of the inspector on it
// after its first frame, as a window or a snapshot. Run each on its own
// (-bench 'Memory/engine$') so that each is its own process.
func BenchmarkInspector10MMemory(b *testing.B) {
	dir := tenMillionKeyStore(b)
	for _, mode := range []string{"engine", "window", "snapshot"} {
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				db, err := kv.Open(dir, &kv.Options{ReadOnly: true})
				if err != nil {
					b.Fatal(err)
				}
				var m Model
				if mode == "engine" {
					it := db.NewKeyIterator(nil, nil)
					_ = it.Next() // the key order, as the inspector's first read loads it
					if err := it.Close(); err != nil {
						b.Fatal(err)
					}
				} else {
					m = firstFrame(b, db, mode == "snapshot")
				}
				reportMemory(b)
				runtime.KeepAlive(m)
				if mode != "engine" { // the engine alone has no inspector to close
					m.Close()
				}
				if err := db.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// reportMemory reports the Go heap in use after a collection, and the
// process's resident set, in MB.
func reportMemory(b *testing.B) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/1e6, "heap-MB")
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, line := range bytes.Split(status, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			kb, _ := strconv.Atoi(string(bytes.Fields(v)[0]))
			b.ReportMetric(float64(kb)/1e3, "rss-MB")
		}
	}
}
