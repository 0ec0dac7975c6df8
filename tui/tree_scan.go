package tui

import (
	tea "github.com/charmbracelet/bubbletea"
)

// sizeScanner is a Store that walks its keys in order with the sizes of
// their values, as a stream: the key tree reads an open store through it
// without listing every key first. Other stores are read through Keys and
// Sizes, a chunk of sizes at a time.
type sizeScanner interface {
	ScanSizes(fn func(key string, size int) bool) error
}

// treeBatch is how many keys one treeBatchMsg carries: enough that the
// messages are few. Adding a batch rebuilds the rows shown, which costs in
// proportion to the open groups' rows; BenchmarkTreeBatch times only a
// batch into an empty tree.
const treeBatch = 2048

// treeBatchMsg carries the next keys of a tree scan, in key order, with
// the sizes of their values. The last message of a scan has done set,
// and err when the scan failed.
type treeBatchMsg struct {
	seq   int
	total int // keys in the store when the scan began; 0 if unknown
	keys  []treeLeaf
	done  bool
	err   error
}

func (treeBatchMsg) treeMsg() {}

// treeScan is a scan of the store's keys for the tree, running in its own
// goroutine, which stop ends. Its batches are read one per command.
type treeScan struct {
	seq  int
	ch   chan treeBatchMsg
	stop chan struct{}
}

// startTreeScan starts a scan of s and returns it; next reads its first
// batch.
func startTreeScan(s Store, seq int) *treeScan {
	t := &treeScan{seq: seq, ch: make(chan treeBatchMsg, 1), stop: make(chan struct{})}
	go t.run(s)
	return t
}

// end stops the scan. Its goroutine exits at its next send.
func (t *treeScan) end() {
	if t != nil {
		close(t.stop)
	}
}

// next is the command that waits for the scan's next batch.
func (t *treeScan) next() tea.Cmd {
	return func() tea.Msg {
		b, ok := <-t.ch
		if !ok {
			return treeBatchMsg{seq: t.seq, done: true}
		}
		return b
	}
}

// run scans s, sending batches until the keys end or stop is closed.
func (t *treeScan) run(s Store) {
	defer close(t.ch)
	total := 0
	if st, err := s.Stats(); err == nil {
		total = st.Keys
	}
	batch := make([]treeLeaf, 0, treeBatch)
	send := func(done bool, err error) bool {
		select {
		case t.ch <- treeBatchMsg{seq: t.seq, total: total, keys: batch, done: done, err: err}:
			batch = make([]treeLeaf, 0, treeBatch)
			return true
		case <-t.stop:
			return false
		}
	}
	add := func(key string, size int) bool {
		batch = append(batch, treeLeaf{key: key, size: size})
		return len(batch) < treeBatch || send(false, nil)
	}
	var err error
	if sc, ok := s.(sizeScanner); ok {
		err = sc.ScanSizes(add)
	} else {
		err = scanWithSizes(s, add)
	}
	send(true, err)
}

// scanWithSizes walks s's keys through Keys and Sizes, for a store that
// cannot stream them, until fn returns false. Keys gone meanwhile are
// left out.
func scanWithSizes(s Store, fn func(key string, size int) bool) error {
	keys, err := s.Keys()
	if err != nil {
		return err
	}
	for i := 0; i < len(keys); i += treeBatch {
		chunk := keys[i:min(i+treeBatch, len(keys))]
		sizes, err := s.Sizes(chunk)
		if err != nil {
			return err
		}
		for j, k := range chunk {
			if sizes[j] >= 0 && !fn(k, sizes[j]) {
				return nil
			}
		}
	}
	return nil
}
