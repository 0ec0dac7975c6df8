package report

import (
	"encoding/csv"
	"io"
	"math"
	"strconv"
	"strings"
)

// CSVHeader is the first line of results.csv.
var CSVHeader = []string{"workload", "engine", "n", "threads", "sync", "unit", "higher_is_better",
	"median", "trials", "score", "vs_best_peer", "error"}

// WriteCSV writes one line per row and engine, the fdatasync probe first.
// score is the median normalised to the row's best engine (1 = best);
// vs_best_peer is the median over the best other engine's median.
func WriteCSV(w io.Writer, rep *Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	rows := rep.Rows
	if rep.Probe != nil {
		rows = append([]Row{*rep.Probe}, rows...)
	}
	engines := append(rep.engineOrder(), DiskEngine)
	for _, row := range rows {
		for _, e := range engines {
			_, has := row.Median[e]
			msg, failed := row.Errors[e]
			if !has && !failed {
				continue
			}
			trials := make([]string, len(row.Trials[e]))
			for i, v := range row.Trials[e] {
				trials[i] = num(v)
			}
			rec := []string{row.ID, e, strconv.Itoa(row.N), strconv.Itoa(row.Threads), strconv.FormatBool(row.Sync),
				string(row.Unit), strconv.FormatBool(row.Unit.HigherBetter()),
				num(median(row, e)), strings.Join(trials, ";"), num(row.Score(e)), num(row.VsBestPeer(e)), msg}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

func median(row Row, e string) float64 {
	if v, ok := row.Median[e]; ok {
		return v
	}
	return math.NaN()
}

// num formats a float with at most three decimals and no exponent, so byte
// counts stay exact; NaN becomes the empty string.
func num(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}
