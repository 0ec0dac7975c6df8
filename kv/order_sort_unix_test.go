//go:build unix

package kv

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"

	"github.com/crabkv/crabkv/walfmt"
)

// TestSortByKeyScratchOffHeap checks that a large sort takes its prefixes
// and scratch, 32 bytes a key, outside the Go heap, so that they go back
// to the system when it ends rather than staying in the process until the
// next collection: sorting 200,000 keys, through a map and through ReadAt,
// may allocate on the heap no more than a dozen bytes a key, besides the keys
// that ReadAt reads, with their ends.
func TestSortByKeyScratchOffHeap(t *testing.T) {
	const n = 200_000
	log := walfmt.AppendHeader(nil)
	offs := make([]uint64, n)
	val := make([]byte, 20)
	for i := range n {
		offs[i] = uint64(len(log))
		log = walfmt.AppendPut(log, fmt.Appendf(nil, "%016x", uint64(i*7919%n)*0x9E3779B97F4A7C15), val)
	}
	f, path := logFileOf(t, log)
	for _, mapped := range []bool{true, false} {
		src := &logView{f: f, end: int64(len(log)), path: path}
		if mapped {
			src.m = mapLog(f, src.end, false)
		}
		work := make([]uint64, n)
		copy(work, offs)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		sortByKey(src, work)
		runtime.ReadMemStats(&after)
		_ = src.m.unmap()
		// Read through ReadAt, the keys (16 bytes each, with room for a
		// quarter more), their ends (8) and the block read are on the heap.
		limit := uint64(12 * n)
		if !mapped {
			limit += (20+8)*n + keyReadBlock
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > limit {
			t.Errorf("mapped %v: the sort of %d keys allocated %d bytes on the heap (%.1f a key), want at most %d",
				mapped, n, got, float64(got)/n, limit)
		}
	}
}

// TestReadKeysFirstKeyLong checks that the buffer a ReadAt sort reads its
// keys into is sized from the keys, not from the first alone: one long key
// at the start of a log of short ones must not reserve a long key's room
// for every key.
func TestReadKeysFirstKeyLong(t *testing.T) {
	const n = 100_000
	log := walfmt.AppendHeader(nil)
	offs := make([]uint64, 0, n+1)
	offs = append(offs, uint64(len(log)))
	log = walfmt.AppendPut(log, bytes.Repeat([]byte("L"), 4096), []byte("v"))
	for i := range n {
		offs = append(offs, uint64(len(log)))
		log = walfmt.AppendPut(log, fmt.Appendf(nil, "%016d", i), []byte("v"))
	}
	f, path := logFileOf(t, log)
	src := &logView{f: f, end: int64(len(log)), path: path} // no map, as a follower reads
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	keys, _ := readKeysInLogOrder(src, offs)
	runtime.ReadMemStats(&after)
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(4*len(keys)+8*(n+2)+keyReadBlock); got > limit {
		t.Errorf("reading %d bytes of keys allocated %d bytes (the buffer's room: %d), want at most %d",
			len(keys), got, cap(keys), limit)
	}
}
