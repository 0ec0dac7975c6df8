package tui

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/charmbracelet/lipgloss"
)

// summaryView renders the size view's figures (S) for the right pane, w
// by h cells: counts, bytes, a histogram of sizes in powers of two and,
// when there is room, the largest keys (the left pane lists them too), as
// far as the walk has got.
func (f Finder) summaryView(w, h int) string {
	s := f.common.Styles
	sum := f.summary
	title := s.PaneTitle.Render("Summary")
	if f.running {
		title += s.Muted.Render(" (so far)")
	}
	if sum == nil || sum.keys == 0 {
		return title + "\n" + s.Muted.Render("no keys counted yet")
	}
	line := func(label, text string) string {
		return s.HeaderKey.Render(fmt.Sprintf("%-9s", label)) + " " + text
	}
	avg := sum.total / int64(sum.keys)
	out := []string{title,
		line("keys", groupDigits(sum.keys)),
		line("values", fmt.Sprintf("%s total · %s average", FormatBytes(sum.total), FormatBytes(avg))),
		line("sizes", fmt.Sprintf("%s smallest · %s largest", FormatBytes(int64(sum.smallest)), biggestSize(sum))),
		line("expiring", share(sum.expiring, sum.keys)),
		line("encoded", f.codecLine()),
	}
	if sum.encoded() > 0 {
		out = append(out, line("stored", FormatBytes(sum.stored)+" on disk, encoded or not"))
	}
	out = append(out, "", s.PaneTitle.Render("Sizes")+s.Muted.Render(" (keys per power of two)"))
	out = append(out, histogramLines(sum, w, s)...)
	if len(out)+2+len(sum.biggest) > h {
		return strings.Join(out, "\n")
	}
	out = append(out, "", s.PaneTitle.Render(fmt.Sprintf("Largest %d", len(sum.biggest))))
	for _, r := range sum.biggest {
		out = append(out, fmt.Sprintf("%9s  %s", FormatBytes(int64(r.size)), truncateMiddle(Escape(r.key), max(w-11, 4))))
	}
	return strings.Join(out, "\n")
}

// biggestSize is the largest value's size, or "—" when none is listed.
func biggestSize(sum *sizeSummary) string {
	if len(sum.biggest) == 0 {
		return "—"
	}
	return FormatBytes(int64(sum.biggest[0].size))
}

// share is "n keys (p%)" of total keys.
func share(n, total int) string {
	return fmt.Sprintf("%s (%.1f%%)", countKeys(n), 100*float64(n)/float64(max(total, 1)))
}

// codecLine says how many keys are stored encoded, and with which codecs:
// "12 keys (0.1%) · zstd 10, s2 2". A store that does not say how values
// are stored (a server) says so.
func (f Finder) codecLine() string {
	sum := f.summary
	if sum.storedKnown == 0 {
		return f.common.Styles.Muted.Render("the store does not say")
	}
	out := share(sum.encoded(), sum.keys)
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(sum.codecs)) {
		if c != "raw" {
			parts = append(parts, fmt.Sprintf("%s %s", c, groupDigits(sum.codecs[c])))
		}
	}
	if len(parts) > 0 {
		out += " · " + strings.Join(parts, ", ")
	}
	return out
}

// histogramLines draws one bar per power of two that holds a key, from
// the smallest: "< 1.0K  1,234 ████".
func histogramLines(sum *sizeSummary, w int, s Styles) []string {
	most := slices.Max(sum.hist[:])
	const labelW, countW = 7, 11
	barW := max(w-labelW-countW-2, 1)
	var out []string
	for i := range sum.hist {
		n := sum.hist[i]
		if n == 0 {
			continue
		}
		bar := strings.Repeat("█", (n*barW+most-1)/most)
		out = append(out, fmt.Sprintf("%*s %*s ", labelW, bucketLabel(i), countW, groupDigits(n))+
			lipgloss.NewStyle().Inherit(s.GaugeProgress).Render(bar))
	}
	return out
}

// bucketLabel names bucket i of the histogram: "empty" for empty values,
// else the bound its sizes are under, "< 1.0K".
func bucketLabel(i int) string {
	if i == 0 {
		return "empty"
	}
	return "< " + compactBytes(int64(1)<<i)
}
