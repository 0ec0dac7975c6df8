package compact

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/crabkv/crabkv/walfmt"
)

// byKey returns the live offsets of latest in the order of their keys.
func byKey(latest map[string]int64) []uint64 {
	keys := make([]string, 0, len(latest))
	for k := range latest {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	offs := make([]uint64, len(keys))
	for i, k := range keys {
		offs[i] = uint64(latest[k])
	}
	return offs
}

// TestCopyMappedInKeyOrder checks that CopyMapped writes the live records
// in the order it is given, each as Copy writes it, so that the new log
// holds the same records as Copy's in key order, and that it reports
// where each landed.
func TestCopyMappedInKeyOrder(t *testing.T) {
	for seed := range uint64(5) {
		rng := rand.New(rand.NewPCG(seed, 2))
		log, latest := testLog(rng, 6000)
		hdr := walfmt.NewFileHeader()
		var want bytes.Buffer
		src := Source{R: bytes.NewReader(log), Start: walfmt.HeaderSize, End: int64(len(log)), Live: liveOffsets(latest)}
		if _, err := Copy(context.Background(), &want, src, hdr, nil, func([]byte, int64, int64, int) {}, nil); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		type landing struct {
			key             string
			from, off, size int64
		}
		var moved []landing
		var progress []int64
		m := Mapped{Log: log, Start: walfmt.HeaderSize, End: int64(len(log)), Live: byKey(latest)}
		res, err := CopyMapped(context.Background(), &got, m, hdr, nil,
			func(key []byte, from, off int64, size int) {
				moved = append(moved, landing{string(key), from, off, int64(size)})
			},
			func(done int64) { progress = append(progress, done) })
		if err != nil {
			t.Fatal(err)
		}
		if res.Kept != len(latest) || res.Dropped != 0 || res.Bytes != int64(got.Len()) {
			t.Fatalf("seed %d: result %+v, want %d kept of %d bytes", seed, res, len(latest), got.Len())
		}
		if got.Len() != want.Len() {
			t.Fatalf("seed %d: new log of %d bytes, Copy wrote %d", seed, got.Len(), want.Len())
		}
		// Read the new log back: the same records as Copy's, by key, in
		// increasing key order, where moved said.
		records := func(b []byte) map[string][]byte {
			out := map[string][]byte{}
			r := walfmt.NewReader(bytes.NewReader(b), int64(len(b)), "")
			for {
				rec, err := r.Next()
				if err != nil {
					return out
				}
				out[string(rec.Key)] = slices.Clone(rec.Raw)
			}
		}
		wantRecs := records(want.Bytes())
		r := walfmt.NewReader(bytes.NewReader(got.Bytes()), int64(got.Len()), "")
		for i := 0; ; i++ {
			rec, err := r.Next()
			if err != nil {
				if i != len(latest) {
					t.Fatalf("seed %d: read %d records back (%v), want %d", seed, i, err, len(latest))
				}
				break
			}
			if i > 0 && string(rec.Key) <= moved[i-1].key {
				t.Fatalf("seed %d: record %d, key %q, not after %q", seed, i, rec.Key, moved[i-1].key)
			}
			if l := moved[i]; l.key != string(rec.Key) || l.from != latest[l.key] || l.off != rec.Offset || l.size != int64(rec.Size) {
				t.Fatalf("seed %d: record %d is %q at %d+%d, moved said %+v", seed, i, rec.Key, rec.Offset, rec.Size, l)
			}
			if !bytes.Equal(rec.Raw, wantRecs[string(rec.Key)]) {
				t.Fatalf("seed %d: %q differs from Copy's record", seed, rec.Key)
			}
		}
		if len(progress) < 2 || !slices.IsSorted(progress) || progress[len(progress)-1] != m.End {
			t.Fatalf("seed %d: progress %v, want increasing to %d", seed, progress, m.End)
		}
	}
}

// TestCopyMappedDamage checks that an offset that is not a live put, or a
// live record that is damaged, stops the copy with a corruption error at
// that offset.
func TestCopyMappedDamage(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	log, latest := testLog(rng, 500)
	live := byKey(latest)
	var batch, del uint64
	for r := walfmt.NewReader(bytes.NewReader(log), int64(len(log)), ""); ; {
		rec, err := r.Next()
		if err != nil {
			break
		}
		switch {
		case rec.Kind == walfmt.KindBatch && batch == 0:
			batch = uint64(rec.Offset)
		case rec.Kind == walfmt.KindDelete && del == 0:
			del = uint64(rec.Offset)
		}
	}
	flipped := slices.Clone(log)
	flipped[live[3]+walfmt.RecordHeaderSize+1] ^= 0x40 // in the key
	for _, tc := range []struct {
		name string
		log  []byte
		bad  uint64
	}{
		{"batch header", log, batch},
		{"tombstone", log, del},
		{"mid-record", log, live[3] + 1},
		{"past the end", log, uint64(len(log))},
		{"in the file header", log, 3},
		{"damaged key", flipped, live[3]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			offs := slices.Clone(live)
			offs[3] = tc.bad
			var out bytes.Buffer
			m := Mapped{Log: tc.log, Name: "wal.log", Start: walfmt.HeaderSize, End: int64(len(tc.log)), Live: offs}
			_, err := CopyMapped(context.Background(), &out, m, walfmt.NewFileHeader(), nil, func([]byte, int64, int64, int) {}, nil)
			var ce *walfmt.CorruptionError
			if !errors.As(err, &ce) || ce.Offset != int64(tc.bad) || ce.File != "wal.log" {
				t.Fatalf("error %v, want a corruption of wal.log at %d", err, tc.bad)
			}
		})
	}
}

// TestCopyMappedKeepAndCancel checks that keep may still leave a record
// out, counted as dropped, and that a cancelled context stops the copy.
func TestCopyMappedKeepAndCancel(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	log, latest := testLog(rng, 6000)
	m := Mapped{Log: log, Start: walfmt.HeaderSize, End: int64(len(log)), Live: byKey(latest)}
	odd := func(_ []byte, off int64) (bool, error) { return off%2 == 0, nil }
	var out bytes.Buffer
	res, err := CopyMapped(context.Background(), &out, m, walfmt.NewFileHeader(), odd, func([]byte, int64, int64, int) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	even := 0
	for _, o := range m.Live {
		if o%2 == 0 {
			even++
		}
	}
	if res.Kept != even || res.Dropped != len(m.Live)-even {
		t.Fatalf("kept %d, dropped %d; want %d and %d", res.Kept, res.Dropped, even, len(m.Live)-even)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := CopyMapped(ctx, &out, m, walfmt.NewFileHeader(), nil, func([]byte, int64, int64, int) {}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled copy: %v", err)
	}
}
