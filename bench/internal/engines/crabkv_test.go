package engines

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCrabDropHintForcesReplay checks that DropHint removes the hint a
// Close writes, and that the store reopens from its log with its data.
func TestCrabDropHintForcesReplay(t *testing.T) {
	dir := t.TempDir()
	e := &crabEngine{}
	if err := e.Open(dir, false); err != nil {
		t.Fatal(err)
	}
	if err := e.Put([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	hint := filepath.Join(dir, "wal.hint")
	if _, err := os.Stat(hint); err != nil {
		t.Fatalf("no hint after Close: %v", err)
	}
	if err := e.DropHint(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(hint); !os.IsNotExist(err) {
		t.Fatalf("hint still there: %v", err)
	}
	if err := e.DropHint(dir); err != nil {
		t.Fatalf("second DropHint: %v", err)
	}
	if err := e.Open(dir, false); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if v, err := e.Get([]byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("Get after replay = %q, %v", v, err)
	}
}
