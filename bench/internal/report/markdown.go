package report

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/crabkv/crabkv/bench/internal/workload"
)

// WriteMarkdown writes the results page: machine, table, notes.
func WriteMarkdown(w io.Writer, rep *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", rep.Title)
	fmt.Fprintf(&b, "Generated %s by:\n\n```sh\n%s\n```\n\n", rep.Date, rep.Command)
	b.WriteString("## Machine\n\n")
	b.WriteString(rep.Machine.markdown())
	if rep.Probe != nil {
		fmt.Fprintf(&b, "| raw fdatasync rate | %s (100-byte append + fdatasync, one file in the data directory, median of %d) |\n",
			Format(rep.Probe.Median[DiskEngine], rep.Probe.Unit), len(rep.Probe.Trials[DiskEngine]))
	}
	if rep.Machine.Warning != "" {
		fmt.Fprintf(&b, "\n**Warning:** %s\n", rep.Machine.Warning)
	}
	fmt.Fprintf(&b, "\n## Results (median of %d trials, each in a fresh process)\n\n", rep.Trials)
	writeTable(&b, rep)
	fmt.Fprintf(&b, "\nBold marks the best engine in each row. `%s / best peer` divides %s's median by the best median among the other engines, in the row's unit: above 1.00 is better for ops/s and worse for ms and MiB.\n",
		rep.Baseline, rep.Baseline)
	writeErrors(&b, rep)
	b.WriteString("\n## Workloads\n\nKeys are 16 bytes, values 100 incompressible bytes.\n\n")
	for _, row := range rep.Rows {
		if row.Unit == workload.Bytes {
			continue // described in the paragraph below
		}
		fmt.Fprintf(&b, "- **%s** (N=%s, %d thread(s), sync %s): %s\n", row.ID, thousands(int64(row.N)), row.Threads, onOff(row.Sync), row.Doc)
	}
	b.WriteString("\nThe footprint rows come from the fill-random process: Go heap is HeapInuse after runtime.GC() minus the same figure before Open; RSS is VmRSS from /proc/self/status (it includes memory outside the Go heap, such as cgo allocations and mapped files); disk size is the sum of file sizes in the store's directory after a clean Close.\n")
	b.WriteString("\n## Engine settings\n\n| engine | sync off | sync on |\n| --- | --- | --- |\n")
	for _, e := range rep.engineOrder() {
		s, ok := rep.Settings[e]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", e, s[0], s[1])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func writeTable(b *strings.Builder, rep *Report) {
	engines := rep.engineOrder()
	b.WriteString("| workload | unit |")
	for _, e := range engines {
		fmt.Fprintf(b, " %s |", e)
	}
	fmt.Fprintf(b, " best peer | %s / best peer |\n|---|---|", rep.Baseline)
	for range engines {
		b.WriteString("---:|")
	}
	b.WriteString("---|---:|\n")
	for _, row := range rep.Rows {
		fmt.Fprintf(b, "| %s | %s |", row.ID, UnitLabel(row.Unit))
		for _, e := range engines {
			fmt.Fprintf(b, " %s |", cell(row, e))
		}
		peer, _, ok := row.BestPeer(rep.Baseline)
		if !ok {
			peer = "n/a"
		}
		fmt.Fprintf(b, " %s | %s |\n", peer, ratioText(row.BaselineRatio(rep.Baseline)))
	}
}

// cell renders one engine's median without the unit (the unit column has
// it), in bold for the row's best engine.
func cell(row Row, engine string) string {
	v, ok := row.Median[engine]
	if !ok {
		if _, failed := row.Errors[engine]; failed {
			return "error"
		}
		return "–"
	}
	s := bare(v, row)
	if row.Score(engine) == 1 {
		return "**" + s + "**"
	}
	return s
}

// bare formats v without a unit suffix.
func bare(v float64, row Row) string {
	s := Format(v, row.Unit)
	s, _ = strings.CutSuffix(s, " ops/s")
	s, _ = strings.CutSuffix(s, " ms")
	s, _ = strings.CutSuffix(s, " MiB")
	return s
}

func ratioText(r float64) string {
	if math.IsNaN(r) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", r)
}

func writeErrors(b *strings.Builder, rep *Report) {
	first := true
	for _, row := range rep.Rows {
		for _, e := range rep.engineOrder() {
			msg, ok := row.Errors[e]
			if !ok {
				continue
			}
			if first {
				b.WriteString("\n### Errors\n\n")
				first = false
			}
			fmt.Fprintf(b, "- %s / %s: `%s`\n", row.ID, e, strings.ReplaceAll(msg, "`", "'"))
		}
	}
}
