package kv_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// logImage is the bytes of a log written by the engine and the records in
// it.
type logImage struct {
	data []byte
	recs []imageRec
}

// imageRec is one record of a logImage.
type imageRec struct {
	off, size int64
	kind      walfmt.Kind
	key, val  string
}

func (r imageRec) end() int64 { return r.off + r.size }

// buildLog writes n records through the engine — puts, an overwrite and a
// delete — and returns the log. The whole log lies within walfmt.SyncWindow
// of its end, so damage anywhere in it is a torn tail.
func buildLog(tb testing.TB, n int) logImage {
	tb.Helper()
	return writeLog(tb, n, false)
}

// buildPaddedLog is buildLog with a value of walfmt.SyncWindow bytes in the
// record after the middle one, so that damage in the first half of the log,
// with valid records after it that end more than the window past it, is
// corruption and not a torn tail.
func buildPaddedLog(tb testing.TB, n int) logImage {
	tb.Helper()
	return writeLog(tb, n, true)
}

func writeLog(tb testing.TB, n int, pad bool) logImage {
	tb.Helper()
	dir := tb.TempDir()
	db, err := kv.Open(dir, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		var err error
		switch {
		case i == n/3:
			err = db.Delete([]byte("key-01"))
		case i == n/2:
			err = db.Put([]byte("key-02"), []byte("overwritten"))
		case i == n/2+1 && pad:
			err = db.Put(fmt.Appendf(nil, "key-%02d", i), bytes.Repeat([]byte{'w'}, walfmt.SyncWindow))
		default:
			err = db.Put(fmt.Appendf(nil, "key-%02d", i), fmt.Appendf(nil, "value-%02d", i))
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "wal.log"))
	if err != nil {
		tb.Fatal(err)
	}
	return logImage{data: data, recs: parseRecords(tb, data)}
}

// parseRecords lists the records of a valid log.
func parseRecords(tb testing.TB, data []byte) []imageRec {
	tb.Helper()
	var recs []imageRec
	r := walfmt.NewReader(bytes.NewReader(data), int64(len(data)), "")
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return recs
		}
		if err != nil {
			tb.Fatal(err)
		}
		recs = append(recs, imageRec{rec.Offset, int64(rec.Size), rec.Kind, string(rec.Key), string(rec.Value)})
	}
}

// stateOf replays recs.
func stateOf(recs []imageRec) state {
	s := state{}
	for _, r := range recs {
		if r.kind == walfmt.KindPut {
			s[r.key] = r.val
		} else {
			delete(s, r.key)
		}
	}
	return s
}

// writeLogDir writes data as the wal.log of a fresh directory.
func writeLogDir(tb testing.TB, data []byte) (dir, path string) {
	tb.Helper()
	dir = tb.TempDir()
	path = filepath.Join(dir, "wal.log")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir, path
}

// openState opens dir, returns its content and Stats, and closes it.
func openState(tb testing.TB, dir string, opts *kv.Options) (state, kv.Stats, error) {
	tb.Helper()
	db, err := kv.Open(dir, opts)
	if err != nil {
		return nil, kv.Stats{}, err
	}
	defer db.Close()
	return readState(tb, db), db.Stats(), nil
}

// TestTruncateEveryOffset cuts the log at every byte of its header and of
// its last three records: a crash during an append or while the file was
// created. Open must cut the torn tail, report it, and keep every record
// before it.
func TestTruncateEveryOffset(t *testing.T) {
	img := buildLog(t, 12)
	first := img.recs[len(img.recs)-3].off
	var cuts []int64
	for c := int64(0); c <= walfmt.HeaderSize; c++ {
		cuts = append(cuts, c)
	}
	for c := first; c <= int64(len(img.data)); c++ {
		cuts = append(cuts, c)
	}
	for _, cut := range cuts {
		whole := 0 // records that survive the cut
		for whole < len(img.recs) && img.recs[whole].end() <= cut {
			whole++
		}
		good := int64(walfmt.HeaderSize)
		if whole > 0 {
			good = img.recs[whole-1].end()
		}
		wantTorn := cut - good
		if cut < walfmt.HeaderSize {
			good, wantTorn = walfmt.HeaderSize, cut // a fresh header replaces a torn one
		}
		dir, path := writeLogDir(t, img.data[:cut])
		rep, err := kv.Verify(dir)
		if err != nil || rep.Corrupt() || rep.TornBytes != wantTorn {
			t.Errorf("cut at %d: Verify = torn %d, damage %+v, %v; want torn %d, no corruption", cut, rep.TornBytes, rep.Damage, err, wantTorn)
		}
		got, st, err := openState(t, dir, nil)
		if err != nil {
			t.Errorf("cut at %d: Open: %v", cut, err)
			continue
		}
		if st.TruncatedBytes != wantTorn {
			t.Errorf("cut at %d: TruncatedBytes = %d, want %d", cut, st.TruncatedBytes, wantTorn)
		}
		if d := diffState(got, stateOf(img.recs[:whole])); d != "" {
			t.Errorf("cut at %d: content differs from the first %d records:\n%s", cut, whole, d)
		}
		if fi, err := os.Stat(path); err != nil || fi.Size() != good {
			t.Errorf("cut at %d: log is %v bytes after Open (%v), want %d", cut, fi.Size(), err, good)
		}
	}
}

// recordFields names the byte ranges of a record's fields, relative to its
// start; the key and value take the rest.
var recordFields = []struct {
	name       string
	start, end int
}{
	{"crc", 0, 4},
	{"kind", 4, 5},
	{"flags", 5, 6},
	{"codec", 6, 7},
	{"reserved", 7, 8},
	{"key length", 8, 12},
	{"value length", 12, 16},
}

// fieldOf names the field at byte i of a record with a key of keyLen bytes.
func fieldOf(i, keyLen int) string {
	for _, f := range recordFields {
		if i >= f.start && i < f.end {
			return f.name
		}
	}
	if i < walfmt.RecordHeaderSize+keyLen {
		return "key"
	}
	return "value"
}

// TestFlipEveryBit flips each bit of each field of the last record, of the
// one before it, and of a record in the middle. At the tail the damage
// looks like a torn write: Open cuts that one record and keeps the rest.
// Before the tail, with only the last record valid after it, well within
// walfmt.SyncWindow, it looks like a crash during a group commit, which can
// write a later record and not an earlier one: Open cuts both. In the
// middle, followed by a record larger than the window, Open refuses with a
// *walfmt.CorruptionError that names the file and the record's offset, and
// changes nothing; Verify reports the span, and Repair salvages every other
// record.
func TestFlipEveryBit(t *testing.T) {
	small, padded := buildLog(t, 10), buildPaddedLog(t, 10)
	n := len(small.recs)
	for _, where := range []struct {
		name string
		rec  int
	}{{"tail", n - 1}, {"before the tail", n - 2}, {"middle", n / 2}} {
		t.Run(where.name, func(t *testing.T) {
			img := small
			if where.name == "middle" {
				img = padded
			}
			rec := img.recs[where.rec]
			for i := range int(rec.size) {
				for bit := range 8 {
					data := bytes.Clone(img.data)
					data[rec.off+int64(i)] ^= 1 << bit
					what := fmt.Sprintf("bit %d of byte %d (%s) of the record at %d", bit, i, fieldOf(i, len(rec.key)), rec.off)
					// A writable open and a repair per byte, read-only
					// opens for the other bits.
					once := bit == i%8
					if where.name != "middle" {
						checkTornTail(t, data, img.recs[:where.rec], what, !once)
						continue
					}
					checkCorrupt(t, data, rec, what)
					if once {
						checkRepair(t, data, img.recs, where.rec, what)
					}
				}
			}
		})
	}
}

// memLog returns a memFS whose memDir holds data as its wal.log. The
// tables of damaged logs run on it: thousands of opens and repairs of a
// real directory would spend their time in fsync.
func memLog(data []byte) *memFS {
	mem := newMemFS()
	if err := mem.MkdirAll(memDir, 0o755); err != nil {
		panic(err)
	}
	mem.WriteFile(memLogPath, data)
	return mem
}

const memLogPath = memDir + "/wal.log"

// checkTornTail checks that data opens, read-only or not, as a log holding
// exactly keep, with the rest reported as a torn tail.
func checkTornTail(t *testing.T, data []byte, keep []imageRec, what string, readOnly bool) {
	t.Helper()
	got, st, err := openState(t, memDir, &kv.Options{FS: memLog(data), ReadOnly: readOnly})
	if err != nil {
		t.Errorf("%s: Open: %v", what, err)
		return
	}
	good := keep[len(keep)-1].end()
	if st.TruncatedBytes != int64(len(data))-good {
		t.Errorf("%s: TruncatedBytes = %d, want %d", what, st.TruncatedBytes, int64(len(data))-good)
	}
	if d := diffState(got, stateOf(keep)); d != "" {
		t.Errorf("%s: content:\n%s", what, d)
	}
}

// checkCorrupt checks that Open, read-write and read-only, refuses data with
// an error naming the file and the offset of bad, and leaves it unchanged.
func checkCorrupt(t *testing.T, data []byte, bad imageRec, what string) {
	t.Helper()
	mem := memLog(data)
	for _, ro := range []bool{false, true} {
		_, _, err := openState(t, memDir, &kv.Options{FS: mem, ReadOnly: ro})
		checkCorruptError(t, err, memLogPath, bad.off, fmt.Sprintf("%s, ReadOnly %v", what, ro))
	}
	if b, _ := mem.ReadFile(memLogPath); !bytes.Equal(b, data) {
		t.Errorf("%s: a failed Open changed the log", what)
	}
}

// checkCorruptError checks that err reports corruption at off in path.
func checkCorruptError(t *testing.T, err error, path string, off int64, what string) {
	t.Helper()
	var ce *walfmt.CorruptionError
	switch {
	case err == nil:
		t.Errorf("%s: Open succeeded, want a corruption error", what)
	case !errors.As(err, &ce) || !errors.Is(err, walfmt.ErrCorrupt):
		t.Errorf("%s: Open: %v, want a *walfmt.CorruptionError wrapping ErrCorrupt", what, err)
	case ce.File != path || ce.Offset != off || ce.Torn:
		t.Errorf("%s: error %+v, want file %s, offset %d, not torn", what, ce, path, off)
	case strings.Contains(err.Error(), "crabkv") ||
		!strings.Contains(err.Error(), fmt.Sprintf("offset %d", off)) ||
		!strings.Contains(err.Error(), path):
		t.Errorf("%s: message %q should name the file and the offset, and leave advice to the tool", what, err)
	}
}

// checkRepair runs Verify and Repair on data with record bad damaged and
// checks that every other record survives.
func checkRepair(t *testing.T, data []byte, recs []imageRec, bad int, what string) {
	t.Helper()
	mem := memLog(data)
	rec := recs[bad]
	vr, err := kv.VerifyFS(mem, memDir)
	if err != nil || vr.FirstBad != rec.off || len(vr.Damage) != 1 || vr.Records != len(recs)-1 {
		t.Errorf("%s: Verify = %+v, %v; want one damaged span at %d and %d records", what, vr, err, rec.off, len(recs)-1)
		return
	}
	rr, err := kv.RepairFS(mem, memDir)
	if err != nil {
		t.Errorf("%s: Repair: %v", what, err)
		return
	}
	want := kv.Span{Offset: rec.off, Length: rec.size, Reason: vr.Damage[0].Reason}
	if rr.Salvaged != len(recs)-1 || len(rr.Lost) != 1 || rr.Lost[0] != want || rr.LostBytes != rec.size {
		t.Errorf("%s: Repair = %+v; want %d records salvaged and lost %+v", what, rr, len(recs)-1, want)
	}
	if b, ok := mem.ReadFile(rr.Backup); !ok || !bytes.Equal(b, data) {
		t.Errorf("%s: the backup %q does not hold the damaged log", what, rr.Backup)
	}
	if b, _ := mem.ReadFile(memLogPath); int64(len(b)) != rr.NewBytes || rr.NewBytes != int64(len(data))-rec.size {
		t.Errorf("%s: repaired log is %d bytes, report says %d, want %d", what, len(b), rr.NewBytes, int64(len(data))-rec.size)
	}
	kept := append(append([]imageRec(nil), recs[:bad]...), recs[bad+1:]...)
	got, st, err := openState(t, memDir, &kv.Options{FS: mem})
	if err != nil || st.TruncatedBytes != 0 {
		t.Errorf("%s: Open after Repair: %v, TruncatedBytes %d", what, err, st.TruncatedBytes)
		return
	}
	if d := diffState(got, stateOf(kept)); d != "" {
		t.Errorf("%s: after Repair:\n%s", what, d)
	}
}

// TestHugeLength sets a record's value length to values a reader must not
// trust — past the format's limit, at the limit, and past the end of the
// log — at the tail and in the middle. Nothing may be allocated by it.
func TestHugeLength(t *testing.T) {
	img := buildPaddedLog(t, 10)
	n := len(img.recs)
	lengths := map[string]uint32{
		"4 GiB":            0xFFFFFFFF,
		"MaxValueLen":      walfmt.MaxValueLen,
		"MaxValueLen+1":    walfmt.MaxValueLen + 1,
		"to end of file":   0, // set below: only in the middle does it differ
		"past end of file": 1, // set below
	}
	for _, where := range []struct {
		name string
		rec  int
	}{{"tail", n - 1}, {"middle", n / 2}} {
		for name, l := range lengths {
			if name == "to end of file" && where.name == "tail" {
				continue // the tail already ends there
			}
			rec := img.recs[where.rec]
			if l <= 1 {
				l += uint32(int64(len(img.data)) - rec.off - walfmt.RecordHeaderSize - int64(len(rec.key)))
			}
			data := bytes.Clone(img.data)
			binary.LittleEndian.PutUint32(data[rec.off+12:], l)
			what := fmt.Sprintf("value length %s at the %s", name, where.name)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			if where.name == "tail" {
				checkTornTail(t, data, img.recs[:where.rec], what, false)
			} else {
				dir, path := writeLogDir(t, data)
				_, _, err := openState(t, dir, nil)
				checkCorruptError(t, err, path, rec.off, what)
			}
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
				t.Errorf("%s: Open allocated %d bytes", what, alloc)
			}
		}
	}
}

// TestNotALog covers files named wal.log that hold no records: empty, a
// torn header, a foreign file, a damaged header, and a log from a future
// format version. The first two are what a crash while creating the log
// leaves, and open as an empty store; the others are refused with an error
// naming the file, and left unchanged by Open and by Repair.
func TestNotALog(t *testing.T) {
	header := walfmt.AppendHeader(nil)
	future := bytes.Clone(header)
	binary.LittleEndian.PutUint16(future[8:], walfmt.Version+1)
	binary.LittleEndian.PutUint32(future[12:], walfmt.Checksum(future[:12]))
	badCRC := bytes.Clone(header)
	badCRC[12] ^= 1
	tests := []struct {
		name    string
		data    []byte
		want    error // nil: opens empty
		torn    int64
		message string
	}{
		{"empty", nil, nil, 0, ""},
		{"header only", header, nil, 0, ""},
		{"torn header", header[:5], nil, 5, ""},
		{"torn header, bad version bytes", append(header[:10:10], 0xff, 0xff), nil, 12, ""},
		{"text file", []byte("this is a shopping list, not a database\n"), walfmt.ErrForeignFile, 0, "not a CrabKv log"},
		{"short foreign", []byte("PK\x03\x04"), walfmt.ErrForeignFile, 0, "not a CrabKv log"},
		{"header checksum", badCRC, walfmt.ErrForeignFile, 0, "not a CrabKv log"},
		{"future version", append(future, img0(t)...), walfmt.ErrVersion, 0, fmt.Sprintf("version %d", walfmt.Version+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, path := writeLogDir(t, tt.data)
			got, st, err := openState(t, dir, nil)
			if tt.want == nil {
				if err != nil || len(got) != 0 || st.TruncatedBytes != tt.torn {
					t.Fatalf("Open = %d keys, TruncatedBytes %d, %v; want an empty store, %d", len(got), st.TruncatedBytes, err, tt.torn)
				}
				return
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("Open: %v; want %v naming %s and saying %q", err, tt.want, path, tt.message)
			}
			var ve *walfmt.VersionError
			if tt.want == walfmt.ErrVersion && (!errors.As(err, &ve) || ve.Version != walfmt.Version+1) {
				t.Errorf("Open: %v; want a *walfmt.VersionError for version %d", err, walfmt.Version+1)
			}
			if _, err := kv.Verify(dir); !errors.Is(err, tt.want) {
				t.Errorf("Verify: %v, want %v", err, tt.want)
			}
			if rr, err := kv.Repair(dir); !errors.Is(err, tt.want) || rr.Repaired() {
				t.Errorf("Repair: %+v, %v; want %v and nothing done", rr, err, tt.want)
			}
			if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, tt.data) {
				t.Errorf("the file changed (%v)", err)
			}
			for _, name := range dirNames(t, dir) {
				if name != "LOCK" && name != "wal.log" {
					t.Errorf("a refused log left %s in the directory", name)
				}
			}
		})
	}
}

// img0 returns the records of a small valid log, without its header.
func img0(tb testing.TB) []byte {
	return buildLog(tb, 3).data[walfmt.HeaderSize:]
}

// leftovers returns the names of temporary files and repair backups among
// names: what a finished Open, compaction or failed repair must not leave.
func leftovers(names []string) []string {
	var out []string
	for _, n := range names {
		if hasSuffix(n, ".compact", ".repair", ".tmp") || strings.Contains(n, ".compact.") || strings.Contains(n, ".broken-") {
			out = append(out, n)
		}
	}
	return out
}

func dirNames(tb testing.TB, dir string) []string {
	tb.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestDamageInAStoreDirectory damages a record in the middle of a store
// that was closed normally, with whatever else Close leaves beside the log
// (an index hint may let Open skip reading the log). Whether Open refuses
// the log or not, no read may return wrong data: the damaged key's read
// fails with walfmt.ErrCorrupt, every other key reads back. Verify reports
// the damage, and after Repair the store opens with every other key.
func TestDamageInAStoreDirectory(t *testing.T) {
	dir := t.TempDir()
	db, err := kv.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := state{}
	for i := range 201 {
		k, v := fmt.Sprintf("key-%03d", i), fmt.Sprintf("value-%03d-%s", i, strings.Repeat("v", i%50))
		if i == 200 {
			// Valid data more than walfmt.SyncWindow past the damage:
			// it cannot be a torn tail.
			v = strings.Repeat("v", walfmt.SyncWindow)
		}
		if err := db.Put([]byte(k), []byte(v)); err != nil {
			t.Fatal(err)
		}
		want[k] = v
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "wal.log")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs := parseRecords(t, data)
	bad := recs[len(recs)/3]
	data[bad.end()-1] ^= 0x40 // the last byte of the value
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}

	if rep, err := kv.Verify(dir); err != nil || !rep.Corrupt() || rep.FirstBad != bad.off {
		t.Errorf("Verify = %+v, %v; want corruption at %d", rep, err, bad.off)
	}
	if db, err := kv.Open(dir, &kv.Options{ReadOnly: true}); err != nil {
		checkCorruptError(t, err, path, bad.off, "Open of a damaged store")
	} else {
		for k, v := range want {
			got, err := db.Get([]byte(k))
			switch {
			case k == bad.key && !errors.Is(err, walfmt.ErrCorrupt):
				t.Errorf("Get(%s), the damaged record: %q, %v; want an error wrapping walfmt.ErrCorrupt", k, got, err)
			case k != bad.key && (err != nil || string(got) != v):
				t.Errorf("Get(%s) = %.20q, %v; want %.20q", k, got, err, v)
			}
		}
		db.Close()
	}

	if _, err := kv.Repair(dir); err != nil {
		t.Fatal(err)
	}
	delete(want, bad.key)
	got, _, err := openState(t, dir, nil)
	if err != nil {
		t.Fatalf("Open after Repair: %v", err)
	}
	if d := diffState(got, want); d != "" {
		t.Errorf("after Repair:\n%s", d)
	}
}
