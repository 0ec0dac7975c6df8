package kv

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSortOffsets(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 100, 1 << 12, 50_000} {
		for _, top := range []int64{1 << 10, 1 << 33, 1 << 50} {
			offs := make([]int64, n)
			for i := range offs {
				offs[i] = 64 + rng.Int64N(top)
			}
			want := slices.Clone(offs)
			slices.Sort(want)
			// No scratch, a scratch too short, one long enough (whose
			// contents must not matter).
			for _, buf := range [][]int64{nil, make([]int64, n/2), slices.Repeat([]int64{-1}, n+3)} {
				got := slices.Clone(offs)
				sortOffsets(got, buf)
				if !slices.Equal(got, want) {
					t.Fatalf("n=%d top=%d scratch=%d: not sorted", n, top, len(buf))
				}
			}
		}
	}
}
