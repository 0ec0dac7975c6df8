package kv

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
)

// openFollowFile writes pages pages of a known pattern to a file, opens it
// read-only as the follower does and maps it whole.
func openFollowFile(t *testing.T, pages int) (*followFile, string, []byte) {
	t.Helper()
	pg := os.Getpagesize()
	data := make([]byte, pages*pg)
	for i := range data {
		data[i] = byte(i*7 + i/pg)
	}
	path := filepath.Join(t.TempDir(), logName)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := DefaultFS().OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	ff := newFollowFile(f, int64(len(data)))
	t.Cleanup(func() { _ = ff.Close() })
	return ff, path, data
}

// TestFollowFileReadsThroughMap checks that the follower's file maps the
// log where the system can, and that every read, inside the map, across
// its limit and past it, returns the file's bytes.
func TestFollowFileReadsThroughMap(t *testing.T) {
	ff, _, data := openFollowFile(t, 3)
	if runtime.GOOS != "windows" && ff.mu.m == nil {
		t.Fatal("the log is not mapped")
	}
	limit := int64(len(data)) - 100
	ff.advance(limit)
	for _, c := range []struct{ off, n int }{{0, 16}, {4000, 300}, {int(limit) - 10, 10}, {int(limit) - 10, 60}, {int(limit) + 5, 50}} {
		b := make([]byte, c.n)
		n, err := ff.ReadAt(b, int64(c.off))
		if err != nil || n != c.n || !bytes.Equal(b, data[c.off:c.off+c.n]) {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, %v; bytes match: %v", c.n, c.off, n, err, bytes.Equal(b, data[c.off:c.off+c.n]))
		}
	}
}

// TestFollowFileCutUnderMap cuts the file below what the follower mapped,
// as a writer's repair of a torn tail does, and checks that a read of the
// cut pages returns errLogCut instead of ending the process with SIGBUS,
// that the bytes still in the file read as before, and that the guard is
// off again afterwards.
func TestFollowFileCutUnderMap(t *testing.T) {
	ff, path, data := openFollowFile(t, 4)
	if ff.mu.m == nil {
		t.Skip("the system cannot map the log")
	}
	pg := os.Getpagesize()
	if err := os.Truncate(path, int64(pg)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 100)
	for _, off := range []int{pg, 2*pg + 17, 4*pg - 100} {
		_, err := ff.ReadAt(b, int64(off))
		if !errors.Is(err, errLogCut) || !errors.Is(err, ErrLogReplaced) {
			t.Fatalf("read at %d past the cut: %v, want errLogCut", off, err)
		}
	}
	if _, err := ff.ReadAt(b, 10); err != nil || !bytes.Equal(b, data[10:110]) {
		t.Fatalf("read before the cut: %v", err)
	}
	// A copy that starts before the cut and ends past it faults part way.
	if _, err := ff.ReadAt(b, int64(pg)-50); !errors.Is(err, errLogCut) {
		t.Fatalf("read across the cut: %v, want errLogCut", err)
	}
	if !debugPanicOnFaultOff() {
		t.Fatal("the fault guard stayed on after the read")
	}
}

// TestFollowFileClosed checks that a read after Close, as an order build
// holding the file of a log the follower has switched from may make, is an
// error, not a read of released memory.
func TestFollowFileClosed(t *testing.T) {
	ff, _, _ := openFollowFile(t, 2)
	if err := ff.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ff.ReadAt(make([]byte, 8), 0); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("read after Close: %v, want os.ErrClosed", err)
	}
	ff.advance(100) // does not map a closed file again
	if ff.mu.m != nil {
		t.Fatal("advance mapped a closed file")
	}
}

// TestCopyGuardedPassesOtherPanics checks that the guard turns only
// memory faults into errors.
func TestCopyGuardedPassesOtherPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("a panic that is not a fault was swallowed")
		}
	}()
	_ = faultError("not a fault")
}

// debugPanicOnFaultOff reports whether the calling goroutine's fault guard
// is off, leaving it as it was.
func debugPanicOnFaultOff() bool {
	old := debug.SetPanicOnFault(false)
	debug.SetPanicOnFault(old)
	return !old
}

// BenchmarkFollowFileRead measures what a follower's read of a record-sized
// piece of its log costs: through the guarded map, against a plain copy
// of the same bytes (the floor), and against ReadAt on the file (what a
// follower did without the map).
//
//	go test -run '^$' -bench FollowFileRead ./kv/
func BenchmarkFollowFileRead(b *testing.B) {
	pg := os.Getpagesize()
	path := filepath.Join(b.TempDir(), logName)
	if err := os.WriteFile(path, make([]byte, 64*pg), 0o644); err != nil {
		b.Fatal(err)
	}
	f, err := DefaultFS().OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	ff := newFollowFile(f, int64(64*pg))
	defer func() { _ = ff.Close() }()
	if ff.mu.m == nil {
		b.Skip("the system cannot map the log")
	}
	buf := make([]byte, 128)
	offs := func(i int) int64 { return int64(i*4099) % int64(63*pg) }
	b.Run("copy", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			copy(buf, ff.mu.m.data[offs(i):])
		}
	})
	b.Run("guarded", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if err := copyGuarded(buf, ff.mu.m.data[offs(i):offs(i)+128]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("followFile", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := ff.ReadAt(buf, offs(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pread", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := f.ReadAt(buf, offs(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
