package kv

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestCloseTrimsWhatAFailedReservationLeft leaves the log file longer than
// the store counts as reserved, as a fallocate that fails on a full ext4
// disk can (it may extend the file part of the way before it fails), and
// finds the closed log exactly its records, and every key there after a
// reopen.
func TestCloseTrimsWhatAFailedReservationLeft(t *testing.T) {
	for _, noSync := range []bool{true, false} {
		t.Run(fmt.Sprintf("NoSync=%v", noSync), func(t *testing.T) {
			dir := t.TempDir()
			db, err := Open(dir, &Options{NoSync: noSync})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 100 {
				if err := db.Put(fmt.Appendf(nil, "k%03d", i), []byte("value")); err != nil {
					t.Fatal(err)
				}
			}
			db.wmu.Lock()
			tail := db.tail
			// What the append path leaves after a failed reservation:
			// alloc at the tail, the file past it.
			db.alloc, db.zeroed = tail, min(db.zeroed, tail)
			err = db.mu.view.f.Truncate(tail + 3<<20)
			db.wmu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(filepath.Join(dir, "wal.log"))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != tail {
				t.Fatalf("closed log: %d bytes; want %d, its records", fi.Size(), tail)
			}
			db, err = Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for i := range 100 {
				if v, err := db.Get(fmt.Appendf(nil, "k%03d", i)); err != nil || string(v) != "value" {
					t.Fatalf("k%03d = %q, %v", i, v, err)
				}
			}
		})
	}
}
