// Package report turns trial results into the published outputs: a
// Markdown table, a CSV file and a PNG chart. Everything here is a pure
// function of its inputs, so it is tested without running a benchmark.
package report

import (
	"fmt"
	"math"
	"slices"

	"github.com/crabkv/crabkv/bench/internal/stats"
	"github.com/crabkv/crabkv/bench/internal/workload"
)

// DiskEngine is the engine name the raw fdatasync probe reports under.
const DiskEngine = "disk"

// Row is one metric across all engines: a table row, a CSV group, a panel
// of the chart.
type Row struct {
	ID      string
	Unit    workload.Unit
	Doc     string
	N       int
	Threads int
	Sync    bool
	// Trials holds each engine's values in trial order.
	Trials map[string][]float64
	// Median holds each engine's median; engines without a value are absent.
	Median map[string]float64
	// Errors holds the first error an engine reported for this row.
	Errors map[string]string
}

// Report is everything the outputs show.
type Report struct {
	Title    string
	Command  string
	Date     string
	Machine  Machine
	Engines  []string
	Baseline string
	Trials   int
	// Probe is the raw fdatasync row, nil if it was not run.
	Probe *Row
	Rows  []Row
	// Settings maps engine name to its description with sync on and off.
	Settings map[string][2]string
}

// Aggregate groups results by metric row and takes medians over trials.
// Rows follow the order of specs, except that the footprint rows (bytes)
// come last, after all the timings. A failed workload records its error
// on every row its spec reports.
func Aggregate(specs []workload.Spec, results []workload.Result) (rows []Row, probe *Row) {
	var footprint []Row
	for _, s := range specs {
		for _, m := range s.Metrics() {
			row := Row{ID: m.Row, Unit: m.Unit, Doc: s.Doc, N: s.N, Threads: s.Threads, Sync: s.Sync,
				Trials: map[string][]float64{}, Median: map[string]float64{}, Errors: map[string]string{}}
			for _, r := range results {
				if r.Workload != s.ID {
					continue
				}
				if r.Error != "" {
					if _, seen := row.Errors[r.Engine]; !seen {
						row.Errors[r.Engine] = r.Error
					}
					continue
				}
				if v, ok := r.Values[m.Row]; ok {
					row.Trials[r.Engine] = append(row.Trials[r.Engine], v)
				}
			}
			for e, vs := range row.Trials {
				row.Median[e] = stats.Median(vs)
			}
			if s.DiskOnly {
				probe = &row
				continue
			}
			if m.Unit == workload.Bytes {
				footprint = append(footprint, row)
				continue
			}
			rows = append(rows, row)
		}
	}
	return append(rows, footprint...), probe
}

// BestPeer returns the best median among engines other than baseline.
func (r Row) BestPeer(baseline string) (name string, v float64, ok bool) {
	return stats.Best(r.Median, r.Unit.HigherBetter(), baseline)
}

// BaselineRatio is the baseline's median divided by the best peer's, in the
// row's own unit: above 1 is better for ops/s, worse for ms and bytes.
func (r Row) BaselineRatio(baseline string) float64 {
	b, ok := r.Median[baseline]
	_, peer, okPeer := r.BestPeer(baseline)
	if !ok || !okPeer {
		return math.NaN()
	}
	return stats.Ratio(b, peer)
}

// Score is engine's median normalised so the best engine in the row
// scores 1.0 and worse engines less; NaN if the engine has no value.
func (r Row) Score(engine string) float64 {
	v, ok := r.Median[engine]
	if !ok {
		return math.NaN()
	}
	_, best, _ := stats.Best(r.Median, r.Unit.HigherBetter())
	return stats.Score(v, best, r.Unit.HigherBetter())
}

// VsBestPeer is engine's median over the best median of the other engines.
func (r Row) VsBestPeer(engine string) float64 {
	v, ok := r.Median[engine]
	_, peer, okPeer := stats.Best(r.Median, r.Unit.HigherBetter(), engine)
	if !ok || !okPeer {
		return math.NaN()
	}
	return stats.Ratio(v, peer)
}

// Format renders a value in unit for tables: 123,456 ops/s; 12.3 ms;
// 45.6 MiB.
func Format(v float64, u workload.Unit) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	switch u {
	case workload.Millis:
		return fmt.Sprintf("%.1f ms", v)
	case workload.Bytes:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	}
	return thousands(int64(math.Round(v))) + " ops/s"
}

// Short renders a value compactly for the chart: 412k ops/s, 1.23M ops/s.
func Short(v float64, u workload.Unit) string {
	if u != workload.OpsPerSec || math.IsNaN(v) {
		return Format(v, u)
	}
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM ops/s", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.0fk ops/s", v/1e3)
	}
	return thousands(int64(math.Round(v))) + " ops/s"
}

// thousands writes n with comma separators.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// UnitLabel names a unit with its direction.
func UnitLabel(u workload.Unit) string {
	switch u {
	case workload.Millis:
		return "ms, lower is better"
	case workload.Bytes:
		return "MiB, lower is better"
	}
	return "ops/s, higher is better"
}

// engineOrder returns r.Engines followed by any engine seen in rows but
// not listed, so nothing measured is hidden.
func (rep *Report) engineOrder() []string {
	out := slices.Clone(rep.Engines)
	for _, row := range rep.Rows {
		for e := range row.Median {
			if !slices.Contains(out, e) {
				out = append(out, e)
			}
		}
	}
	return out
}

// Count writes n with thousands separators, e.g. 200,000.
func Count(n int) string { return thousands(int64(n)) }
