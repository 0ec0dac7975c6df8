package kv

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/crabkv/crabkv/walfmt"
)

// sortBenchKeys is the number of keys BenchmarkSortByKey sorts: a
// million, or CRABKV_BENCH_SORT_KEYS.
func sortBenchKeys() int {
	if n, err := strconv.Atoi(os.Getenv("CRABKV_BENCH_SORT_KEYS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// BenchmarkSortByKey sorts the records of a log of keys that share
// their first bytes ("key:" and zeros, as numbered keys do) or not (16 hex
// digits), written in a scattered order, through a map (a writer) and
// through ReadAt (a follower).
func BenchmarkSortByKey(b *testing.B) {
	n := sortBenchKeys()
	shapes := []struct {
		name string
		key  func(i int) []byte
	}{
		{"numbered", func(i int) []byte { return fmt.Appendf(nil, "key:%012d", i) }},
		{"hex", func(i int) []byte { return fmt.Appendf(nil, "%016x", uint64(i)*0x9E3779B97F4A7C15) }},
	}
	for _, shape := range shapes {
		log := walfmt.AppendHeader(nil)
		offs := make([]uint64, n)
		val := make([]byte, 100)
		for i := range n {
			offs[i] = uint64(len(log))
			log = walfmt.AppendPut(log, shape.key(i*7919%n), val)
		}
		f, path := logFileOf(b, log)
		for _, mapped := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/mapped=%v", shape.name, mapped), func(b *testing.B) {
				src := &logView{f: f, end: int64(len(log)), path: path}
				if mapped {
					src.m = mapLog(f, src.end, false)
					defer func() { _ = src.m.unmap() }()
				}
				work := make([]uint64, n)
				for b.Loop() {
					copy(work, offs)
					sortByKey(src, work)
				}
				if !slices.IsSortedFunc(work, func(x, y uint64) int {
					return slices.Compare(src.keyOrNil(x), src.keyOrNil(y))
				}) {
					b.Fatal("not sorted")
				}
			})
		}
	}
}

// BenchmarkOrderExtend extends a snapshot over a tail of 200,000 records
// written after it: new keys (each read once), or overwrites of 1,000 keys.
// It reports the bytes it allocates, which the overwrites must not make
// grow with the tail.
func BenchmarkOrderExtend(b *testing.B) {
	const tail = 200_000
	for _, c := range []struct {
		name string
		key  func(i int) []byte
	}{
		{"new-keys", func(i int) []byte { return fmt.Appendf(nil, "%016x", uint64(i)*0x9E3779B97F4A7C15) }},
		{"overwrites", func(i int) []byte { return fmt.Appendf(nil, "key:%012d", i%1000) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			log := walfmt.AppendHeader(nil)
			val := make([]byte, 100)
			for i := range tail {
				log = walfmt.AppendPut(log, c.key(i), val)
			}
			f, path := logFileOf(b, log)
			src := &logView{f: f, end: int64(len(log)), path: path}
			start := &orderSnap{runEnd: walfmt.HeaderSize, end: walfmt.HeaderSize}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := extendSnap(start, src, int64(len(log)), false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
