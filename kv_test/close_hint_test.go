package kv_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// TestCloseWhenTheHintCannotBeWritten fills a store and closes it on a
// disk that refuses the hint or its expiry sidecar (full, or past a file
// size limit) at each step of their writing: a hint only spares the next
// Open a replay, so Close succeeds, and the store opens again with every
// write, beside the old hint, left whole.
func TestCloseWhenTheHintCannotBeWritten(t *testing.T) {
	for _, tc := range []struct {
		step   fsOp
		target string // the file refused (a rename's, by its new name)
	}{
		{opOpen, "wal.hint.exp.tmp"}, {opWrite, "wal.hint.exp.tmp"}, {opRename, "wal.hint.exp"},
		{opOpen, "wal.hint.tmp"}, {opWrite, "wal.hint.tmp"}, {opSync, "wal.hint.tmp"}, {opRename, "wal.hint"},
	} {
		step := tc.step
		t.Run(string(step)+"/"+tc.target, func(t *testing.T) {
			dir := t.TempDir()
			want := map[string]string{}
			db := openDB(t, dir, &kv.Options{NoSync: true})
			for i := range 3000 {
				k, v := fmt.Sprintf("k%05d", i), strings.Repeat("v", 50)
				mustPut(t, db, k, v)
				want[k] = v
			}
			if err := db.Close(); err != nil { // a hint on disk, for the second round
				t.Fatal(err)
			}
			ffs := newFaultFS(kv.DefaultFS())
			db = openDB(t, dir, &kv.Options{NoSync: true, FS: ffs})
			for i := range 1000 {
				k := fmt.Sprintf("n%05d", i)
				mustPut(t, db, k, "new")
				want[k] = "new"
			}
			if err := db.Delete([]byte("k00007")); err != nil {
				t.Fatal(err)
			}
			delete(want, "k00007")
			refused := 0
			ffs.SetInject(func(op fsOp, name string, flag int) error {
				base := filepath.Base(name)
				if op == step && base == tc.target {
					refused++
					return syscall.ENOSPC
				}
				return nil
			})
			if err := db.Close(); err != nil {
				t.Fatalf("Close with the hint refused at %s: %v, want nil: every write is in the log", step, err)
			}
			if refused == 0 {
				t.Fatalf("no %s of %s was refused", step, tc.target)
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.Contains(e.Name(), ".tmp") {
					t.Errorf("left behind: %s", e.Name())
				}
			}
			db = openDB(t, dir, &kv.Options{NoSync: true})
			wantContents(t, db, want)
			if _, err := db.Get([]byte("k00007")); !errors.Is(err, kv.ErrNotFound) {
				t.Errorf("k00007, deleted before the Close: %v", err)
			}
		})
	}
}
