package kv

import (
	"os"
	"path/filepath"
	"testing"
)

// A program holds a follower on a store (its wal.zdict registered, read
// up to its end then); a writer in another process trains dictionary D1
// and exits; the program then opens a writer itself, which shares the
// follower's dictFile and trains D2. The append moved past D1, which this
// program had never read: D1's values failed until every store on the
// file closed. The writer reads the file to its end before it appends.
func TestZdictAppendReadsFirst(t *testing.T) {
	dir := t.TempDir()
	w0, err := Open(dir, &Options{NoSync: true, Codec: ZstdDict, FS: otherFS{DefaultFS()}, Compaction: dictOptions().Compaction})
	if err != nil {
		t.Fatal(err)
	}
	if err := w0.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	o := dictOptions()
	o.FS = otherFS{DefaultFS()}
	w1, err := Open(dir, o) // another process
	if err != nil {
		t.Fatal(err)
	}
	fillDocs(t, w1, 0, zstdDictSamples+50)
	if err := w1.Close(); err != nil {
		t.Fatal(err)
	}
	if n := dictEntries(t, dir); n != 1 {
		t.Fatalf("%d dictionaries", n)
	}
	w2, err := Open(dir, dictOptions()) // this program
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	fillDocs(t, w2, 100000, 100000+zstdDictSamples+50)
	if n := dictEntries(t, dir); n != 2 {
		t.Fatalf("%d dictionaries, want D1 and D2", n)
	}
	wantDocs(t, w2, 0, zstdDictSamples+50)
	wantDocs(t, w2, 100000, 100000+zstdDictSamples+50)
}

// tornFS splits the write of a wal.zdict entry in two, once armed, and in
// between a reader in this program misses a dictionary and reads every
// file again: a read of the file that sees a write half done.
type tornFS struct {
	FS
	armed bool
}

type tornFile struct {
	File
	fs *tornFS
}

func (f *tornFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	h, err := f.FS.OpenFile(name, flag, perm)
	if err != nil || filepath.Base(name) != zdictName {
		return h, err
	}
	return &tornFile{File: h, fs: f}, nil
}

// WriteAt writes the entry in two steps, and between them a reader in
// this program misses a dictionary and reads every file again, as a
// concurrent read of the file may see a write half done.
func (f *tornFile) WriteAt(b []byte, off int64) (int, error) {
	if !f.fs.armed {
		return f.File.WriteAt(b, off)
	}
	f.fs.armed = false
	n, err := f.File.WriteAt(b[:len(b)/2], off)
	if err != nil {
		return n, err
	}
	_, _ = zdicts.decoder(0x7fff_fff1)
	m, err := f.File.WriteAt(b[len(b)/2:], off+int64(n))
	return n + m, err
}

// A reader that reads the file while this program's writer is half way
// through its append sees a tail with no sound entry yet; once the append
// is done, that is no damage. It was kept as "bytes 0 to 0 (an entry cut
// short)", reported as damage in every later error.
func TestZdictOwnAppendNotDamage(t *testing.T) {
	dir := t.TempDir()
	fsys := &tornFS{FS: DefaultFS()}
	o := dictOptions()
	o.FS = fsys
	db, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fsys.armed = true
	fillDocs(t, db, 0, zstdDictSamples+50)
	if fsys.armed {
		t.Fatal("no dictionary written")
	}
	wantDocs(t, db, 0, zstdDictSamples+50)
	zdicts.mu.RLock()
	bad, tail := db.zdict.bad, db.zdict.tail
	derr := db.zdict.damage()
	zdicts.mu.RUnlock()
	if n := dictEntries(t, dir); n != 1 {
		t.Fatalf("%d dictionaries", n)
	}
	if len(bad) != 0 || tail != nil {
		t.Fatalf("a sound file, with one whole entry, reported as damaged: bad %+v tail %v: %v", bad, tail, derr)
	}
}
