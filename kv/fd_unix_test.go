//go:build unix

package kv

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestMapLogBesideClose maps a log while another goroutine closes it and
// opens another file, which the kernel gives the lowest free descriptor:
// the one just closed. A map must be of the log asked for or not be made;
// mapping by a descriptor number read before the close would map the other
// file (and the race detector reports the read of it).
func TestMapLogBesideClose(t *testing.T) {
	dir := t.TempDir()
	logBytes := bytes.Repeat([]byte("log "), 1024)
	otherBytes := bytes.Repeat([]byte("XXXX"), 1024)
	logPath, otherPath := filepath.Join(dir, "wal.log"), filepath.Join(dir, "other")
	for _, f := range []struct {
		path string
		b    []byte
	}{{logPath, logBytes}, {otherPath, otherBytes}} {
		if err := os.WriteFile(f.path, f.b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mapped := 0
	for range 300 {
		f, err := os.Open(logPath)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var other *os.File
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = f.Close()
			other, _ = os.Open(otherPath)
		}()
		m := mapLog(osFile{f}, int64(len(logBytes)), false)
		wg.Wait()
		if m != nil {
			mapped++
			if !bytes.Equal(m.data[:len(logBytes)], logBytes) {
				t.Fatalf("the map of the log holds another file's bytes: %q…", m.data[:8])
			}
			if err := m.unmap(); err != nil {
				t.Fatal(err)
			}
		}
		if other != nil {
			_ = other.Close()
		}
	}
	t.Logf("%d of 300 maps made before the close", mapped)
}
