package tui

import (
	"slices"
	"sort"
)

// Marks pick keys for D and x across filters and screens: space marks the
// key under the cursor, a every key the filter shows, u clears them. A
// mark lasts until its key is deleted, by the inspector or by another
// process (seen at the next reload).

// ToggleMark marks the key under the cursor, or unmarks it if it is
// marked, and moves the cursor to the next key, so that space pressed
// again marks the next.
func (l *KeyList) ToggleMark() {
	k, ok := l.Selected()
	if !ok {
		return
	}
	if l.IsMarked(k) {
		l.unmark(k)
	} else {
		if l.marked == nil {
			l.marked = map[string]struct{}{}
		}
		l.marked[k] = struct{}{}
	}
	l.cursor++
	l.clamp()
}

// MarkShown marks every key the filter lets through, on screen or not. A
// window reads them from the store (the inspector does that off its UI
// goroutine, with MarkKeys).
func (l *KeyList) MarkShown() error {
	keys, err := l.Shown()
	if err != nil {
		return err
	}
	l.MarkKeys(keys)
	return nil
}

// MarkKeys marks keys.
func (l *KeyList) MarkKeys(keys []string) {
	if l.marked == nil {
		l.marked = make(map[string]struct{}, len(keys))
	}
	for _, k := range keys {
		l.marked[k] = struct{}{}
	}
}

// ClearMarks unmarks every key.
func (l *KeyList) ClearMarks() { l.marked = nil }

// IsMarked reports whether k is marked.
func (l KeyList) IsMarked(k string) bool {
	_, ok := l.marked[k]
	return ok
}

// MarkedCount is the number of marked keys.
func (l KeyList) MarkedCount() int { return len(l.marked) }

// Marked returns the marked keys in order.
func (l KeyList) Marked() []string {
	out := make([]string, 0, len(l.marked))
	for k := range l.marked {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (l *KeyList) unmark(k string) {
	delete(l.marked, k)
	if len(l.marked) == 0 {
		l.marked = nil
	}
}

// pruneMarks drops the marks of keys the snapshot no longer holds. A
// list that browses a window keeps them: D and x of a key that is gone
// meanwhile delete or export nothing of it.
func (l *KeyList) pruneMarks() {
	if l.src != nil {
		return // a window holds too few keys to tell
	}
	for k := range l.marked {
		if i := sort.SearchStrings(l.all, k); i == len(l.all) || l.all[i] != k {
			l.unmark(k)
		}
	}
}

// gutter is the width of the mark column: one cell while any key is
// marked, none otherwise, so that the list looks as it always did until
// the first mark.
func (l KeyList) gutter() int {
	if len(l.marked) > 0 {
		return 1
	}
	return 0
}

// markSymbol is drawn in the mark column beside a marked key.
const markSymbol = "●"

// markView is k's cell of the mark column.
func (l KeyList) markView(k string, selected bool) string {
	switch {
	case l.gutter() == 0:
		return ""
	case !l.IsMarked(k) && selected:
		return l.common.Styles.Selected.Render(" ")
	case !l.IsMarked(k):
		return " "
	case selected:
		return l.common.Styles.Mark.Background(colorSelBg).Render(markSymbol)
	}
	return l.common.Styles.Mark.Render(markSymbol)
}
