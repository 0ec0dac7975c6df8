package tui

import (
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

func init() {
	// Tests compare plain text; colours would make them depend on the
	// terminal they run in.
	lipgloss.SetColorProfile(termenv.Ascii)
}

func TestGaugeView(t *testing.T) {
	tests := []struct {
		name  string
		width int
		stats GaugeStats
		want  string
	}{
		{
			name:  "quarter stale",
			width: 40,
			stats: GaugeStats{LiveBytes: 3 << 20, StaleBytes: 1 << 20, LogBytes: 4 << 20, Threshold: 1.0 / 3},
			want: "stale ███████▒▒┃▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒  25.0%\n" +
				"live 3.0 MiB · stale 1.0 MiB",
		},
		{
			name:  "empty log",
			width: 30,
			stats: GaugeStats{Threshold: 0.5},
			want: "stale ▒▒▒▒▒▒▒▒▒┃▒▒▒▒▒▒▒   0.0%\n" +
				"live 0 B · stale 0 B · log 0 B",
		},
		{
			name:  "wide shows threshold",
			width: 80,
			stats: GaugeStats{LiveBytes: 600, StaleBytes: 400, LogBytes: 1000, Threshold: 1.0 / 3, Compactions: 2},
			want: "stale ██████████████████████┃████▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒  40.0%\n" +
				"live 600 B · stale 400 B · log 1000 B · ┃ auto at 33% · compactions 2",
		},
		{
			name:  "compacting",
			width: 50,
			stats: GaugeStats{LiveBytes: 600, StaleBytes: 400, LogBytes: 1000, Threshold: 0.9, Compacting: true, Done: 2 << 20, Total: 4 << 20},
			want: "stale ███████████████▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒▒┃▒▒▒  40.0%\n" +
				"compacting ████████░░░░░░░░  50% 2.0 MiB / 4.0 MiB",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGauge(NewCommon())
			g.SetSize(tt.width)
			g.SetStats(tt.stats)
			got := g.View()
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			for _, line := range []string{got} {
				if w := lipgloss.Width(line); w > tt.width {
					t.Errorf("width %d > %d", w, tt.width)
				}
			}
		})
	}
}
