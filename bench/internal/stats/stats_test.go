package stats

import (
	"math"
	"testing"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, math.NaN()},
		{[]float64{5}, 5},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{10, 10, 1}, 10},
	}
	for _, tc := range tests {
		got := Median(tc.in)
		if !(got == tc.want || math.IsNaN(got) && math.IsNaN(tc.want)) {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	in := []float64{3, 1, 2}
	Median(in)
	if in[0] != 3 || in[1] != 1 || in[2] != 2 {
		t.Errorf("Median modified its input: %v", in)
	}
}

func TestBest(t *testing.T) {
	vals := map[string]float64{"a": 10, "b": 30, "c": 20, "d": math.NaN()}
	tests := []struct {
		higher  bool
		exclude []string
		want    string
		wantV   float64
	}{
		{true, nil, "b", 30},
		{false, nil, "a", 10},
		{true, []string{"b"}, "c", 20},
		{false, []string{"a"}, "c", 20},
	}
	for _, tc := range tests {
		n, v, ok := Best(vals, tc.higher, tc.exclude...)
		if !ok || n != tc.want || v != tc.wantV {
			t.Errorf("Best(higher=%v, exclude=%v) = %q %v %v, want %q %v", tc.higher, tc.exclude, n, v, ok, tc.want, tc.wantV)
		}
	}
	if _, _, ok := Best(map[string]float64{"x": math.NaN()}, true); ok {
		t.Error("Best of only NaN reported ok")
	}
	n, _, _ := Best(map[string]float64{"z": 1, "y": 1}, true)
	if n != "y" {
		t.Errorf("tie went to %q, want y", n)
	}
}

func TestRatioAndScore(t *testing.T) {
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"ratio", Ratio(3, 2), 1.5},
		{"ratio zero", Ratio(1, 0), math.NaN()},
		{"ratio nan", Ratio(math.NaN(), 1), math.NaN()},
		{"score higher", Score(50, 100, true), 0.5},
		{"score lower", Score(200, 100, false), 0.5},
		{"score best", Score(100, 100, false), 1},
		{"score both zero", Score(0, 0, false), 1},
	}
	for _, tc := range tests {
		if !(tc.got == tc.want || math.IsNaN(tc.got) && math.IsNaN(tc.want)) {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}
