package compact

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/crabkv/crabkv/walfmt"
)

// testLog is a log of puts, deletes and batches over a few keys, large
// enough for Copy to read and write it in several chunks, and the offset
// of each key's live put.
func testLog(rng *rand.Rand, n int) ([]byte, map[string]int64) {
	log := walfmt.AppendHeader(nil)
	latest := map[string]int64{}
	for i := range n {
		key := fmt.Sprintf("key-%03d", rng.IntN(2000))
		value := bytes.Repeat([]byte{byte(i)}, rng.IntN(3000))
		switch rng.IntN(10) {
		case 0:
			delete(latest, key)
			log = walfmt.AppendDelete(log, []byte(key))
		case 1:
			start := len(log)
			log = walfmt.AppendBatchHeader(log)
			for j := range 3 {
				k := fmt.Sprintf("key-%03d", rng.IntN(2000))
				if j == 1 {
					delete(latest, k)
					log = walfmt.AppendBatchOp(log, walfmt.KindDelete, []byte(k), nil)
					continue
				}
				latest[k] = int64(len(log))
				log = walfmt.AppendBatchOp(log, walfmt.KindPut, []byte(k), value)
			}
			walfmt.SealBatch(log[start:])
		default:
			latest[key] = int64(len(log))
			log = walfmt.AppendPutExpiring(log, []byte(key), value, int64(rng.IntN(2)))
		}
	}
	return log, latest
}

func liveOffsets(latest map[string]int64) []int64 {
	var offs []int64
	for _, o := range latest {
		offs = append(offs, o)
	}
	slices.Sort(offs)
	return offs
}

// TestCopyMatchesRewrite checks that Copy, told the live offsets, writes
// the very log Rewrite writes when it asks about each record, and moves
// and keeps the same records. Rewrite reads and counts the dead records
// too; Copy reads only the live ones, and drops none of them here.
func TestCopyMatchesRewrite(t *testing.T) {
	for seed := range uint64(5) {
		rng := rand.New(rand.NewPCG(seed, 1))
		log, latest := testLog(rng, 6000)
		hdr := walfmt.NewFileHeader()
		var movedA, movedB []string
		mover := func(to *[]string) Moved {
			return func(key []byte, from, off int64, size int) {
				*to = append(*to, fmt.Sprintf("%s@%d→%d+%d", key, from, off, size))
			}
		}
		var a bytes.Buffer
		live := func(key []byte, off int64) (bool, error) { o, ok := latest[string(key)]; return ok && o == off, nil }
		resA, err := Rewrite(context.Background(), &a, walfmt.NewReader(bytes.NewReader(log), int64(len(log)), ""), hdr, live, mover(&movedA), nil)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		var writes int
		src := Source{R: bytes.NewReader(log), Start: walfmt.HeaderSize, End: int64(len(log)), Live: liveOffsets(latest)}
		resB, err := Copy(context.Background(), countWrites{&b, &writes}, src, hdr, nil, mover(&movedB), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resA.Kept != resB.Kept || resA.Bytes != resB.Bytes || resB.Dropped != 0 || resA.Dropped == 0 ||
			!bytes.Equal(a.Bytes(), b.Bytes()) || fmt.Sprint(movedA) != fmt.Sprint(movedB) {
			t.Fatalf("seed %d: Rewrite %+v (%d bytes), Copy %+v (%d bytes); same moves %v", seed, resA, a.Len(), resB, b.Len(), fmt.Sprint(movedA) == fmt.Sprint(movedB))
		}
		if want := (b.Len() + copyChunk - 1) / copyChunk; writes > want+1 || b.Len() > 2*copyChunk && writes < 2 {
			t.Errorf("seed %d: %d writes for %d bytes", seed, writes, b.Len())
		}
	}
}

type countWrites struct {
	w *bytes.Buffer
	n *int
}

func (c countWrites) Write(p []byte) (int, error) { *c.n++; return c.w.Write(p) }

// TestCopyKeepDrops checks that a record keep refuses is dropped, and
// counted so.
func TestCopyKeepDrops(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 1))
	log, latest := testLog(rng, 200)
	src := Source{R: bytes.NewReader(log), Start: walfmt.HeaderSize, End: int64(len(log)), Live: liveOffsets(latest)}
	var out bytes.Buffer
	res, err := Copy(context.Background(), &out, src, walfmt.NewFileHeader(),
		func([]byte, int64) (bool, error) { return false, nil }, func([]byte, int64, int64, int) {}, nil)
	if err != nil || res.Kept != 0 || res.Bytes != walfmt.HeaderSize || out.Len() != walfmt.HeaderSize {
		t.Fatalf("Copy keeping nothing: %+v, %v, %d bytes", res, err, out.Len())
	}
}

// TestCopyDamage checks that Copy stops with a corruption error naming the
// offset when a live record is damaged, when a live offset is not a
// record's or lies inside the live record before it, and when one lies
// past the end; a dead record may be damaged in any way, its lengths
// included, without stopping the copy.
func TestCopyDamage(t *testing.T) {
	a := walfmt.AppendHeader(nil)
	offA := int64(len(a))
	a = walfmt.AppendPut(a, []byte("a"), []byte("old"))
	offB := int64(len(a))
	a = walfmt.AppendPut(a, []byte("b"), []byte("live"))
	offC := int64(len(a))
	a = walfmt.AppendPut(a, []byte("a"), []byte("new"))
	live := []int64{offB, offC}
	for _, tc := range []struct {
		name   string
		damage func(b []byte)
		live   []int64
		at     int64 // -1: no error
	}{
		{"intact", func([]byte) {}, live, -1},
		{"dead value flipped", func(b []byte) { b[offB-1] ^= 1 }, live, -1},
		{"dead length too long", func(b []byte) { b[offA+12]++ }, live, -1},
		{"dead length out of range", func(b []byte) { b[offA+15] = 0xff }, live, -1},
		{"live value flipped", func(b []byte) { b[offC-1] ^= 1 }, live, offB},
		{"last live value flipped", func(b []byte) { b[len(b)-1] ^= 1 }, live, offC},
		{"live length too long", func(b []byte) { b[offB+12]++ }, live, offB},
		{"live offset inside a record", func([]byte) {}, []int64{offB + 1, offC}, offB + 1},
		{"live offset inside the live record before", func([]byte) {}, []int64{offA, offA + 3, offC}, offA + 3},
		{"live offset past the end", func([]byte) {}, []int64{offB, offC, int64(len(a)) + 5}, int64(len(a)) + 5},
	} {
		b := bytes.Clone(a)
		tc.damage(b)
		src := Source{R: bytes.NewReader(b), Name: "wal.log", Start: walfmt.HeaderSize, End: int64(len(b)), Live: tc.live}
		res, err := Copy(context.Background(), &bytes.Buffer{}, src, walfmt.NewFileHeader(), nil, func([]byte, int64, int64, int) {}, nil)
		var ce *walfmt.CorruptionError
		switch {
		case tc.at < 0 && (err != nil || res.Kept != 2 || res.Dropped != 0):
			t.Errorf("%s: %+v, %v; want 2 kept, none dropped", tc.name, res, err)
		case tc.at >= 0 && (!errors.As(err, &ce) || ce.Offset != tc.at || ce.File != "wal.log"):
			t.Errorf("%s: error %v; want a corruption at %d", tc.name, err, tc.at)
		}
	}
}

// TestCopyLiveOffsetInsideDeadValue gives Copy a live offset that is not a
// record's start: it points into the value of a dead put, whose bytes hold
// a whole, checksummed put of another key (a value that is itself a log
// record). Copy steps over the dead records it has read by their lengths,
// so it finds that the offset is not where a record starts, and refuses
// it rather than copy the embedded record as a key's live one.
func TestCopyLiveOffsetInsideDeadValue(t *testing.T) {
	inner := walfmt.AppendPut(nil, []byte("victim"), []byte("resurrected"))
	log := walfmt.AppendHeader(nil)
	log = walfmt.AppendPut(log, []byte("a"), append([]byte("prefix:"), inner...))
	offB := int64(len(log))
	log = walfmt.AppendPut(log, []byte("b"), []byte("live"))
	embedded := offB - int64(len(inner))
	if !bytes.Equal(log[embedded:offB], inner) {
		t.Fatal("the embedded record is not where the test expects it")
	}
	src := Source{R: bytes.NewReader(log), Name: "wal.log", Start: walfmt.HeaderSize, End: int64(len(log)), Live: []int64{embedded, offB}}
	var moved []string
	res, err := Copy(context.Background(), &bytes.Buffer{}, src, walfmt.NewFileHeader(), nil,
		func(key []byte, _, _ int64, _ int) { moved = append(moved, string(key)) }, nil)
	var ce *walfmt.CorruptionError
	if !errors.As(err, &ce) || ce.Offset != embedded {
		t.Errorf("Copy with a live offset inside a dead value: %+v, %v, moved %q; want a corruption at %d", res, err, moved, embedded)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r    io.ReaderAt
	read int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.read += int64(n)
	return n, err
}

// TestCopyReadsLiveStretches checks what Copy reads of a log of long dead
// stretches between small live records, after a live record larger than
// its reads: the large record whole, then a read of a chunk at most for
// each small one, not the dead stretches a read as large as the large
// record would take in.
func TestCopyReadsLiveStretches(t *testing.T) {
	log := walfmt.AppendHeader(nil)
	live := []int64{int64(len(log))}
	log = walfmt.AppendPut(log, []byte("big"), bytes.Repeat([]byte{1}, 8<<20))
	dead := bytes.Repeat([]byte{2}, 64<<10)
	for i := range 10 {
		for range 64 { // 4 MiB of dead records
			log = walfmt.AppendPut(log, []byte("dead"), dead)
		}
		live = append(live, int64(len(log)))
		log = walfmt.AppendPut(log, []byte{'k', byte('0' + i)}, []byte("small"))
	}
	cr := &countingReader{r: bytes.NewReader(log)}
	src := Source{R: cr, Name: "wal.log", Start: walfmt.HeaderSize, End: int64(len(log)), Live: live}
	res, err := Copy(context.Background(), &bytes.Buffer{}, src, walfmt.NewFileHeader(), nil, func([]byte, int64, int64, int) {}, nil)
	if err != nil || res.Kept != len(live) {
		t.Fatalf("Copy: %+v, %v", res, err)
	}
	if limit := int64(8<<20+copyChunk) + int64(len(live)-1)*copyChunk; cr.read > limit {
		t.Errorf("Copy read %d MiB of a %d MiB log whose live records are 8 MiB and ten small ones; want at most %d MiB", cr.read>>20, len(log)>>20, limit>>20)
	}
}

// largeLog builds a log whose records range from a few bytes to several
// mebibytes, with batches, expiries and codecs, so that records straddle
// Copy's 1 MiB window and exceed it; a random subset of the latest puts
// is live.
func largeLog(rng *rand.Rand, n int) ([]byte, map[string]int64) {
	log := walfmt.AppendHeader(nil)
	latest := map[string]int64{}
	val := func() []byte {
		var size int
		switch rng.IntN(8) {
		case 0:
			size = 1<<20 - 40 + rng.IntN(80)
		case 1:
			size = 1<<20 + rng.IntN(3<<20)
		default:
			size = rng.IntN(200_000)
		}
		return bytes.Repeat([]byte{byte(rng.IntN(256))}, size)
	}
	for range n {
		key := fmt.Sprintf("k%03d", rng.IntN(60))
		switch rng.IntN(6) {
		case 0:
			delete(latest, key)
			log = walfmt.AppendDelete(log, []byte(key))
		case 1, 2:
			start := len(log)
			log = walfmt.AppendBatchHeader(log)
			for range 1 + rng.IntN(4) {
				k := fmt.Sprintf("k%03d", rng.IntN(60))
				if rng.IntN(4) == 0 {
					delete(latest, k)
					log = walfmt.AppendBatchOp(log, walfmt.KindDelete, []byte(k), nil)
					continue
				}
				latest[k] = int64(len(log))
				log = walfmt.AppendBatchOpCodec(log, []byte(k), val(), uint8(rng.IntN(3)), int64(rng.IntN(2))*12345)
			}
			walfmt.SealBatch(log[start:])
		default:
			latest[key] = int64(len(log))
			log = walfmt.AppendPutExpiring(log, []byte(key), val(), int64(rng.IntN(2))*777)
		}
	}
	return log, latest
}

// TestCopyLargeAndSparse compares Copy with Rewrite on logs of records
// larger than Copy's reads and straddling them, batches among them, with a
// random half of the live records dropped by keep: the same new log, the
// same moves, progress that never goes back, and a new log of plain puts.
func TestCopyLargeAndSparse(t *testing.T) {
	for seed := range uint64(3) {
		rng := rand.New(rand.NewPCG(seed, 99))
		log, latest := largeLog(rng, 150)
		drop := map[int64]bool{}
		for _, o := range latest {
			drop[o] = rng.IntN(2) == 0
		}
		hdr := walfmt.NewFileHeader()
		var movedA, movedB []string
		mover := func(to *[]string) Moved {
			return func(key []byte, from, off int64, size int) {
				*to = append(*to, fmt.Sprintf("%s@%d→%d+%d", key, from, off, size))
			}
		}
		live := func(key []byte, off int64) (bool, error) {
			o, ok := latest[string(key)]
			return ok && o == off && !drop[off], nil
		}
		var a bytes.Buffer
		resA, err := Rewrite(context.Background(), &a, walfmt.NewReader(bytes.NewReader(log), int64(len(log)), ""), hdr, live, mover(&movedA), nil)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		keep := func(key []byte, off int64) (bool, error) { return !drop[off], nil }
		src := Source{R: bytes.NewReader(log), Start: walfmt.HeaderSize, End: int64(len(log)), Live: liveOffsets(latest)}
		var last int64
		resB, err := Copy(context.Background(), &b, src, hdr, keep, mover(&movedB), func(done int64) {
			if done < last {
				t.Errorf("progress went back: %d after %d", done, last)
			}
			last = done
		})
		if err != nil {
			t.Fatal(err)
		}
		if resA.Kept != resB.Kept || resA.Bytes != resB.Bytes || !bytes.Equal(a.Bytes(), b.Bytes()) || fmt.Sprint(movedA) != fmt.Sprint(movedB) {
			t.Fatalf("seed %d: Rewrite %+v, Copy %+v", seed, resA, resB)
		}
		// The new log must read back clean.
		r := walfmt.NewReader(bytes.NewReader(b.Bytes()), int64(b.Len()), "new")
		n := 0
		for {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("seed %d: new log: %v", seed, err)
			}
			if rec.Flags&walfmt.FlagBatchOp != 0 || rec.Kind != walfmt.KindPut {
				t.Fatalf("seed %d: new log holds %+v", seed, rec.Kind)
			}
			n++
		}
		if n != resB.Kept {
			t.Fatalf("seed %d: %d records in new log, %d kept", seed, n, resB.Kept)
		}
	}
}

// TestCopyStartPastEnd: a source whose first record would start past its
// end is corruption, not a panic.
func TestCopyStartPastEnd(t *testing.T) {
	log := walfmt.AppendHeader(nil)
	log = walfmt.AppendPut(log, []byte("a"), []byte("v"))
	src := Source{R: bytes.NewReader(log), Name: "wal.log", Start: walfmt.HeaderSize, End: walfmt.HeaderSize - 8, Live: []int64{walfmt.HeaderSize}}
	_, err := Copy(context.Background(), &bytes.Buffer{}, src, walfmt.NewFileHeader(), nil, func([]byte, int64, int64, int) {}, nil)
	if ce := (*walfmt.CorruptionError)(nil); !errors.As(err, &ce) {
		t.Errorf("Copy with Start past End: %v, want a corruption", err)
	}
}

// TestCopyLiveOffsetInsideDeadValueAtReadEnd is
// TestCopyLiveOffsetInsideDeadValue with the dead record that holds the
// embedded one across the end of Copy's read, or just before it: a short
// stretch of dead records is checked wherever the reads happen to end.
func TestCopyLiveOffsetInsideDeadValueAtReadEnd(t *testing.T) {
	inner := walfmt.AppendPut(nil, []byte("victim"), []byte("resurrected"))
	for _, shift := range []int{-400, -100, 0} {
		log := walfmt.AppendHeader(nil)
		live := []int64{int64(len(log))}
		log = walfmt.AppendPut(log, []byte("L1"), []byte("x")) // read with the mebibyte after it
		readEnd := walfmt.HeaderSize + copyChunk
		for len(log) < readEnd-300+shift-70_000 {
			log = walfmt.AppendPut(log, []byte("dead"), make([]byte, 60_000))
		}
		fill := readEnd - 300 + shift - len(log) - walfmt.RecordSize(4, 0) - 40
		log = walfmt.AppendPut(log, []byte("dead"), make([]byte, fill))
		live = append(live, int64(len(log)))
		log = walfmt.AppendPut(log, []byte("L2"), make([]byte, 40-walfmt.RecordSize(2, 0))) // ends 300-shift bytes before readEnd
		held := len(log)
		log = walfmt.AppendPut(log, []byte("D"), append(append([]byte("prefix:"), inner...), make([]byte, 400)...))
		embedded := int64(held + walfmt.RecordSize(1, 0) + len("prefix:"))
		if !bytes.Equal(log[embedded:embedded+int64(len(inner))], inner) {
			t.Fatal("the embedded record is not where the test expects it")
		}
		live = append(live, embedded)
		log = walfmt.AppendPut(log, []byte("tail"), []byte("t"))
		src := Source{R: bytes.NewReader(log), Name: "wal.log", Start: walfmt.HeaderSize, End: int64(len(log)), Live: live}
		var moved []string
		_, err := Copy(context.Background(), &bytes.Buffer{}, src, walfmt.NewFileHeader(), nil,
			func(key []byte, _, _ int64, _ int) { moved = append(moved, string(key)) }, nil)
		if ce := (*walfmt.CorruptionError)(nil); !errors.As(err, &ce) || ce.Offset != embedded {
			t.Errorf("dead record at %d, %d bytes before the read's end: moved %q, %v; want a corruption at %d", held, readEnd-held, moved, err, embedded)
		}
	}
}

// TestCopyReadsLargeRecordsOnce copies a log of live records larger than
// a read, one after another: each is read once, with at most the chunk
// read at its start besides, not read whole twice.
func TestCopyReadsLargeRecordsOnce(t *testing.T) {
	log := walfmt.AppendHeader(nil)
	var live []int64
	for i := range 6 {
		live = append(live, int64(len(log)))
		log = walfmt.AppendPut(log, []byte{'k', byte('0' + i)}, bytes.Repeat([]byte{byte(i)}, 3<<20+i))
	}
	cr := &countingReader{r: bytes.NewReader(log)}
	src := Source{R: cr, Name: "wal.log", Start: walfmt.HeaderSize, End: int64(len(log)), Live: live}
	var out bytes.Buffer
	res, err := Copy(context.Background(), &out, src, walfmt.NewFileHeader(), nil, func([]byte, int64, int64, int) {}, nil)
	if err != nil || res.Kept != len(live) || !bytes.Equal(out.Bytes()[walfmt.HeaderSize:], log[walfmt.HeaderSize:]) {
		t.Fatalf("Copy: %+v, %v", res, err)
	}
	if limit := int64(len(log)) + int64(len(live))*walfmt.RecordHeaderSize*2; cr.read > limit {
		t.Errorf("Copy read %d bytes of a %d-byte log of large live records; want at most %d", cr.read, len(log), limit)
	}
}
