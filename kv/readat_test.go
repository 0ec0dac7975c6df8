package kv

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/crabkv/crabkv/walfmt"
)

// withoutMap runs fn with the store's log read through ReadAt rather than
// its memory map, so that both ways of reading are tested.
func withoutMap(db *DB, fn func()) {
	db.lockMu()
	m := db.mu.view.m
	db.mu.view.m = nil
	db.unlockMu()
	defer func() {
		db.lockMu()
		db.mu.view.m = m
		db.unlockMu()
	}()
	fn()
}

// pattern returns n bytes that differ from offset to offset, so that a
// read from the wrong place cannot pass.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestReadValueAtRanges(t *testing.T) {
	db, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	val := pattern(300 << 10) // several of valueAt's chunks
	if err := db.Put([]byte("big"), val); err != nil {
		t.Fatal(err)
	}
	if err := db.Put([]byte("small"), []byte("hello")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		off   int64
		n     int
		wantN int
		eof   bool
	}{
		{0, 10, 10, false},
		{0, len(val), len(val), false},
		{streamChunk - 20, 100, 100, false}, // across a chunk boundary
		{int64(len(val)) - 5, 10, 5, true},  // runs past the end
		{int64(len(val)), 10, 0, true},      // at the end
		{int64(len(val)) + 100, 10, 0, true},
		{1234, 0, 0, false},
	}
	for _, mapped := range []bool{true, false} {
		check := func() {
			for _, c := range cases {
				p := make([]byte, c.n)
				n, size, err := db.ReadValueAt([]byte("big"), p, c.off)
				if size != len(val) || n != c.wantN {
					t.Errorf("mapped %v, off %d, len %d: n %d size %d, want %d %d", mapped, c.off, c.n, n, size, c.wantN, len(val))
				}
				if c.eof != (err == io.EOF) || (!c.eof && err != nil) {
					t.Errorf("mapped %v, off %d, len %d: err %v, want EOF %v", mapped, c.off, c.n, err, c.eof)
				}
				if n > 0 && !bytes.Equal(p[:n], val[c.off:c.off+int64(n)]) {
					t.Errorf("mapped %v, off %d, len %d: wrong bytes", mapped, c.off, c.n)
				}
			}
			p := make([]byte, 8)
			n, size, err := db.ReadValueAt([]byte("small"), p, 1)
			if n != 4 || size != 5 || err != io.EOF || string(p[:n]) != "ello" {
				t.Errorf("mapped %v: small value: %d %d %v %q", mapped, n, size, err, p[:n])
			}
			if _, _, err := db.ReadValueAt([]byte("missing"), p, 0); !errors.Is(err, ErrNotFound) {
				t.Errorf("mapped %v: missing key: %v", mapped, err)
			}
		}
		if mapped {
			if db.mu.view.m == nil {
				t.Log("no memory map on this system")
			}
			check()
		} else {
			withoutMap(db, check)
		}
	}
	if _, _, err := db.ReadValueAt([]byte("big"), make([]byte, 1), -1); err == nil {
		t.Error("negative offset accepted")
	}
}

func TestReadValueAtDamage(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	val := pattern(200 << 10)
	if err := db.Put([]byte("big"), val); err != nil {
		t.Fatal(err)
	}
	e, err := db.Entry([]byte("big"))
	if err != nil {
		t.Fatal(err)
	}
	// Damage a byte far from the part read, in the last chunk.
	f, err := os.OpenFile(filepath.Join(dir, logName), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	at := e.Offset + int64(e.RecordSize) - 3
	if _, err := f.WriteAt([]byte{^val[len(val)-3]}, at); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, mapped := range []bool{true, false} {
		check := func() {
			p := make([]byte, 16)
			n, _, err := db.ReadValueAt([]byte("big"), p, 0)
			if !errors.Is(err, walfmt.ErrCorrupt) || n != 0 {
				t.Errorf("mapped %v: damaged record read: n %d, err %v", mapped, n, err)
			}
		}
		if mapped {
			check()
		} else {
			withoutMap(db, check)
		}
	}
	db.Close()
}

func TestReadValueAtAllocs(t *testing.T) {
	db, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	small, large := pattern(4<<10), pattern(8<<20)
	if err := db.Put([]byte("small"), small); err != nil {
		t.Fatal(err)
	}
	if err := db.Put([]byte("large"), large); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 1024)
	// measure returns the allocations of one read of key, and the bytes
	// allocated by runs of them.
	measure := func(key string) (allocs float64, bytes uint64) {
		read := func() {
			if _, _, err := db.ReadValueAt([]byte(key), p, 100); err != nil {
				t.Fatal(err)
			}
		}
		allocs = testing.AllocsPerRun(20, read)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 20 {
			read()
		}
		runtime.ReadMemStats(&after)
		return allocs, after.TotalAlloc - before.TotalAlloc
	}
	// counts measures the allocations of a read of each key with no
	// garbage collection between: a collection empties the buffer pools,
	// and the next read allocates whatever it reads through (a busy test
	// binary may collect at any moment). It tries a few times.
	counts := func() (a, b float64, bytes uint64, ok bool) {
		for range 5 {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			measure("large") // fill the buffer pool
			a, _ = measure("small")
			b, bytes = measure("large")
			runtime.ReadMemStats(&after)
			if after.NumGC == before.NumGC {
				return a, b, bytes, true
			}
		}
		return a, b, bytes, false
	}
	for _, mapped := range []bool{true, false} {
		check := func() {
			// One more is allowed: sync.Pool keeps a processor's last
			// buffer to itself, so a read on a busy machine, moved to
			// another processor than the last read's, may allocate one.
			// A measurement may still be unlucky (moved on every read):
			// the counts must compare well in one of a few, as a copy of
			// the value or a buffer kept from the pool would in none.
			var a, b float64
			var bytes uint64
			quiet, fits := false, false
			for range 5 {
				var q bool
				a, b, bytes, q = counts()
				quiet = quiet || q
				if q && b <= a+1 {
					fits = true
					break
				}
			}
			if !quiet {
				t.Logf("mapped %v: a collection ran during every measurement; allocation counts not compared", mapped)
			}
			if quiet && !fits && !raceEnabled {
				t.Errorf("mapped %v: %v allocations for an 8 MiB value, %v for 4 KiB", mapped, b, a)
			}
			// A copy of the value would be 8 MiB a read.
			if bytes > 4<<20 {
				t.Errorf("mapped %v: 20 reads of an 8 MiB value allocated %d bytes", mapped, bytes)
			}
		}
		if mapped {
			check()
		} else {
			withoutMap(db, check)
		}
	}
}
