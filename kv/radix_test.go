package kv

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRadixSort checks radixSort against slices.Sort over lengths on both
// sides of 1<<16 (where its scratch moves from the heap to a map, on Unix)
// and ranges of values that take from one digit to the full width of an
// int64, with duplicates.
func TestRadixSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 17, 1000, 1<<16 + 3} {
		for _, max := range []int64{1, 2, 255, 2048, 1 << 28, 1<<40 + 7, 1<<63 - 1} {
			a := make([]int64, n)
			for i := range a {
				a[i] = rng.Int64N(max)
			}
			want := slices.Clone(a)
			slices.Sort(want)
			radixSort(a)
			if !slices.Equal(a, want) {
				t.Fatalf("radixSort of %d numbers below %d: not the sorted input", n, max)
			}
		}
	}
}

// BenchmarkRadixSort sorts a million offsets below 2^28, those of a log of
// 256 MiB, in random order, as a compaction's snapshot takes them.
func BenchmarkRadixSort(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	src := make([]int64, 1<<20)
	for i := range src {
		src[i] = rng.Int64N(1 << 28)
	}
	a := make([]int64, len(src))
	for b.Loop() {
		copy(a, src)
		radixSort(a)
	}
}
