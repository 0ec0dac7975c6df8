// Package stats reduces repeated trials to one number and compares engines.
package stats

import (
	"math"
	"slices"
)

// Median returns the median of xs, the mean of the middle two for an even
// count, and NaN for an empty slice. xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// Best returns the name whose value is best (largest when higherBetter,
// smallest otherwise) among vals, skipping NaN values and the names in
// exclude. ok is false when no value qualifies. Ties go to the name that
// sorts first, so the result does not depend on map order.
func Best(vals map[string]float64, higherBetter bool, exclude ...string) (name string, v float64, ok bool) {
	names := make([]string, 0, len(vals))
	for n := range vals {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		x := vals[n]
		if math.IsNaN(x) || slices.Contains(exclude, n) {
			continue
		}
		if !ok || (higherBetter && x > v) || (!higherBetter && x < v) {
			name, v, ok = n, x, true
		}
	}
	return name, v, ok
}

// Ratio returns a/b, or NaN when either is NaN or b is zero.
func Ratio(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return math.NaN()
	}
	return a / b
}

// Score normalises v against the best value so that the best engine scores
// 1.0 and worse engines score less, whichever direction is better: v/best
// for throughput, best/v for costs such as time or bytes. It returns NaN
// when it cannot be computed.
func Score(v, best float64, higherBetter bool) float64 {
	if higherBetter {
		return Ratio(v, best)
	}
	if v == 0 && best == 0 {
		return 1
	}
	return Ratio(best, v)
}
