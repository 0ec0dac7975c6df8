package kv

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/crabkv/crabkv/walfmt"
)

// TestScanTailEveryPrefix cuts a log at every offset, with and without
// reserved zeros after the cut, and checks that scanTail returns exactly
// the records that lie whole before the cut, stops at the last of them,
// and never calls what follows damage unless it is.
func TestScanTailEveryPrefix(t *testing.T) {
	log := walfmt.AppendHeader(nil)
	var ends []int64
	for i := range 5 {
		log = walfmt.AppendPut(log, fmt.Appendf(nil, "key-%d", i), bytes.Repeat([]byte{'v'}, i*40))
		ends = append(ends, int64(len(log)))
	}
	log = walfmt.AppendDelete(log, []byte("key-1"))
	ends = append(ends, int64(len(log)))
	path := filepath.Join(t.TempDir(), "log")
	for cut := int64(walfmt.HeaderSize); cut <= int64(len(log)); cut++ {
		for _, zeros := range []int{0, 4096} {
			data := append(bytes.Clone(log[:cut]), make([]byte, zeros)...)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := DefaultFS().OpenFile(path, os.O_RDONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			var buf []byte
			end, invalid, err := scanTail(f, walfmt.HeaderSize, int64(len(data)), &buf, func(recs []walfmt.Record, end int64) error {
				for _, r := range recs {
					got = append(got, r.Offset+int64(r.Size))
				}
				return nil
			})
			f.Close()
			var want []int64
			for _, e := range ends {
				if e <= cut {
					want = append(want, e)
				}
			}
			wantEnd := int64(walfmt.HeaderSize)
			if len(want) > 0 {
				wantEnd = want[len(want)-1]
			}
			if err != nil || end != wantEnd || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("cut %d, %d zeros: records ending %v at %d (invalid %v, %v); want %v at %d",
					cut, zeros, got, end, invalid, err, want, wantEnd)
			}
		}
	}
}

// TestScanTailLargeRecord reads a record larger than a chunk.
func TestScanTailLargeRecord(t *testing.T) {
	log := walfmt.AppendHeader(nil)
	log = walfmt.AppendPut(log, []byte("big"), bytes.Repeat([]byte{'v'}, 3*followChunk))
	log = walfmt.AppendPut(log, []byte("small"), []byte("v"))
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, log, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := DefaultFS().OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var keys []string
	var buf []byte
	end, _, err := scanTail(f, walfmt.HeaderSize, int64(len(log)), &buf, func(recs []walfmt.Record, end int64) error {
		for _, r := range recs {
			keys = append(keys, string(r.Key))
		}
		return nil
	})
	if err != nil || end != int64(len(log)) || fmt.Sprint(keys) != "[big small]" {
		t.Fatalf("scanTail: keys %v, end %d of %d, %v", keys, end, len(log), err)
	}
}
