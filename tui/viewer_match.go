package tui

import (
	"strings"
)

// viewerMatch is where the value search (f) found its query in the value
// of key: n bytes from offset off. The viewer opens such a value at the
// part and line that hold the match, and marks the match.
type viewerMatch struct {
	key    string
	off, n int
	text   string // the query as the viewer renders it: escaped, its first line
	// pending is set until the viewer has scrolled to the match once;
	// after that the reader scrolls where they like.
	pending bool
}

// SetMatch makes the viewer open key's value at the match of n bytes from
// off, of query; an empty key forgets the match. The match the viewer
// has already opened is not scrolled to again when its value is reloaded
// (a live store's refresh), so that the reader's scrolling stays.
func (v *Viewer) SetMatch(key string, off, n int, query []byte) {
	if key == "" {
		v.match = viewerMatch{}
		return
	}
	if m := v.match; m.key == key && m.off == off && m.n == n {
		return
	}
	text, _, _ := strings.Cut(EscapeText(string(query)), "\n")
	v.match = viewerMatch{key: key, off: off, n: n, text: text, pending: true}
}

// matchShown reports whether the match is in the part of the value on
// screen, and returns that part's byte range.
func (v Viewer) matchShown() (start, end int, ok bool) {
	if v.match.key != v.key || v.key == "" || !v.loaded || v.partPending {
		return 0, 0, false
	}
	start, end = partRange(v.span(), v.mode, v.part)
	return start, end, v.match.off >= start && v.match.off < end
}

// matchPart is the part of the value that holds the match, for a value
// just loaded.
func (v Viewer) matchPart() (int, bool) {
	if v.match.key != v.key || !v.match.pending {
		return 0, false
	}
	return min(v.match.off/partSize(v.mode), partCount(v.size(), v.mode)-1), true
}

// markMatch returns content, the rendered part on screen, with the
// match's first appearance marked, and the line it is on. A match the
// rendering does not show as the query's text (a byte of a character, a
// query the wrap cuts) is not marked, and its line is estimated from its
// offset.
func (v Viewer) markMatch(content string) (string, int, bool) {
	start, end, ok := v.matchShown()
	if !ok {
		return content, 0, false
	}
	lines := strings.Split(content, "\n")
	if v.mode == ModeHex {
		per := hexBytesPerLine(v.width)
		return content, (v.match.off - start) / per, true
	}
	if t := v.match.text; t != "" {
		for i, l := range lines {
			if j := strings.Index(l, t); j >= 0 {
				lines[i] = l[:j] + v.common.Styles.Selected.Render(t) + l[j+len(t):]
				return strings.Join(lines, "\n"), i, true
			}
		}
	}
	return content, len(lines) * (v.match.off - start) / max(end-start, 1), true
}

// scrollToMatch scrolls to the match's line once, after its part has been
// rendered.
func (v *Viewer) scrollToMatch(line int, found bool) {
	if !found || !v.match.pending {
		return
	}
	v.match.pending = false
	v.vp.SetYOffset(max(line-v.vp.Height/3, 0))
}
