package tui

import (
	"slices"

	tea "github.com/charmbracelet/bubbletea"
)

// When the store is an OrderedStore, the key list holds a window of its
// keys around the cursor, read a few hundred at a time, instead of a
// snapshot of every key: items is that window, head and tail say whether
// it reaches the first and the last key of the ranges it reads (every
// key, or a ^prefix filter's), and moving near one of its edges reads
// more on that side, in a command. g and G read the first or last keys,
// and a reload or a key selected outside the window the keys around it.
// A window never holds more than winMax keys.

// Window sizes: a read takes winLoad keys, and the window drops keys at
// its far end once it holds more than winMax.
const (
	winLoad = 512
	winMax  = 4 * winLoad
)

// winJump is the fewest keys a jump reads — the first keys, the last, or
// those around a key: three screens or so, enough to draw the screen the
// jump lands on at once; the window grows by winLoad keys at a time, as
// extend asks, once the cursor nears its edge. Each key a store without a
// map reads costs system calls, so a jump that read winLoad keys before
// its frame would make it wait for 500 keys to show 40.
const winJump = 128

// jumpLoad is how many keys a jump reads.
func (l KeyList) jumpLoad() int { return min(winLoad, max(winJump, 3*l.rows())) }

// fetchKind is what the window reads next.
type fetchKind int

const (
	fetchNone   fetchKind = iota
	fetchFirst            // the first keys: the top, or a new filter
	fetchLast             // the last keys: the bottom
	fetchAround           // the keys around a key, which is selected
	fetchAfter            // more keys after the window's last
	fetchBefore           // more keys before the window's first
)

// windowMsg carries keys read for the window. A reply whose seq is not
// the latest read's is dropped; one read before the list's last edit
// (edits) is read again.
type windowMsg struct {
	seq, edits int
	kind       fetchKind
	key        string // the key read around, after or before
	query      string // the filter the ranges are
	ranges     []keyRange
	before     []string // fetchAround: the keys before key
	keys       []string
	n          int // the keys asked for: a read of fewer reached an end
	total      int
	err        error
}

// SetSource makes the list a window onto s when s reads its keys in
// order (OrderedStore); otherwise the list keeps a snapshot.
func (l *KeyList) SetSource(s Store) {
	if os, ok := s.(OrderedStore); ok {
		l.src, l.ranges = os, everyKey
		// The first read is made ready here, as the model's Init cannot
		// keep what it changes.
		l.request(fetchFirst, "", true)
		l.initial = l.FetchCmd()
	}
}

// windowed reports whether items is a window of l.ranges, rather than a
// snapshot or a scan's matches.
func (l KeyList) windowed() bool { return l.src != nil && l.ranges != nil }

// LoadCmd reads the keys afresh: the whole snapshot, or the window around
// the selection, or with a substring filter its scan from the start.
func (l *KeyList) LoadCmd(s Store) tea.Cmd {
	switch {
	case l.src == nil:
		return loadKeysCmd(s, l.edits)
	case !l.loaded && l.initial != nil && l.fetchSeq == 1:
		return l.initial
	case !l.windowed():
		l.seq++
		l.follow, _ = l.Selected()
		return l.startScan(l.query)
	}
	if sel, ok := l.Selected(); ok {
		l.request(fetchAround, sel, true)
	} else {
		l.request(fetchFirst, "", true)
	}
	return l.FetchCmd()
}

// request asks for a read of kind; force makes it replace a read under
// way (a jump), which an extension of the window never does.
func (l *KeyList) request(kind fetchKind, key string, force bool) {
	if force {
		l.inflight = false
	}
	if l.inflight {
		return
	}
	l.want, l.wantKey = kind, key
}

// FetchCmd returns the read the window needs, if any and none is under
// way.
func (l *KeyList) FetchCmd() tea.Cmd {
	if l.src == nil || l.want == fetchNone || l.inflight {
		return nil
	}
	l.fetchSeq++
	l.inflight = true
	msg := windowMsg{seq: l.fetchSeq, edits: l.edits, kind: l.want, key: l.wantKey,
		query: l.wantQuery, ranges: l.wantRanges, n: winLoad}
	if msg.kind == fetchFirst || msg.kind == fetchLast || msg.kind == fetchAround {
		msg.n = l.jumpLoad()
	}
	if msg.ranges == nil {
		msg.ranges, msg.query = l.ranges, l.query
	}
	l.want, l.wantKey, l.wantQuery, l.wantRanges = fetchNone, "", "", nil
	return windowCmd(l.src, msg)
}

// windowCmd reads what msg asks for.
func windowCmd(s OrderedStore, msg windowMsg) tea.Cmd {
	return func() tea.Msg {
		var err error
		rs := msg.ranges
		switch msg.kind {
		case fetchFirst:
			msg.keys, err = keysFrom(s, rs, "", msg.n)
		case fetchLast:
			msg.keys, err = keysBefore(s, rs, "", msg.n)
		case fetchAround:
			msg.before, err = keysBefore(s, rs, msg.key, msg.n/2)
			if err == nil {
				msg.keys, err = keysFrom(s, rs, msg.key, msg.n/2)
			}
		case fetchAfter:
			msg.keys, err = keysFrom(s, rs, successor(msg.key), msg.n)
		case fetchBefore:
			msg.keys, err = keysBefore(s, rs, msg.key, msg.n)
		}
		if err == nil {
			msg.total, err = s.Len()
		}
		msg.err = err
		return msg
	}
}

// Answers reports whether msg, the result of a read of the keys
// (LoadCmd's), is one the list will show: not one a later read has
// overtaken, which the list drops, nor a failure.
func (l *KeyList) Answers(msg tea.Msg) bool {
	switch msg := msg.(type) {
	case keysLoadedMsg:
		return msg.edits == l.edits
	case windowMsg:
		return msg.seq == l.fetchSeq && msg.err == nil
	case filterChunkMsg:
		return msg.seq == l.seq && msg.err == nil
	}
	return false
}

// applyWindow shows keys read for the window.
func (l *KeyList) applyWindow(msg windowMsg) tea.Cmd {
	if msg.seq != l.fetchSeq {
		return nil
	}
	l.inflight = false
	if msg.err != nil {
		l.loaded = true
		return func() tea.Msg { return keysFailedMsg{err: msg.err} }
	}
	if msg.edits != l.edits { // may predate a write: read again
		l.want, l.wantKey, l.wantQuery, l.wantRanges = msg.kind, msg.key, msg.query, msg.ranges
		return l.FetchCmd()
	}
	l.total, l.loaded = msg.total, true
	switch msg.kind {
	case fetchFirst, fetchLast, fetchAround:
		l.query, l.ranges, l.scanning = msg.query, msg.ranges, false
		l.setWindow(msg)
	case fetchAfter:
		if len(l.items) == 0 || l.items[len(l.items)-1] != msg.key || msg.query != l.query {
			break // the window has moved on
		}
		l.items = append(l.items, msg.keys...)
		l.tail = len(msg.keys) < msg.n
		l.trimFront()
	case fetchBefore:
		if len(l.items) == 0 || l.items[0] != msg.key || msg.query != l.query {
			break
		}
		l.items = append(slices.Clip(msg.keys), l.items...)
		l.cursor += len(msg.keys)
		l.offset += len(msg.keys)
		l.head = len(msg.keys) < msg.n
		l.trimBack()
	}
	l.clamp()
	l.extend()
	return l.FetchCmd()
}

// setWindow replaces the window with a read of the first, the last or
// the keys around one.
func (l *KeyList) setWindow(msg windowMsg) {
	switch msg.kind {
	case fetchFirst:
		l.items, l.head, l.tail = msg.keys, true, len(msg.keys) < msg.n
		l.cursor, l.offset = 0, 0
	case fetchLast:
		l.items, l.head, l.tail = msg.keys, len(msg.keys) < msg.n, true
		l.cursor = len(l.items) - 1
		l.offset = l.cursor - l.rows() + 1
	case fetchAround:
		row := l.cursor - l.offset
		l.items = append(slices.Clip(msg.before), msg.keys...)
		l.head, l.tail = len(msg.before) < msg.n/2, len(msg.keys) < msg.n/2
		l.cursor = len(msg.before) // the key, or the one after it if it is gone
		l.offset = l.cursor - row
		if row < 0 || row >= l.rows() {
			l.offset = l.cursor - l.rows()/2
		}
	}
}

// extend asks for more keys on a side of the window the cursor's screen
// comes within two screens of.
func (l *KeyList) extend() {
	if !l.windowed() || len(l.items) == 0 || l.inflight || l.want != fetchNone {
		return
	}
	rows := l.rows()
	switch {
	case !l.tail && l.offset+3*rows >= len(l.items):
		l.request(fetchAfter, l.items[len(l.items)-1], false)
	case !l.head && l.offset < 2*rows:
		l.request(fetchBefore, l.items[0], false)
	}
}

// trimFront drops keys before the screen once the window holds more than
// winMax.
func (l *KeyList) trimFront() {
	drop := min(len(l.items)-winMax, l.offset-l.rows())
	if drop <= 0 {
		return
	}
	l.items = l.items[drop:]
	l.cursor -= drop
	l.offset -= drop
	l.head = false
}

// trimBack drops keys after the screen once the window holds more than
// winMax.
func (l *KeyList) trimBack() {
	drop := min(len(l.items)-winMax, len(l.items)-(l.offset+2*l.rows()))
	if drop <= 0 {
		return
	}
	l.items = l.items[:len(l.items)-drop]
	l.tail = false
}

// jump moves to the first (top) or last key of the window's ranges,
// reading them when the window does not hold them. It reports whether it
// handled the move.
func (l *KeyList) jump(top bool) bool {
	if !l.windowed() {
		return false
	}
	switch {
	case top && l.head:
		l.cursor = 0
	case top:
		l.request(fetchFirst, "", true)
	case l.tail:
		l.cursor = len(l.items) - 1
	default:
		l.request(fetchLast, "", true)
	}
	return true
}

// addToWindow puts k, just written, into the window if it belongs there;
// a key of the ranges outside the window has the keys around it read, to
// select it. It returns the key to select.
func (l *KeyList) addToWindow(k string) string {
	sel, _ := l.Selected()
	if !inRanges(l.ranges, k) {
		return sel
	}
	i, found := slices.BinarySearch(l.items, k)
	if found {
		return k
	}
	if (i > 0 || l.head) && (i < len(l.items) || l.tail) {
		l.items = slices.Insert(l.items, i, k)
		l.total++
		return k
	}
	l.request(fetchAround, k, true)
	return sel
}

// removeFromWindow takes k, just deleted, out of the window. A key
// outside it has the window read again, for the count.
func (l *KeyList) removeFromWindow(k string) {
	i, found := slices.BinarySearch(l.items, k)
	if !found {
		if sel, ok := l.Selected(); ok {
			l.request(fetchAround, sel, false)
		}
		return
	}
	sel, _ := l.Selected()
	l.items = slices.Delete(l.items, i, i+1)
	l.total--
	if sel != k {
		l.selectKeyInView(sel)
		return
	}
	l.cursor = i // the key after it
	l.clamp()
}

// addToSource is AddKey for a list browsing an OrderedStore: it returns
// the key to select.
func (l *KeyList) addToSource(k string) string {
	if l.windowed() {
		return l.addToWindow(k)
	}
	// A streamed filter's matches: a key the scan has yet to reach is
	// left to it.
	sel, _ := l.Selected()
	if !MatchKey(k, l.query) || (l.scanning && (l.scanFrom == "" || k >= l.scanFrom)) {
		return sel
	}
	if i, found := slices.BinarySearch(l.items, k); !found {
		l.items = slices.Insert(l.items, i, k)
	}
	return k
}

// removeFromSource is RemoveKey for a list browsing an OrderedStore.
func (l *KeyList) removeFromSource(k string) {
	if l.windowed() {
		l.removeFromWindow(k)
		return
	}
	if i, found := slices.BinarySearch(l.items, k); found {
		sel, _ := l.Selected()
		l.items = slices.Delete(l.items, i, i+1)
		l.selectKeyInView(sel)
	}
}
