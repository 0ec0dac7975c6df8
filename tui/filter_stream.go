package tui

import (
	"slices"
	"unsafe"

	tea "github.com/charmbracelet/bubbletea"
)

// A substring filter over an OrderedStore reads every key, which at ten
// million keys takes seconds: it runs as a chain of commands, each
// reading scanChunkKeys keys from where the last stopped and returning
// their matches, which the list shows as they come, in key order, with
// how far the scan has got. The next keystroke (a new seq) drops the
// chunk under way and ends the chain.

// scanChunkKeys is how many keys one command of a streamed filter reads,
// so that results and progress come several times a second: a follower
// reads each key with system calls, about 15 µs of CPU a key (measured
// with BenchmarkInspector10MSubstring).
var scanChunkKeys = 20_000

// filterChunkMsg carries the matches among the keys one command read.
type filterChunkMsg struct {
	seq     int
	query   string
	first   bool     // the scan's first chunk
	matches []string // in order
	next    string   // where the next chunk starts
	scanned int      // keys read so far, this chunk included
	total   int      // the first chunk's: the keys in the store, -1 unknown
	done    bool
	err     error
}

// filterChunkCmd reads a chunk of keys from from on and matches them
// against query.
func filterChunkCmd(s OrderedStore, seq int, query, from string, scanned int) tea.Cmd {
	return func() tea.Msg {
		msg := filterChunkMsg{seq: seq, query: query, first: from == "", scanned: scanned, total: -1}
		if msg.first {
			// The header's count, which a store others write changes.
			if n, err := s.Len(); err == nil {
				msg.total = n
			}
		}
		n := 0
		var last []byte
		msg.err = s.AscendFrom(from, func(k []byte) bool {
			if n == scanChunkKeys {
				return false
			}
			n++
			// A copy: the store lends k only until its next key, and
			// may reuse the bytes once it reads more.
			last = append(last[:0], k...)
			if matchKeyBytes(k, query) {
				msg.matches = append(msg.matches, string(k))
			}
			return true
		})
		msg.scanned += n
		msg.done = n < scanChunkKeys
		if last != nil {
			msg.next = successor(string(last))
		}
		return msg
	}
}

// matchKeyBytes is MatchKey for a key the store lends, which it reads in
// place: MatchKey keeps nothing of it, and a copy of each of ten million
// keys would cost more than the match.
func matchKeyBytes(k []byte, query string) bool {
	return MatchKey(unsafe.String(unsafe.SliceData(k), len(k)), query)
}

// startScan starts a streamed filter for query: a ^prefix filter that
// maps to ranges reads a window of them instead.
func (l *KeyList) startScan(query string) tea.Cmd {
	if rs, ok := queryRanges(query); ok {
		l.wantQuery, l.wantRanges = query, rs
		l.request(fetchFirst, "", true)
		if !l.filtering {
			if sel, ok := l.Selected(); ok {
				l.want, l.wantKey = fetchAround, sel
			}
		}
		return l.FetchCmd()
	}
	return filterChunkCmd(l.src, l.seq, query, "", 0)
}

// applyChunk shows a streamed filter's matches and starts its next chunk.
func (l *KeyList) applyChunk(msg filterChunkMsg) tea.Cmd {
	if msg.seq != l.seq {
		return nil // a later keystroke has started another filter
	}
	if msg.err != nil {
		l.scanning = false
		return func() tea.Msg { return keysFailedMsg{err: msg.err} }
	}
	if msg.first {
		l.fetchSeq++ // a window read under way is for an older filter
		l.inflight, l.want = false, fetchNone
		l.query, l.ranges, l.items = msg.query, nil, nil
		l.cursor, l.offset = 0, 0
		if msg.total >= 0 {
			l.total = msg.total
		}
	}
	l.items = append(l.items, msg.matches...)
	l.scanning, l.scanned, l.scanFrom = !msg.done, msg.scanned, msg.next
	if l.follow != "" {
		if i, found := slices.BinarySearch(l.items, l.follow); found || msg.done {
			l.cursor, l.follow = i, ""
			l.offset = l.cursor - l.rows()/2
		}
	}
	l.clamp()
	if msg.done {
		return nil
	}
	return filterChunkCmd(l.src, msg.seq, msg.query, msg.next, msg.scanned)
}

// progress is how far a streamed filter has read, in percent.
func (l KeyList) progress() int {
	if l.total <= 0 {
		return 0
	}
	return min(100*l.scanned/l.total, 99)
}
