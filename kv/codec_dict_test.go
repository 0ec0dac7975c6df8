package kv

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crabkv/crabkv/compact"
	"github.com/klauspost/compress/dict"
	"github.com/klauspost/compress/zstd"
)

// dictDoc is a JSON document of about 1 KiB, number i: documents of one
// shape with varying contents, as a dictionary is for.
func dictDoc(i int) []byte {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	cities := []string{"Lisbon", "Osaka", "Nairobi", "Lima", "Perth", "Tbilisi"}
	actions := []string{"login", "logout", "view", "edit", "export"}
	b := fmt.Appendf(nil, `{"id":%d,"name":"user %d","email":"u%d@example.org","city":"%s","balance":%d,"events":[`,
		i, r.IntN(1e6), i, cities[r.IntN(len(cities))], r.IntN(1e5))
	for n := 0; len(b) < 900; n++ {
		if n > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"at":"2025-%02d-%02dT%02d:%02d","action":"%s","city":"%s","ms":%d}`,
			1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), actions[r.IntN(len(actions))], cities[r.IntN(len(cities))], r.IntN(2000))
	}
	return append(b, "]}"...)
}

func dictKey(i int) []byte { return fmt.Appendf(nil, "doc-%05d", i) }

func dictOptions() *Options {
	return &Options{NoSync: true, Codec: ZstdDict, Compaction: compact.Policy{Disabled: true}}
}

// fillDocs puts documents [lo, hi).
func fillDocs(t *testing.T, db *DB, lo, hi int) {
	t.Helper()
	for i := lo; i < hi; i++ {
		if err := db.Put(dictKey(i), dictDoc(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// wantDocs checks that documents [lo, hi) read back whole.
func wantDocs(t *testing.T, db *DB, lo, hi int) {
	t.Helper()
	for i := lo; i < hi; i++ {
		got, err := db.Get(dictKey(i))
		if err != nil || !bytes.Equal(got, dictDoc(i)) {
			t.Fatalf("Get doc %d = %.40q, %v", i, got, err)
		}
	}
}

// dictStore returns the directory of a closed store that wrote documents
// [0, docs) with ZstdDict, so that it trained a dictionary if docs is
// more than zstdDictSamples.
func dictStore(t *testing.T, docs int) string {
	t.Helper()
	dir := t.TempDir()
	db, err := Open(dir, dictOptions())
	if err != nil {
		t.Fatal(err)
	}
	fillDocs(t, db, 0, docs)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// dictEntries returns the dictionaries in dir's wal.zdict.
func dictEntries(t *testing.T, dir string) int {
	t.Helper()
	f := &dictFile{key: dictFileKey{DefaultFS(), filepath.Join(dir, zdictName)}, byID: map[uint32]*zstd.Decoder{}, sums: map[uint32]uint32{}}
	if err := f.loadLocked(); err != nil {
		t.Fatal(err)
	}
	return len(f.byID)
}

// A store that writes with ZstdDict trains a dictionary on its first
// values, stores it, and from then on stores values smaller than Zstd
// does; a reopened store reads them all, keeps its dictionary rather than
// training another, and so does a compaction; Verify decodes them; a
// closed store leaves nothing in the program's table.
func TestZstdDictTrainsStoresAndReopens(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, dictOptions())
	if err != nil {
		t.Fatal(err)
	}
	const n = zstdDictSamples + 300
	fillDocs(t, db, 0, n)
	if err := db.opts.Codec.(*zstdDictWriter).trainErr(); err != nil {
		t.Fatal(err)
	}
	if got := dictEntries(t, dir); got != 1 {
		t.Fatalf("%d dictionaries in %s after training, want 1", got, zdictName)
	}
	var withDict, plain int
	for i := zstdDictSamples; i < n; i++ {
		e, err := db.Entry(dictKey(i))
		if err != nil || e.Codec != "zstd-dict" {
			t.Fatalf("Entry(doc %d) = %+v, %v", i, e, err)
		}
		withDict += e.StoredValueSize
		plain += len(Zstd.Encode(nil, dictDoc(i)))
	}
	if withDict > plain*7/8 {
		t.Fatalf("values with the dictionary take %d bytes, without %d: want an eighth less at least", withDict, plain)
	}
	wantDocs(t, db, 0, n)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if len(zdicts.open) != 0 {
		t.Fatalf("%d dictionary files still registered after Close", len(zdicts.open))
	}

	rep, err := Verify(dir)
	if err != nil || len(rep.BadValues) != 0 || rep.Encoded != n {
		t.Fatalf("Verify: %+v, %v", rep, err)
	}

	db, err = Open(dir, dictOptions())
	if err != nil {
		t.Fatal(err)
	}
	wantDocs(t, db, 0, n)
	fillDocs(t, db, n, n+zstdDictSamples+10) // enough to train again, if it did
	if got := dictEntries(t, dir); got != 1 {
		t.Fatalf("%d dictionaries after a reopen, want the same 1", got)
	}
	if e, err := db.Entry(dictKey(n)); err != nil || e.Codec != "zstd-dict" || e.StoredValueSize*10 > len(dictDoc(n))*4 {
		t.Fatalf("Entry after reopen = %+v, %v", e, err)
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	wantDocs(t, db, 0, n+zstdDictSamples+10)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// Without its dictionary file, a value encoded with a dictionary reads as
// an error that names the dictionary, and Verify lists it; the values
// encoded before the training still read.
func TestZstdDictMissingFile(t *testing.T) {
	dir := dictStore(t, zstdDictSamples+5)
	if err := os.Remove(filepath.Join(dir, zdictName)); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wantDocs(t, db, 0, zstdDictSamples-1)
	_, err = db.Get(dictKey(zstdDictSamples + 1))
	if err == nil || !strings.Contains(err.Error(), "dictionary") || !strings.Contains(err.Error(), zdictName) {
		t.Fatalf("Get of a value whose dictionary is gone: %v", err)
	}
	rep, err := Verify(dir)
	if err != nil || len(rep.BadValues) < 5 {
		t.Fatalf("Verify without the dictionary: %d bad values, %v", len(rep.BadValues), err)
	}
}

// An entry torn by a crash at the end of the dictionary file is not read,
// and the next dictionary is written after it.
func TestZstdDictTornEntry(t *testing.T) {
	dir := t.TempDir()
	torn := append([]byte(zdictMagic), 1, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4, 'x', 'y')
	if err := os.WriteFile(filepath.Join(dir, zdictName), torn, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir, dictOptions())
	if err != nil {
		t.Fatal(err)
	}
	fillDocs(t, db, 0, zstdDictSamples+50)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got := dictEntries(t, dir); got != 1 {
		t.Fatalf("%d dictionaries, want 1", got)
	}
	db, err = Open(dir, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wantDocs(t, db, 0, zstdDictSamples+50)
}

// A dictionary entry damaged after it was written (a bit flipped in its
// body) is reported, not taken for a torn end: the next dictionary was
// written over it, and over anything after it, so that its values were
// lost for good, where a copy of the file could have mended them. It is
// left in place, the error of a value that needs it says the file is
// damaged, and once the entry is mended every value reads again, those of
// the dictionary trained since included.
func TestZstdDictDamagedEntry(t *testing.T) {
	dir := dictStore(t, zstdDictSamples+50)
	path := filepath.Join(dir, zdictName)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	damaged := bytes.Clone(orig)
	damaged[len(damaged)/2] ^= 0x40
	if err := os.WriteFile(path, damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir, dictOptions())
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Get(dictKey(zstdDictSamples + 10))
	if err == nil || !strings.Contains(err.Error(), "no sound dictionary at bytes 0 to") || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("Get of a value whose dictionary is damaged: %v, want an error that says where the file is damaged", err)
	}
	// The writer trains another dictionary on new values.
	fillDocs(t, db, 1000, 1000+zstdDictSamples+50)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(after, damaged) || len(after) == len(damaged) {
		t.Fatalf("wal.zdict: %d bytes, was %d: the damaged entry was written over, or no dictionary was added after it", len(after), len(damaged))
	}
	copy(after, orig) // mended from a copy
	if err := os.WriteFile(path, after, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := dictEntries(t, dir); got != 2 {
		t.Fatalf("%d dictionaries once mended, want 2", got)
	}
	db, err = Open(dir, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wantDocs(t, db, 0, zstdDictSamples+50)
	wantDocs(t, db, 1000, 1000+zstdDictSamples+50)
}

// A reader that reads wal.zdict while its writer, in another process, is
// half way through appending an entry reads the entry once it is whole. It
// took the half entry for damage and read past it, for good: values of
// that dictionary failed until the store was opened again.
func TestZdictReadDuringAppend(t *testing.T) {
	src := dictStore(t, zstdDictSamples+50)
	entry, err := os.ReadFile(filepath.Join(src, zdictName))
	if err != nil {
		t.Fatal(err)
	}
	id, err := zdictID(entry[zdictHeader:])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, zdictName)
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := zdicts.register(otherFS{DefaultFS()}, dir) // a reader in another process
	if err != nil {
		t.Fatal(err)
	}
	defer zdicts.release(f)
	if err := os.WriteFile(path, entry[:len(entry)/2], 0o644); err != nil { // half written
		t.Fatal(err)
	}
	if _, err := zdicts.decoder(id ^ 1); err == nil { // a miss reads the file again
		t.Fatal("found an ID that is not there")
	}
	if err := os.WriteFile(path, entry, 0o644); err != nil { // whole
		t.Fatal(err)
	}
	if dec, err := zdicts.decoder(id); dec == nil || err != nil {
		t.Fatalf("dictionary %d, whole in the file now: %v", id, err)
	}
}

// otherFS is the operating system's file system under another name, so
// that the program's table keeps a store opened through it apart from one
// opened directly, as it would be in another process.
type otherFS struct{ FS }

// A follower that opened the store before its writer trained a dictionary
// reads the values encoded with it: it reads the dictionary file again
// when it meets a dictionary it has not loaded. (The writer is closed
// before the follower reads, and the follower opens through otherFS, as
// if they ran in two processes.)
func TestZstdDictFollower(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, dictOptions())
	if err != nil {
		t.Fatal(err)
	}
	fillDocs(t, w, 0, 10)
	f, err := Open(dir, &Options{ReadOnly: true, FS: otherFS{DefaultFS()}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fillDocs(t, w, 10, zstdDictSamples+20)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Refresh()
	wantDocs(t, f, 0, zstdDictSamples+20)
}

// An entry of a later version is an error that says so, not a store
// without dictionaries.
func TestZstdDictLaterVersion(t *testing.T) {
	dir := dictStore(t, zstdDictSamples+1)
	path := filepath.Join(dir, zdictName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[8] = 2
	binary.LittleEndian.PutUint32(b[16:], zdictChecksum(b[:16], b[zdictHeader:]))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, dictOptions()); err == nil || !strings.Contains(err.Error(), "version 2") {
		t.Fatalf("Open with a dictionary of version 2: %v", err)
	}
}

// unknownDictFrame is a zstd frame that names a dictionary no store has.
func unknownDictFrame() []byte {
	samples := make([][]byte, 300)
	for i := range samples {
		samples[i] = dictDoc(i)
	}
	b, err := dict.BuildZstdDict(samples, dict.Options{MaxDictSize: 4 << 10, HashBytes: 6, ZstdDictID: 99999})
	if err != nil {
		panic(err)
	}
	enc, err := newDictEncoder(b)
	if err != nil {
		panic(err)
	}
	return enc.EncodeAll(dictDoc(1), nil)
}

// Two stores open in one program that hold different dictionaries under
// one ID: a frame names only the ID, so a value of either store must read
// as itself or fail with an error that says why, never as the bytes the
// other store's dictionary makes of it. Each store alone reads whole.
func TestZstdDictSameIDInTwoStores(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	a, err := Open(dirA, dictOptions())
	if err != nil {
		t.Fatal(err)
	}
	const n = zstdDictSamples + 40
	fillDocs(t, a, 0, n)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	fa := &dictFile{key: dictFileKey{DefaultFS(), filepath.Join(dirA, zdictName)}, byID: map[uint32]*zstd.Decoder{}, sums: map[uint32]uint32{}}
	if err := fa.loadLocked(); err != nil || len(fa.byID) != 1 {
		t.Fatalf("store A has %d dictionaries (%v), want 1", len(fa.byID), err)
	}
	var id uint32
	for id = range fa.byID {
	}

	// Store B: a dictionary trained on other documents, under A's ID,
	// and values encoded with it.
	otherDoc := func(i int) []byte {
		return bytes.ToUpper(bytes.ReplaceAll(dictDoc(i+50_000), []byte(`"`), []byte(`'`)))
	}
	var samples [][]byte
	for i := range zstdDictSamples {
		samples = append(samples, otherDoc(i))
	}
	db, err := dict.BuildZstdDict(samples, dict.Options{MaxDictSize: zstdDictMaxSize, HashBytes: 6, ZstdLevel: zstdDictLevel, ZstdDictID: id})
	if err != nil {
		t.Fatal(err)
	}
	fb, err := zdicts.register(DefaultFS(), dirB)
	if err != nil {
		t.Fatal(err)
	}
	if err := fb.appendDict(db); err != nil {
		t.Fatal(err)
	}
	zdicts.release(fb)
	b, err := Open(dirB, dictOptions())
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := b.Put(dictKey(i), otherDoc(i)); err != nil {
			t.Fatal(err)
		}
	}
	wantB := func(db *DB) (ok, failed int) {
		for i := range n {
			got, err := db.Get(dictKey(i))
			switch {
			case err != nil && strings.Contains(err.Error(), "different dictionaries"):
				failed++
			case err != nil || !bytes.Equal(got, otherDoc(i)):
				t.Fatalf("store B, doc %d = %.40q, %v", i, got, err)
			default:
				ok++
			}
		}
		return ok, failed
	}
	if ok, _ := wantB(b); ok != n {
		t.Fatalf("store B alone read %d of %d documents", ok, n)
	}

	// Both open: values under the shared ID fail, and say why; none
	// reads as the other store's dictionary would make it.
	a, err = Open(dirA, dictOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, failed := wantB(b); failed == 0 {
		t.Fatal("store B's values under the shared dictionary ID read while store A is open")
	}
	for i := range n {
		got, err := a.Get(dictKey(i))
		if err == nil && !bytes.Equal(got, dictDoc(i)) {
			t.Fatalf("store A, doc %d = %.40q", i, got)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := wantB(b); ok != n {
		t.Fatalf("store B read %d of %d documents after A closed", ok, n)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}
