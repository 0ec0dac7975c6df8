package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/lipgloss"
)

// GaugeStats is what the stale-byte gauge shows: the make-up of the log, the
// ratio at which the engine compacts by itself, and any compaction under way.
type GaugeStats struct {
	LiveBytes, StaleBytes, LogBytes int64
	Threshold                       float64 // stale share that triggers automatic compaction; negative: not known
	Compactions                     int64

	Compacting  bool
	Done, Total int64 // bytes of the old log scanned so far, of Total
}

// StaleRatio is the stale share of the log, 0 for an empty log.
func (s GaugeStats) StaleRatio() float64 {
	if s.LogBytes <= 0 {
		return 0
	}
	return float64(s.StaleBytes) / float64(s.LogBytes)
}

// Gauge renders the stale-byte gauge: two lines, always visible.
type Gauge struct {
	common *Common
	stats  GaugeStats
	width  int
}

// NewGauge returns an empty gauge.
func NewGauge(c *Common) Gauge { return Gauge{common: c} }

// SetSize sets the width the gauge draws in.
func (g *Gauge) SetSize(width int) { g.width = width }

// SetStats replaces the figures the gauge shows.
func (g *Gauge) SetStats(s GaugeStats) { g.stats = s }

// Stats returns the figures the gauge shows.
func (g Gauge) Stats() GaugeStats { return g.stats }

// View renders the gauge.
func (g Gauge) View() string {
	return g.barLine() + "\n" + g.detailLine()
}

func (g Gauge) barLine() string {
	s := g.stats
	label := "stale "
	pct := fmt.Sprintf(" %5.1f%%", 100*s.StaleRatio())
	bw := max(g.width-len(label)-len(pct), 4)
	return g.common.Styles.Muted.Render(label) + g.bar(bw) + pct
}

// bar draws the log as cells: stale bytes on the left, live bytes after
// them, and the automatic-compaction threshold as a mark.
func (g Gauge) bar(width int) string {
	s := g.stats
	stale := int(s.StaleRatio()*float64(width) + 0.5)
	if s.StaleBytes > 0 && stale == 0 {
		stale = 1
	}
	mark := -1
	if s.Threshold > 0 && s.Threshold < 1 {
		mark = min(int(s.Threshold*float64(width)+0.5), width-1)
	}
	var b strings.Builder
	for i := 0; i < width; {
		switch {
		case i == mark:
			b.WriteString(g.common.Styles.GaugeMark.Render("┃"))
			i++
		case i < stale:
			n := runTo(i, stale, mark)
			b.WriteString(g.common.Styles.GaugeStale.Render(strings.Repeat("█", n)))
			i += n
		default:
			n := runTo(i, width, mark)
			b.WriteString(g.common.Styles.GaugeLive.Render(strings.Repeat("▒", n)))
			i += n
		}
	}
	return b.String()
}

// runTo is the length of the run from i up to end, stopping at the mark.
func runTo(i, end, mark int) int {
	if mark > i && mark < end {
		return mark - i
	}
	return end - i
}

func (g Gauge) detailLine() string {
	s := g.stats
	if s.Compacting {
		return g.progressLine()
	}
	parts := []string{
		g.common.Styles.GaugeLive.Render("live ") + FormatBytes(s.LiveBytes),
		g.common.Styles.GaugeStale.Render("stale ") + FormatBytes(s.StaleBytes),
		g.common.Styles.Muted.Render("log ") + FormatBytes(s.LogBytes),
	}
	if s.Threshold >= 0 { // a negative threshold is one the store does not say
		parts = append(parts, g.common.Styles.GaugeMark.Render("┃")+g.common.Styles.Muted.Render(fmt.Sprintf(" auto at %.0f%%", 100*s.Threshold)))
	}
	if s.Compactions > 0 {
		parts = append(parts, g.common.Styles.Muted.Render(fmt.Sprintf("compactions %d", s.Compactions)))
	}
	return fitParts(parts, " · ", g.width)
}

func (g Gauge) progressLine() string {
	s := g.stats
	frac := 0.0
	if s.Total > 0 {
		frac = min(float64(s.Done)/float64(s.Total), 1)
	}
	label := "compacting "
	tail := fmt.Sprintf(" %3.0f%% %s / %s", 100*frac, FormatBytes(s.Done), FormatBytes(s.Total))
	bw := max(g.width-len(label)-lipgloss.Width(tail), 4)
	done := int(frac * float64(bw))
	bar := g.common.Styles.GaugeProgress.Render(strings.Repeat("█", done)) +
		g.common.Styles.Muted.Render(strings.Repeat("░", bw-done))
	return g.common.Styles.GaugeProgress.Render(label) + bar + tail
}

// fitParts joins as many leading parts as fit in width.
func fitParts(parts []string, sep string, width int) string {
	out := ""
	for i, p := range parts {
		next := p
		if i > 0 {
			next = out + sep + p
		}
		if lipgloss.Width(next) > width && i > 0 {
			break
		}
		out = next
	}
	return out
}
