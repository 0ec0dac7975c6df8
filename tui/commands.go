package tui

import (
	"errors"
	"io"
	"slices"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/crabkv/crabkv/kv"
)

// Every engine call that can take time runs in one of these commands and
// comes back as a typed message; Update and View never call the engine.

// statsInterval is how often the gauge refreshes on its own, so that it
// follows automatic compactions and writes made by the inspector.
const statsInterval = time.Second

// liveInterval is how often a follower's gauge refreshes, and its key list
// when the store has changed: another process may be writing.
const liveInterval = 250 * time.Millisecond

// keysLoadedMsg carries a fresh sorted snapshot of the keys. The key list
// is only loaded whole at start, on r and after a compaction: the store
// takes one writer at a time, so its keys change only when the inspector
// writes, and the inspector updates its list itself then.
type keysLoadedMsg struct {
	keys  []string
	edits int // the key list's Edits when the snapshot was asked for
}

// editRoom is how many keys the snapshot has room to take in place, so
// that the first keys created after a load do not make the UI goroutine
// copy a million of them into a bigger array.
const editRoom = 256

func loadKeysCmd(s Store, edits int) tea.Cmd {
	return func() tea.Msg {
		keys, err := s.Keys()
		if err != nil {
			return keysFailedMsg{err: err}
		}
		return keysLoadedMsg{keys: slices.Grow(keys, editRoom), edits: edits}
	}
}

// keysFailedMsg says the keys could not be listed: a server that went
// away, say. The list keeps what it shows.
type keysFailedMsg struct{ err error }

// valueLoadedMsg carries one value, or why it could not be read. A value
// over streamLimit is streamed: value holds only the bytes of its first
// text part (see partWindow), and info its whole size.
type valueLoadedMsg struct {
	seq      int
	key      string
	value    []byte
	streamed bool
	info     ValueInfo
	err      error
}

// streamLimit is the size over which the viewer reads a value from the
// store a part at a time, never whole.
const streamLimit = maxTextRender

func loadValueCmd(s Store, seq int, key string) tea.Cmd {
	return func() tea.Msg {
		msg := valueLoadedMsg{seq: seq, key: key}
		info, err := s.Entry(key)
		msg.info = info
		msg.info.ValueSize = 0
		switch {
		case err != nil:
		case info.ValueSize > streamLimit:
			var p partLoadedMsg
			p, err = readPart(s, key, ModeText, 0, info.ValueSize)
			msg.value, msg.streamed, msg.info.ValueSize = p.window.b, true, p.window.total
		default:
			msg.value, err = s.Get(key)
			msg.info.ValueSize = len(msg.value)
		}
		msg.err = err
		return msg
	}
}

// partLoadedMsg carries one part of a streamed value, or why it could not
// be read. Replies whose seq is not the viewer's latest are dropped.
type partLoadedMsg struct {
	seq    int
	key    string
	mode   ViewMode
	part   int
	atEnd  bool // show the part's end
	window span
	err    error
}

// loadPartCmd reads part p, in mode, of key's value, which was total
// bytes long when last read.
func loadPartCmd(s Store, seq int, key string, mode ViewMode, p int, atEnd bool, total int) tea.Cmd {
	return func() tea.Msg {
		msg, err := readPart(s, key, mode, p, total)
		msg.seq, msg.atEnd, msg.err = seq, atEnd, err
		return msg
	}
}

// readPart reads the bytes part p of key's value needs in mode, and no
// more. If the value's size is no longer total, it reads again for the
// new size, the part clamped to its parts.
func readPart(s Store, key string, mode ViewMode, p int, total int) (partLoadedMsg, error) {
	msg := partLoadedMsg{key: key, mode: mode}
	for range 2 {
		p = min(p, partCount(total, mode)-1)
		off, n := partWindow(total, mode, p)
		b := make([]byte, n)
		got, size, err := s.ReadValueAt(key, b, int64(off))
		if err != nil && !errors.Is(err, io.EOF) {
			return msg, err
		}
		if size == total {
			msg.part, msg.window = p, span{b: b[:got], base: off, total: size}
			return msg, nil
		}
		total = size
	}
	return msg, errors.New("the value changed while it was read; reload with r")
}

// sizesLoadedMsg carries the value sizes of keys on screen; -2 marks a key
// that is gone. unknown are keys whose sizes could not be read, to be
// asked for again.
type sizesLoadedMsg struct {
	sizes   map[string]int
	expires map[string]time.Time
	unknown []string
}

func loadSizesCmd(s Store, keys []string) tea.Cmd {
	if len(keys) == 0 {
		return nil
	}
	return func() tea.Msg { return readSizes(s, keys) }
}

// readSizes reads the sizes of keys and, with them, their expiries, so
// that the list learns them once per key on screen, not per frame.
func readSizes(s Store, keys []string) sizesLoadedMsg {
	got, err := s.Sizes(keys)
	if err != nil {
		return sizesLoadedMsg{unknown: keys}
	}
	exp, err := s.Expiries(keys)
	if err != nil {
		return sizesLoadedMsg{unknown: keys}
	}
	sizes := make(map[string]int, len(keys))
	expires := make(map[string]time.Time, len(keys))
	for i, k := range keys {
		sizes[k], expires[k] = got[i], exp[i]
		if got[i] < 0 {
			sizes[k] = -2
		}
	}
	return sizesLoadedMsg{sizes: sizes, expires: expires}
}

// expiredMsg is expiredCmd's answer: the keys the store no longer holds,
// and what readSizes read of the others, which another writer has kept.
type expiredMsg struct {
	gone []string
	kept sizesLoadedMsg
}

// expiredCmd asks the store whether keys, whose expiry as the list read it
// has passed, are gone. A key it cannot read is left for the next tick.
func expiredCmd(s Store, keys []string) tea.Cmd {
	return func() tea.Msg {
		msg := expiredMsg{kept: readSizes(s, keys)}
		for k, n := range msg.kept.sizes {
			if n < 0 {
				msg.gone = append(msg.gone, k)
				delete(msg.kept.sizes, k)
				delete(msg.kept.expires, k)
			}
		}
		slices.Sort(msg.gone)
		return msg
	}
}

// statsMsg carries the store's figures for the gauge, or why they could
// not be read.
type statsMsg struct {
	stats Stats
	// writer is the other process that has the store open for writing,
	// if one does.
	writer  kv.Holder
	writing bool
	err     error
}

func statsCmd(s Store) tea.Cmd {
	return func() tea.Msg {
		var msg statsMsg
		msg.stats, msg.err = s.Stats()
		msg.writer, msg.writing = s.Writer()
		return msg
	}
}

// statsTickMsg asks for the periodic stats refresh.
type statsTickMsg struct{}

func statsTick(live bool) tea.Cmd {
	d := statsInterval
	if live {
		d = liveInterval
	}
	return tea.Tick(d, func(time.Time) tea.Msg { return statsTickMsg{} })
}

// expiryTickMsg asks the inspector to count down the expiry shown and
// to drop the keys on screen that have expired.
type expiryTickMsg struct{}

// expiryInterval is how often the countdown moves: the header shows
// whole seconds.
const expiryInterval = time.Second

func expiryTick() tea.Cmd {
	return tea.Tick(expiryInterval, func(time.Time) tea.Msg { return expiryTickMsg{} })
}

// putDoneMsg reports a finished Put, or, from createCmd, that the key
// exists and nothing was written.
type putDoneMsg struct {
	key     string
	created bool
	exists  bool
	// changed and gone say that a Replace wrote nothing: the key held
	// another value than the one the edit began from, or none.
	changed, gone bool
	// kept names the file an edit in $EDITOR was left in, when it was
	// not saved.
	kept string
	// form is the number of the form whose save this answers (see
	// Model.formSeq), 0 for none.
	form int
	err  error
}

// formSave runs cmd, a save of the form numbered seq, and marks its answer
// with that number.
func formSave(seq int, cmd tea.Cmd) tea.Cmd {
	return func() tea.Msg {
		msg := cmd()
		if done, ok := msg.(putDoneMsg); ok {
			done.form = seq
			return done
		}
		return msg
	}
}

func putCmd(s Store, key string, value []byte, ttl time.Duration) tea.Cmd {
	return func() tea.Msg {
		created, err := s.Put(key, value, ttl)
		if ttl == KeepExisting && errors.Is(err, kv.ErrNotFound) {
			return putDoneMsg{key: key, gone: true}
		}
		return putDoneMsg{key: key, created: created && err == nil, err: err}
	}
}

// replaceCmd stores an edited value only if the key still holds old, the
// value the edit began from (Store.Replace).
func replaceCmd(s Store, key string, old, value []byte, ttl time.Duration) tea.Cmd {
	return func() tea.Msg { return replaceDone(key, s.Replace(key, old, value, ttl)) }
}

// replaceDone is the putDoneMsg of a Replace that returned err.
func replaceDone(key string, err error) putDoneMsg {
	switch {
	case errors.Is(err, ErrChanged):
		return putDoneMsg{key: key, changed: true}
	case errors.Is(err, kv.ErrNotFound):
		return putDoneMsg{key: key, gone: true}
	}
	return putDoneMsg{key: key, err: err}
}

// createCmd stores a new key, unless the key exists: then it writes
// nothing and reports exists, so the user can be asked first.
func createCmd(s Store, key string, value []byte, ttl time.Duration) tea.Cmd {
	return func() tea.Msg {
		err := s.Create(key, value, ttl)
		if errors.Is(err, ErrExists) {
			return putDoneMsg{key: key, exists: true}
		}
		return putDoneMsg{key: key, created: err == nil, err: err}
	}
}

// deleteDoneMsg reports a finished Delete, or with keys set, a finished
// deletion of keys, of which the first deleted were deleted.
type deleteDoneMsg struct {
	key     string
	keys    []string
	deleted int
	err     error
}

// deleteChunk is how many keys deleteKeysCmd removes in one batch.
const deleteChunk = 1000

// deleteKeysCmd deletes keys in batches of deleteChunk: atomic batches
// on a *kv.DB.
func deleteKeysCmd(s Store, keys []string) tea.Cmd {
	return func() tea.Msg {
		msg := deleteDoneMsg{keys: keys}
		msg.deleted, msg.err = s.DeleteKeys(keys)
		return msg
	}
}

func deleteCmd(s Store, key string) tea.Cmd {
	return func() tea.Msg {
		return deleteDoneMsg{key: key, err: s.Delete(key)}
	}
}

// compactDoneMsg reports that a compaction asked for with c returned, with
// the log size around it in case the engine sent no Finished event.
type compactDoneMsg struct {
	before, after int64
	took          time.Duration
	err           error
}

func compactCmd(s Store) tea.Cmd {
	return func() tea.Msg {
		before, _ := s.Stats() // only for the summary: an error shows as 0
		start := time.Now()
		err := s.Compact()
		after, _ := s.Stats()
		return compactDoneMsg{before: before.LogBytes, after: after.LogBytes, took: time.Since(start), err: err}
	}
}

// compactionEventMsg carries one event from the engine's compaction feed.
type compactionEventMsg struct{ ev kv.CompactionEvent }

// waitEventCmd reads one event. The model asks for the next one when this
// one arrives, so the feed is read one item per command. A closed feed
// ends the chain.
func waitEventCmd(events <-chan kv.CompactionEvent) tea.Cmd {
	if events == nil {
		return nil
	}
	return func() tea.Msg {
		ev, ok := <-events
		if !ok {
			return nil
		}
		return compactionEventMsg{ev: ev}
	}
}
