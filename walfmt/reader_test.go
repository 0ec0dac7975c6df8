package walfmt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
)

type testRec struct {
	kind       Kind
	key, value string
}

func buildLog(recs ...testRec) []byte {
	b := AppendHeader(nil)
	for _, r := range recs {
		if r.kind == KindDelete {
			b = AppendDelete(b, []byte(r.key))
		} else {
			b = AppendPut(b, []byte(r.key), []byte(r.value))
		}
	}
	return b
}

var sample = []testRec{
	{KindPut, "alpha", "one"},
	{KindPut, "beta", ""},
	{KindDelete, "alpha", ""},
	{KindPut, "gamma", "a longer value with some bytes \x00\x01\xff"},
}

// readAll returns the records of log and the error that ended the walk.
func readAll(log []byte) ([]testRec, []int64, error) {
	r := NewReader(bytes.NewReader(log), int64(len(log)), "wal.log")
	var recs []testRec
	var offs []int64
	for {
		rec, err := r.Next()
		if err != nil {
			return recs, offs, err
		}
		recs = append(recs, testRec{rec.Kind, string(rec.Key), string(rec.Value)})
		offs = append(offs, rec.Offset)
	}
}

func TestRoundTrip(t *testing.T) {
	log := buildLog(sample...)
	recs, offs, err := readAll(log)
	if err != io.EOF {
		t.Fatalf("end: got %v, want io.EOF", err)
	}
	if fmt.Sprint(recs) != fmt.Sprint(sample) {
		t.Fatalf("records: got %v, want %v", recs, sample)
	}
	want := int64(HeaderSize)
	for i, r := range sample {
		if offs[i] != want {
			t.Fatalf("record %d offset %d, want %d", i, offs[i], want)
		}
		want += int64(RecordSize(len(r.key), len(r.value)))
	}
	if want != int64(len(log)) {
		t.Fatalf("sizes sum to %d, log is %d bytes", want, len(log))
	}
}

func TestEmptyLog(t *testing.T) {
	_, _, err := readAll(AppendHeader(nil))
	if err != io.EOF {
		t.Fatalf("got %v, want io.EOF", err)
	}
}

func TestHeaderErrors(t *testing.T) {
	future := AppendHeader(nil)
	future[8] = Version + 1
	copy(future[12:], leUint32(Checksum(future[:12])))
	tests := []struct {
		name string
		log  []byte
		want error
	}{
		{"empty file", nil, ErrTornTail},
		{"partial header", AppendHeader(nil)[:10], ErrTornTail},
		{"foreign file", []byte("SQLite format 3\x00 and more bytes"), ErrForeignFile},
		{"header checksum", append([]byte(Magic), 1, 0, 0, 0, 9, 9, 9, 9), ErrForeignFile},
		{"future version", future, ErrVersion},
		{"partial version 2 header", AppendHeader(nil)[:HeaderSize-1], ErrTornTail},
		// A CrabKv log whose header fields are damaged: corrupt, not
		// foreign, so that a repair salvages its records.
		{"version 2 header checksum", flipByte(AppendHeader(nil), offHdrID), ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readAll(tt.log)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func flipByte(b []byte, i int) []byte {
	b[i] ^= 0x40
	return b
}

// TestHeaderRoundTrip checks that a header decodes to what was encoded and
// that every new log gets its own ID and hash key.
func TestHeaderRoundTrip(t *testing.T) {
	a, b := NewFileHeader(), NewFileHeader()
	if a.ID == b.ID || a.HashKey == b.HashKey || a.ID == a.HashKey {
		t.Fatalf("two new headers share random fields: %+v %+v", a, b)
	}
	got, err := ParseHeader(AppendFileHeader(nil, a))
	if err != nil || got != a {
		t.Fatalf("ParseHeader = %+v, %v; want %+v", got, err, a)
	}
	if a.Size() != HeaderSize || (FileHeader{Version: 1}).Size() != HeaderSizeV1 {
		t.Fatal("wrong header sizes")
	}
}

// TestReadsVersion1 reads a log with the 16-byte header of version 1: its
// first record starts right after it.
func TestReadsVersion1(t *testing.T) {
	log := AppendHeader(nil)[:HeaderSizeV1]
	log[8] = 1
	copy(log[12:], leUint32(Checksum(log[:12])))
	log = AppendPut(log, []byte("k"), []byte("v"))
	r := NewReader(bytes.NewReader(log), int64(len(log)), "")
	rec, err := r.Next()
	if err != nil || rec.Offset != HeaderSizeV1 || string(rec.Key) != "k" || r.Header().Version != 1 {
		t.Fatalf("got %+v, %v, header %+v", rec, err, r.Header())
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("got %v, want io.EOF", err)
	}
}

func leUint32(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }

// TestTruncatedTail cuts the log at every offset inside the last record: each
// cut is a torn tail at the last record's offset, with every earlier record
// intact.
func TestTruncatedTail(t *testing.T) {
	log := buildLog(sample...)
	_, offs, _ := readAll(log)
	last := offs[len(offs)-1]
	for cut := last + 1; cut < int64(len(log)); cut++ {
		recs, _, err := readAll(log[:cut])
		var ce *CorruptionError
		if !errors.As(err, &ce) || !errors.Is(err, ErrTornTail) || ce.Offset != last {
			t.Fatalf("cut at %d: got %v, want torn tail at %d", cut, err, last)
		}
		if len(recs) != len(sample)-1 {
			t.Fatalf("cut at %d: %d records survived, want %d", cut, len(recs), len(sample)-1)
		}
	}
}

// TestFlippedByte flips every byte of every record. In the last record the
// damage is a torn tail; anywhere else it is corruption at that record's
// offset, because valid records follow.
func TestFlippedByte(t *testing.T) {
	log := buildLog(sample...)
	_, offs, _ := readAll(log)
	ends := append(offs[1:], int64(len(log)))
	for i := range offs {
		for p := offs[i]; p < ends[i]; p++ {
			bad := bytes.Clone(log)
			bad[p] ^= 0x40
			_, _, err := readAll(bad)
			var ce *CorruptionError
			if !errors.As(err, &ce) {
				t.Fatalf("flip at %d: got %v, want a CorruptionError", p, err)
			}
			wantTorn := i == len(offs)-1
			if ce.Offset != offs[i] || ce.Torn != wantTorn {
				t.Fatalf("flip at %d: got %+v, want offset %d torn=%v", p, ce, offs[i], wantTorn)
			}
			if wantTorn != errors.Is(err, ErrTornTail) || wantTorn == errors.Is(err, ErrCorrupt) {
				t.Fatalf("flip at %d: %v unwraps to the wrong sentinel", p, err)
			}
		}
	}
}

// TestHugeLength checks that a length field claiming gigabytes is an error,
// not an allocation.
func TestHugeLength(t *testing.T) {
	log := buildLog(sample...)
	_, offs, _ := readAll(log)
	for _, field := range []int{offKeyLen, offValueLen} {
		bad := bytes.Clone(log)
		copy(bad[offs[1]+int64(field):], leUint32(0xFFFFFFF0))
		allocs := testing.AllocsPerRun(1, func() {
			_, _, err := readAll(bad)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("field %d: got %v, want ErrCorrupt", field, err)
			}
		})
		if allocs > 20 {
			t.Fatalf("field %d: %v allocations reading a bad length", field, allocs)
		}
	}
}

func TestLargeRecord(t *testing.T) {
	big := bytes.Repeat([]byte("v"), 3*bufSize+17)
	log := buildLog(testRec{KindPut, "a", "x"}, testRec{KindPut, "big", string(big)}, testRec{KindPut, "c", "z"})
	recs, _, err := readAll(log)
	if err != io.EOF || len(recs) != 3 || recs[1].value != string(big) {
		t.Fatalf("got %d records, err %v", len(recs), err)
	}
	bad := bytes.Clone(log)
	bad[len(bad)-3] ^= 1 // inside the last record
	if _, _, err := readAll(bad); !errors.Is(err, ErrTornTail) {
		t.Fatalf("damaged last record: got %v", err)
	}
	bad = bytes.Clone(log)
	bad[HeaderSize+RecordSize(1, 1)+100] ^= 1 // inside the big record's value
	if _, _, err := readAll(bad); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged big record: got %v", err)
	}
}

func TestResync(t *testing.T) {
	log := buildLog(sample...)
	_, offs, _ := readAll(log)
	log[offs[1]+offKeyLen] = 0xee // record 1's key length
	r := NewReader(bytes.NewReader(log), int64(len(log)), "")
	var keys []string
	for {
		rec, err := r.Next()
		if errors.Is(err, ErrCorrupt) {
			next, ok, err := r.Resync()
			if err != nil || !ok || next != offs[2] {
				t.Fatalf("resync: %d %v %v, want %d", next, ok, err, offs[2])
			}
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, string(rec.Key))
	}
	if fmt.Sprint(keys) != "[alpha alpha gamma]" {
		t.Fatalf("salvaged %v", keys)
	}
}

// TestValidPast damages the first and third of five records and asks, for
// limits around the end of each later record, whether valid data reaches
// past the limit; the reader must then carry on from where it was.
func TestValidPast(t *testing.T) {
	recs := append(append([]testRec(nil), sample...), testRec{KindPut, "delta", "last"})
	log := buildLog(recs...)
	_, offs, _ := readAll(log)
	log[offs[0]+offCRC] ^= 1
	log[offs[2]+offKind] = 9
	end := func(i int) int64 {
		if i+1 < len(offs) {
			return offs[i+1]
		}
		return int64(len(log))
	}
	r := NewReader(bytes.NewReader(log), int64(len(log)), "")
	if _, err := r.ValidPast(0); err == nil {
		t.Fatal("ValidPast before any damage: no error")
	}
	if _, err := r.Next(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Next: %v, want corruption", err)
	}
	for _, tt := range []struct {
		limit int64
		want  bool
	}{
		{end(1) - 1, true},
		{end(1), true},       // the valid records after the second damage
		{end(4) - 1, true},   // the last record
		{end(4), false},      // nothing ends past the log
		{end(4) + 50, false}, // nor past a limit beyond it
	} {
		got, err := r.ValidPast(tt.limit)
		if err != nil || got != tt.want {
			t.Errorf("ValidPast(%d) = %v, %v; want %v", tt.limit, got, err, tt.want)
		}
	}
	if next, ok, err := r.Resync(); err != nil || !ok || next != offs[1] {
		t.Fatalf("Resync after ValidPast: %d, %v, %v; want %d", next, ok, err, offs[1])
	}
}

func TestDecode(t *testing.T) {
	b := AppendPut(nil, []byte("k"), []byte("value"))
	rec, err := Decode(b)
	if err != nil || string(rec.Key) != "k" || string(rec.Value) != "value" {
		t.Fatalf("decode: %+v %v", rec, err)
	}
	b[len(b)-1] ^= 1
	if _, err := Decode(b); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("bad checksum: got %v", err)
	}
	if _, err := Decode(b[:5]); err == nil {
		t.Fatal("short record decoded")
	}
}

func TestAppendDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 4096)
	key, value := []byte("key"), bytes.Repeat([]byte("v"), 100)
	allocs := testing.AllocsPerRun(100, func() {
		buf = AppendPut(buf[:0], key, value)
	})
	if allocs != 0 {
		t.Fatalf("AppendPut allocates %v times", allocs)
	}
}

func FuzzReader(f *testing.F) {
	f.Add(buildLog(sample...))
	f.Add(buildLog())
	f.Add([]byte{})
	f.Add(append(buildLog(sample[0]), batchRecord(batchOps...)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), int64(len(data)), "")
		var last int64
		for i := 0; ; i++ {
			rec, err := r.Next()
			if err != nil {
				var ce *CorruptionError
				if errors.As(err, &ce) && ce.Offset != r.Offset() {
					t.Fatalf("corruption at %d, reader at %d", ce.Offset, r.Offset())
				}
				if errors.As(err, &ce) && !ce.Torn {
					_, ok, err := r.Resync()
					// A damaged header is corrupt, never torn, whether
					// or not a record follows it.
					if err != nil || (!ok && ce.Offset >= HeaderSize) {
						t.Fatalf("corrupt but resync found nothing: %v", err)
					}
					if !ok {
						return
					}
					continue
				}
				return
			}
			if rec.Offset < last || rec.Size < RecordHeaderSize || rec.Offset+int64(rec.Size) > int64(len(data)) {
				t.Fatalf("record %d out of bounds: %+v", i, rec)
			}
			if rec.Kind == KindBatch {
				end := rec.Offset + RecordHeaderSize
				err := ForEachOp(rec, func(op Record) error {
					if op.Offset != end || op.Kind == KindBatch {
						t.Fatalf("record %d: operation at %d, want %d: %+v", i, op.Offset, end, op)
					}
					end += int64(op.Size)
					return nil
				})
				if err != nil || end != rec.Offset+int64(rec.Size) {
					t.Fatalf("record %d: a batch the reader accepted: ops end at %d, %v", i, end, err)
				}
			}
			last = rec.Offset + int64(rec.Size)
		}
	})
}

// TestReservedZeros checks that zero bytes after the last record end the
// log cleanly, however many, and that zeros followed by anything else do
// not.
func TestReservedZeros(t *testing.T) {
	log := buildLog(sample...)
	for _, n := range []int{1, 15, 16, 17, 4096, 3*bufSize + 5} {
		padded := append(bytes.Clone(log), make([]byte, n)...)
		r := NewReader(bytes.NewReader(padded), int64(len(padded)), "")
		count := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%d zeros: %v", n, err)
			}
			count++
		}
		if count != len(sample) || r.Offset() != int64(len(log)) {
			t.Fatalf("%d zeros: %d records, log ends at %d; want %d at %d", n, count, r.Offset(), len(sample), len(log))
		}
	}
	// A zeroed record with a record after it is corruption.
	_, offs, _ := readAll(log)
	bad := bytes.Clone(log)
	clear(bad[offs[1]:offs[2]])
	if _, _, err := readAll(bad); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("zeroed middle record: %v, want ErrCorrupt", err)
	}
	// Zeros, then a stray non-zero byte: a torn tail, not a clean end.
	torn := append(bytes.Clone(log), make([]byte, 100)...)
	torn[len(torn)-1] = 7
	if _, _, err := readAll(torn); !errors.Is(err, ErrTornTail) {
		t.Fatalf("zeros then garbage: %v, want ErrTornTail", err)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.ReaderAt
	n int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

// TestReadsLogOnce checks that walking a log reads each byte about once,
// reserved zeros included.
func TestReadsLogOnce(t *testing.T) {
	log := AppendHeader(nil)
	for i := range 5000 {
		log = AppendPut(log, []byte(fmt.Sprint("key", i)), bytes.Repeat([]byte("v"), i%300))
	}
	log = append(log, make([]byte, 1<<20)...)
	src := &countingReader{r: bytes.NewReader(log)}
	r := NewReader(src, int64(len(log)), "")
	for {
		if _, err := r.Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if src.n > 2*int64(len(log)) {
		t.Fatalf("read %d bytes to walk a %d-byte log", src.n, len(log))
	}
}

// TestValidPastHonoursZeros damages the last record of a log followed by
// 4 MiB of zeros that the reader is told of (SetZerosFrom), as a crash
// leaves a writer's reserved space: ValidPast must answer without reading
// them, as Next does.
func TestValidPastHonoursZeros(t *testing.T) {
	log := AppendHeader(nil)
	for i := range 100 {
		log = AppendPut(log, []byte(fmt.Sprint("key", i)), []byte("value"))
	}
	last := int64(len(log))
	log = AppendPut(log, []byte("torn"), bytes.Repeat([]byte("v"), 100))
	log[last+offCRC] ^= 1
	zeros := int64(len(log))
	log = append(log, make([]byte, 4<<20)...)
	src := &countingReader{r: bytes.NewReader(log)}
	r := NewReader(src, int64(len(log)), "")
	r.SetZerosFrom(zeros)
	for {
		_, err := r.Next()
		if err == nil {
			continue
		}
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTornTail) {
			t.Fatalf("Next: %v, want the damaged record", err)
		}
		break
	}
	before := src.n
	if far, err := r.ValidPast(last + SyncWindow); err != nil || far {
		t.Fatalf("ValidPast = %v, %v; want false (only zeros follow)", far, err)
	}
	if read := src.n - before; read > 1<<20 {
		t.Fatalf("ValidPast read %d bytes of a log whose last %d are known zeros", read, 4<<20)
	}
}

func TestValue(t *testing.T) {
	b := AppendPut(nil, []byte("key"), []byte("the value"))
	v, err := Value(b)
	if err != nil || string(v) != "the value" {
		t.Fatalf("Value = %q, %v", v, err)
	}
	for i := range b {
		bad := bytes.Clone(b)
		bad[i] ^= 0x10
		if v, err := Value(bad); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d flipped: %q, %v; want ErrCorrupt", i, v, err)
		}
	}
	if _, err := Value(AppendDelete(nil, []byte("key"))); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("tombstone: %v", err)
	}
	if _, err := Value(b[:len(b)-1]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short: %v", err)
	}
}

// TestFindRecord looks for record starts from every offset of a log: the
// answer is the first record starting at or after the offset, none past
// the limit, and the reader's walk is undisturbed.
func TestFindRecord(t *testing.T) {
	log := buildLog(sample...)
	_, offs, _ := readAll(log)
	r := NewReader(bytes.NewReader(log), int64(len(log)), "")
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	for from := offs[0]; from < int64(len(log)); from++ {
		want, wantOK := firstAtOrAfter(offs, from)
		got, ok, err := r.FindRecord(from, int64(len(log)))
		if err != nil || ok != wantOK || got != want {
			t.Fatalf("FindRecord(%d) = %d %v %v, want %d %v", from, got, ok, err, want, wantOK)
		}
		if wantOK {
			if _, ok, _ := r.FindRecord(from, want); ok {
				t.Fatalf("FindRecord(%d, %d) found a record before its limit", from, want)
			}
		}
	}
	rec, err := r.Next()
	if err != nil || rec.Offset != offs[1] {
		t.Fatalf("after FindRecord, Next = %+v %v, want the record at %d", rec, err, offs[1])
	}
}

// firstAtOrAfter returns the first of the record offsets offs, in order,
// at or after from.
func firstAtOrAfter(offs []int64, from int64) (int64, bool) {
	for _, o := range offs {
		if o >= from {
			return o, true
		}
	}
	return 0, false
}

// TestFindRecordAcrossZeros puts runs of zero bytes between records — as
// long as a writer's reserved space, and one byte short of a header before
// a record whose header starts with zero bytes — and a value of zeros
// inside one, and looks for record starts from every offset near them.
func TestFindRecordAcrossZeros(t *testing.T) {
	// A record whose first two bytes are zero: its header must still be
	// found from the zero run in front of it.
	var lead []byte
	for i := 0; lead == nil; i++ {
		if rec := AppendPut(nil, fmt.Appendf(nil, "k%d", i), []byte("v")); rec[0] == 0 && rec[1] == 0 {
			lead = rec
		}
	}
	log := AppendHeader(nil)
	var offs []int64
	add := func(rec []byte, zeros int) {
		offs = append(offs, int64(len(log)))
		log = append(log, rec...)
		log = append(log, make([]byte, zeros)...)
	}
	add(AppendPut(nil, []byte("a"), make([]byte, 5000)), 1<<20)
	add(AppendPut(nil, []byte("b"), []byte("x")), RecordHeaderSize-1)
	add(lead, RecordHeaderSize+1)
	add(lead, 0)
	add(AppendDelete(nil, []byte("c")), 3)
	r := NewReader(bytes.NewReader(log), int64(len(log)), "")
	for from := int64(HeaderSize); from < int64(len(log)); from++ {
		if near := slices.ContainsFunc(offs, func(o int64) bool { return from > o-100 && from < o+6000 }); !near && from%4093 != 0 {
			continue
		}
		want, wantOK := firstAtOrAfter(offs, from)
		got, ok, err := r.FindRecord(from, int64(len(log)))
		if err != nil || ok != wantOK || got != want {
			t.Fatalf("FindRecord(%d) = %d %v %v, want %d %v", from, got, ok, err, want, wantOK)
		}
	}
}

func TestExtent(t *testing.T) {
	put := AppendPutExpiring(nil, []byte("key"), []byte("value"), 42)
	del := AppendDelete(nil, []byte("gone"))
	op := AppendBatchOp(nil, KindPut, []byte("k"), []byte("v"))
	batch := AppendBatchHeader(nil)
	batch = append(batch, op...)
	SealBatch(batch)
	for _, tc := range []struct {
		name string
		rec  []byte
		kind Kind
	}{{"put with expiry", put, KindPut}, {"delete", del, KindDelete}, {"batch op", op, KindPut}, {"batch", batch, KindBatch}} {
		kind, size, reason := Extent(tc.rec)
		if reason != "" || kind != tc.kind || size != len(tc.rec) {
			t.Errorf("%s: Extent = %v, %d, %q; want %v, %d", tc.name, kind, size, reason, tc.kind, len(tc.rec))
		}
	}
	bad := append([]byte(nil), put...)
	bad[offValueLen+3] = 0xff // a value longer than the format allows
	if _, _, reason := Extent(bad); reason == "" {
		t.Error("Extent accepted a value length out of range")
	}
	bad = append([]byte(nil), put...)
	bad[offKind] = 9
	if _, _, reason := Extent(bad); reason == "" {
		t.Error("Extent accepted an unknown kind")
	}
}

// TestPlainPut tells plain puts from every other record header, and
// ChecksumMatches a whole record from a damaged or cut one.
func TestPlainPut(t *testing.T) {
	key, val := []byte("key"), []byte("value")
	batchOp := AppendBatchOp(nil, KindPut, key, val)
	cases := []struct {
		name string
		rec  []byte
		want bool
	}{
		{"put", AppendPut(nil, key, val), true},
		{"put of an empty value", AppendPut(nil, key, nil), true},
		{"batch put", batchOp, true},
		{"expiring put", AppendPutCodec(nil, key, val, 0, 12345), false},
		{"encoded put", AppendPutCodec(nil, key, val, 1, 0), false},
		{"delete", AppendDelete(nil, key), false},
		{"batch delete", AppendBatchOp(nil, KindDelete, key, nil), false},
		{"batch", AppendBatchHeader(nil), false},
	}
	for _, c := range cases {
		kl, vl, ok := PlainPut((*[RecordHeaderSize]byte)(c.rec))
		if ok != c.want {
			t.Errorf("%s: PlainPut = %v, want %v", c.name, ok, c.want)
		}
		if ok && (kl != len(key) || RecordHeaderSize+kl+vl != len(c.rec)) {
			t.Errorf("%s: lengths %d and %d for a record of %d bytes", c.name, kl, vl, len(c.rec))
		}
		if !ChecksumMatches(c.rec) && c.name != "batch" {
			t.Errorf("%s: checksum does not match", c.name)
		}
	}
	rec := AppendPut(nil, key, val)
	binary.LittleEndian.PutUint32(rec[offValueLen:], MaxValueLen+1)
	if _, _, ok := PlainPut((*[RecordHeaderSize]byte)(rec)); ok {
		t.Error("PlainPut took a value length past the limit")
	}
	rec = AppendPut(nil, key, val)
	rec[len(rec)-1] ^= 1
	if ChecksumMatches(rec) || ChecksumMatches(rec[:RecordHeaderSize-1]) {
		t.Error("ChecksumMatches took a damaged or cut record")
	}
}

// BenchmarkFindRecordInZeros looks for a record across 8 MiB of zeros, the
// space a writer reserves past its last record, which a replay's pieces
// may start in.
func BenchmarkFindRecordInZeros(b *testing.B) {
	log := append(AppendHeader(nil), make([]byte, 8<<20)...)
	log = AppendPut(log, []byte("k"), []byte("v"))
	r := NewReader(bytes.NewReader(log), int64(len(log)), "")
	b.SetBytes(8 << 20)
	for b.Loop() {
		if _, ok, err := r.FindRecord(HeaderSize, int64(len(log))); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// TestDamagedHeaderResyncs flips a byte in each field of a version 2
// header before two records: the reader reports damage at the header's
// fields, never a torn tail, and Resync finds the first record, after
// which both read as they are.
func TestDamagedHeaderResyncs(t *testing.T) {
	for _, at := range []int{offHdrID, offHdrHashKey, offHdrWindow, offHdrCRC2} {
		log := AppendHeader(nil)
		log = AppendPut(log, []byte("a"), []byte("1"))
		log = AppendPut(log, []byte("b"), []byte("2"))
		log[at] ^= 0x10
		r := NewReader(bytes.NewReader(log), int64(len(log)), "wal.log")
		_, err := r.Next()
		var ce *CorruptionError
		if !errors.As(err, &ce) || ce.Torn || ce.Offset != offHdrID || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d flipped: %v, want corruption at offset %d", at, err, offHdrID)
		}
		next, ok, err := r.Resync()
		if err != nil || !ok || next != HeaderSize {
			t.Fatalf("byte %d flipped: Resync = %d, %v, %v; want the first record at %d", at, next, ok, err, HeaderSize)
		}
		var keys []string
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("byte %d flipped: %v after Resync", at, err)
			}
			keys = append(keys, string(rec.Key))
		}
		if fmt.Sprint(keys) != "[a b]" {
			t.Errorf("byte %d flipped: records %q after Resync, want a and b", at, keys)
		}
	}
}
