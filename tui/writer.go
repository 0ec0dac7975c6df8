package tui

import (
	"github.com/crabkv/crabkv/kv"
)

// writer is how the inspector's write actions reach the store: through the
// store it browses, when that is a writer, or through a writer opened for
// the one action and closed after it, when the inspector browses as a
// follower (Config.OpenWriter). A follower takes no lock, so while the
// inspector only browses, other programs may open the store for reading
// and for writing; it holds the write lock only for the moment a write
// takes.
type writer struct {
	db   *kv.DB                 // the store browsed
	open func() (*kv.DB, error) // nil: db takes the writes
}

func (m *Model) writer() writer { return writer{db: m.db, open: m.cfg.OpenWriter} }

// do runs fn on a store that takes writes, and, when it opened one for
// fn, closes it and brings the browsed store up to date, so that what fn
// wrote is read back at once.
func (w writer) do(fn func(db *kv.DB) error) error {
	if w.open == nil {
		return fn(w.db)
	}
	db, err := w.open()
	if err != nil {
		return err
	}
	err = fn(db)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	w.db.Refresh()
	return err
}
