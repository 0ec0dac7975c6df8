package tui

import (
	"errors"
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

// valueLoadedMsg carries one value, or why it could not be read.
type valueLoadedMsg struct {
	seq   int
	key   string
	value []byte
	info  ValueInfo
	err   error
}

func loadValueCmd(db *kv.DB, seq int, key string) tea.Cmd {
	return func() tea.Msg {
		msg := valueLoadedMsg{seq: seq, key: key}
		e, err := db.Entry([]byte(key))
		if err == nil {
			msg.value, err = db.Get([]byte(key))
		}
		msg.info = ValueInfo{Offset: e.Offset, RecordSize: e.RecordSize, ValueSize: len(msg.value)}
		msg.err = err
		return msg
	}
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
