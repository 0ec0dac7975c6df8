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

func loadKeysCmd(db *kv.DB, edits int) tea.Cmd {
	return func() tea.Msg {
		return keysLoadedMsg{keys: slices.Grow(db.Keys(nil), editRoom), edits: edits}
	}
}

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

func loadValueCmd(db *kv.DB, seq int, key string) tea.Cmd {
	return func() tea.Msg {
		msg := valueLoadedMsg{seq: seq, key: key}
		e, err := db.Entry([]byte(key))
		msg.info = ValueInfo{Offset: e.Offset, RecordSize: e.RecordSize}
		switch {
		case err != nil:
		case e.ValueSize > streamLimit:
			var p partLoadedMsg
			p, err = readPart(db, key, ModeText, 0, e.ValueSize)
			msg.value, msg.streamed, msg.info.ValueSize = p.window.b, true, p.window.total
		default:
			msg.value, err = db.Get([]byte(key))
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
func loadPartCmd(db *kv.DB, seq int, key string, mode ViewMode, p int, atEnd bool, total int) tea.Cmd {
	return func() tea.Msg {
		msg, err := readPart(db, key, mode, p, total)
		msg.seq, msg.atEnd, msg.err = seq, atEnd, err
		return msg
	}
}

// readPart reads the bytes part p of key's value needs in mode, and no
// more. If the value's size is no longer total, it reads again for the
// new size, the part clamped to its parts.
func readPart(db *kv.DB, key string, mode ViewMode, p int, total int) (partLoadedMsg, error) {
	msg := partLoadedMsg{key: key, mode: mode}
	for range 2 {
		p = min(p, partCount(total, mode)-1)
		off, n := partWindow(total, mode, p)
		b := make([]byte, n)
		got, size, err := db.ReadValueAt([]byte(key), b, int64(off))
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
// that is gone.
type sizesLoadedMsg struct{ sizes map[string]int }

func loadSizesCmd(db *kv.DB, keys []string) tea.Cmd {
	if len(keys) == 0 {
		return nil
	}
	return func() tea.Msg {
		sizes := make(map[string]int, len(keys))
		for _, k := range keys {
			e, err := db.Entry([]byte(k))
			if err != nil {
				sizes[k] = -2
				continue
			}
			sizes[k] = e.ValueSize
		}
		return sizesLoadedMsg{sizes: sizes}
	}
}

// statsMsg carries the store's figures for the gauge.
type statsMsg struct {
	stats kv.Stats
	// writer is the other process that has the store open for writing,
	// if one does.
	writer  kv.Holder
	writing bool
}

func statsCmd(db *kv.DB) tea.Cmd {
	return func() tea.Msg {
		msg := statsMsg{stats: db.Stats()}
		msg.writer, msg.writing = db.Writer()
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

// putDoneMsg reports a finished Put, or, from createCmd, that the key
// exists and nothing was written.
type putDoneMsg struct {
	key     string
	created bool
	exists  bool
	err     error
}

func putCmd(w writer, key string, value []byte) tea.Cmd {
	return func() tea.Msg {
		var created bool
		err := w.do(func(db *kv.DB) error {
			_, err := db.Entry([]byte(key))
			created = errors.Is(err, kv.ErrNotFound)
			return db.Put([]byte(key), value)
		})
		return putDoneMsg{key: key, created: created, err: err}
	}
}

// createCmd stores a new key, unless the key exists: then it writes
// nothing and reports exists, so the user can be asked first. The look
// and the write are made by the one writer, so the key cannot appear in
// between.
func createCmd(w writer, key string, value []byte) tea.Cmd {
	return func() tea.Msg {
		errExists := errors.New("exists")
		err := w.do(func(db *kv.DB) error {
			_, err := db.Entry([]byte(key))
			switch {
			case err == nil:
				return errExists
			case !errors.Is(err, kv.ErrNotFound):
				return err
			}
			return db.Put([]byte(key), value)
		})
		if errors.Is(err, errExists) {
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

// deleteKeysCmd deletes keys in atomic batches of deleteChunk.
func deleteKeysCmd(w writer, keys []string) tea.Cmd {
	return func() tea.Msg {
		msg := deleteDoneMsg{keys: keys}
		msg.err = w.do(func(db *kv.DB) error {
			b := db.NewBatch()
			for msg.deleted < len(keys) {
				chunk := keys[msg.deleted:min(msg.deleted+deleteChunk, len(keys))]
				b.Reset()
				for _, k := range chunk {
					b.Delete([]byte(k))
				}
				if err := db.Write(b); err != nil {
					return err
				}
				msg.deleted += len(chunk)
			}
			return nil
		})
		return msg
	}
}

func deleteCmd(w writer, key string) tea.Cmd {
	return func() tea.Msg {
		return deleteDoneMsg{key: key, err: w.do(func(db *kv.DB) error { return db.Delete([]byte(key)) })}
	}
}

// compactDoneMsg reports that a compaction asked for with c returned, with
// the log size around it in case the engine sent no Finished event.
type compactDoneMsg struct {
	before, after int64
	took          time.Duration
	err           error
}

func compactCmd(w writer) tea.Cmd {
	return func() tea.Msg {
		before, start := w.db.Stats().LogBytes, time.Now()
		err := w.do(func(db *kv.DB) error { return db.Compact() })
		return compactDoneMsg{before: before, after: w.db.Stats().LogBytes, took: time.Since(start), err: err}
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
