package tui

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// Store is what the inspector needs of a store. It is kept this small so
// that the inspector can browse an open *kv.DB (NewDBStore) or a crabkv
// server over the network (package tui/remote) alike. The inspector calls
// it only from commands, never from Update or View, and from several
// commands at once: an implementation must be safe for concurrent use.
//
// Errors that mean the same thing as the engine's sentinels wrap them
// (kv.ErrNotFound for a key that is gone, and so on), so that the
// inspector explains them the same way whichever store it browses.
type Store interface {
	// Name names the store in the title: a directory or an address. It
	// must hold no secret.
	Name() string
	// Keys returns every key, sorted.
	Keys() ([]string, error)
	// Entry describes key's value: its size, and where it sits in the log
	// when the store knows (Offset -1 otherwise).
	Entry(key string) (ValueInfo, error)
	// Sizes returns the size of each key's value, or -1 for a key that is
	// gone.
	Sizes(keys []string) ([]int, error)
	// Get returns key's whole value.
	Get(key string) ([]byte, error)
	// ReadValueAt reads into p the bytes of key's value from off on, and
	// returns how many it read and the size of the whole value; it returns
	// io.EOF, as io.ReaderAt does, when the value ends before p is full.
	ReadValueAt(key string, p []byte, off int64) (n, size int, err error)
	// Expiries returns when each key expires: the zero time for a key
	// that never does, or that is gone.
	Expiries(keys []string) ([]time.Time, error)
	// Put stores value under key, and reports whether key is new. ttl
	// says what becomes of key's expiry: KeepTTL keeps it, NoTTL removes
	// it, KeepExisting keeps it and writes only if key exists, and a
	// positive ttl makes key expire that long after the write.
	Put(key string, value []byte, ttl time.Duration) (created bool, err error)
	// Replace stores value under key, with ttl as Put's, only if key
	// still holds old, the value an edit began from: it writes nothing
	// and returns ErrChanged if key holds another value, or an error
	// wrapping kv.ErrNotFound if key is gone (deleted, or expired). The
	// look and the write are one step for every other process that
	// writes the store (for a *kv.DB, see dbStore.Replace).
	Replace(key string, old, value []byte, ttl time.Duration) error
	// Create stores value under key unless key exists; then it writes
	// nothing and returns ErrExists. A positive ttl makes the new key
	// expire that long after the write; otherwise it never does.
	Create(key string, value []byte, ttl time.Duration) error
	// Delete deletes key.
	Delete(key string) error
	// DeleteKeys deletes keys, in batches of at most deleteChunk, and
	// returns how many of the first keys it deleted, also on error.
	DeleteKeys(keys []string) (int, error)
	// Compact compacts the log and returns when it is done.
	Compact() error
	// Stats returns the figures the gauge shows.
	Stats() (Stats, error)
	// Subscribe returns a feed of compaction events and the function that
	// ends it and closes the channel.
	Subscribe() (<-chan kv.CompactionEvent, func())
	// Writer names another process that holds the store open for writing,
	// when one does: the inspector then does not write.
	Writer() (kv.Holder, bool)
	// Live reports whether others may change the store while the
	// inspector shows it, so that it must poll for changes.
	Live() bool
}

// What Store.Put does to a key's expiry, besides a positive TTL.
const (
	// KeepTTL keeps the expiry the key has, as Redis's SET KEEPTTL: an
	// edit of a value does not make an expiring key permanent.
	KeepTTL time.Duration = 0
	// NoTTL removes the key's expiry.
	NoTTL time.Duration = -1
	// KeepExisting keeps the expiry as KeepTTL does, and writes only over
	// a key that exists, as SET XX KEEPTTL: a key that is gone is not
	// created, and Put returns an error wrapping kv.ErrNotFound. An edit
	// told that its key changed overwrites it so: had the key expired
	// since, it would come back never to expire, unasked.
	KeepExisting time.Duration = -2
)

// ErrExists is Store.Create's error for a key that exists.
var ErrExists = errors.New("tui: key exists")

// ErrChanged is Store.Replace's error for a key whose value is no longer
// the one an edit began from.
var ErrChanged = errors.New("tui: the value changed")

// Stats are the figures of the gauge.
type Stats struct {
	Keys                            int
	LiveBytes, StaleBytes, LogBytes int64
	Compactions                     int64
	Compacting                      bool
	// Threshold is the stale share at which the store compacts by
	// itself; 0 when it never does, -1 when the store does not say.
	Threshold float64
	// Cluster describes the cluster when the store is one of its nodes;
	// nil otherwise.
	Cluster *ClusterInfo
}

// dbStore is the Store of an open *kv.DB. Writes go to the store browsed,
// when that is a writer, or to a writer opened for the one action and
// closed after it, when the inspector browses as a follower
// (Config.OpenWriter). A follower takes no lock, so while the inspector
// only browses, other programs may open the store for reading and for
// writing; it holds the write lock only for the moment a write takes.
type dbStore struct {
	db   *kv.DB                 // the store browsed
	open func() (*kv.DB, error) // nil: db takes the writes
}

// NewDBStore returns the Store of db. openWriter is as Config.OpenWriter.
func NewDBStore(db *kv.DB, openWriter func() (*kv.DB, error)) OrderedStore {
	return dbStore{db: db, open: openWriter}
}

// do runs fn on a store that takes writes, and, when it opened one for
// fn, closes it and brings the browsed store up to date, so that what fn
// wrote is read back at once.
func (s dbStore) do(fn func(db *kv.DB) error) error {
	if s.open == nil {
		return fn(s.db)
	}
	db, err := s.open()
	if err != nil {
		return err
	}
	err = fn(db)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	s.db.Refresh()
	return err
}

func (s dbStore) Name() string { return s.db.Dir() }

func (s dbStore) Keys() ([]string, error) { return s.db.Keys(nil), nil }

func (s dbStore) Entry(key string) (ValueInfo, error) {
	e, err := s.db.Entry([]byte(key))
	return ValueInfo{
		Offset: e.Offset, RecordSize: e.RecordSize, ValueSize: e.ValueSize,
		StoredSize: e.StoredValueSize, Codec: e.Codec, Expires: e.Expires,
	}, err
}

func (s dbStore) Expiries(keys []string) ([]time.Time, error) {
	out := make([]time.Time, len(keys))
	for i, k := range keys {
		if e, err := s.db.Entry([]byte(k)); err == nil {
			out[i] = e.Expires
		}
	}
	return out, nil
}

func (s dbStore) Sizes(keys []string) ([]int, error) {
	sizes := make([]int, len(keys))
	for i, k := range keys {
		e, err := s.db.Entry([]byte(k))
		sizes[i] = e.ValueSize
		if err != nil {
			sizes[i] = -1
		}
	}
	return sizes, nil
}

func (s dbStore) Get(key string) ([]byte, error) { return s.db.Get([]byte(key)) }

func (s dbStore) ReadValueAt(key string, p []byte, off int64) (int, int, error) {
	return s.db.ReadValueAt([]byte(key), p, off)
}

func (s dbStore) Put(key string, value []byte, ttl time.Duration) (created bool, err error) {
	err = s.do(func(db *kv.DB) error {
		var err error
		created, err = put(db, key, value, ttl)
		return err
	})
	return created, err
}

// put is Put on db, a writer, and reports whether key is new.
func put(db *kv.DB, key string, value []byte, ttl time.Duration) (created bool, err error) {
	e, err := db.Entry([]byte(key))
	created = errors.Is(err, kv.ErrNotFound)
	switch {
	case ttl > 0:
		return created, db.PutTTL([]byte(key), value, ttl)
	case ttl == KeepExisting && created:
		return false, err
	case (ttl == KeepTTL || ttl == KeepExisting) && err == nil && !e.Expires.IsZero():
		// The writer is the only one, so the expiry read above is
		// still the key's; a batch writes it as an absolute instant.
		b := db.NewBatch()
		b.PutExpiresAt([]byte(key), value, e.Expires)
		return created, db.Write(b)
	}
	return created, db.Put([]byte(key), value)
}

// Replace looks and writes with the one writer: a follower's, opened for
// the write under the store's lock, so that no other process writes in
// between, or the inspector's own, which is the only one of a store
// crabkv inspect opens. (A program that writes the *kv.DB it browses from
// goroutines of its own could write between the two.)
func (s dbStore) Replace(key string, old, value []byte, ttl time.Duration) error {
	return s.do(func(db *kv.DB) error {
		cur, err := db.Get([]byte(key))
		switch {
		case err != nil:
			return err
		case !bytes.Equal(cur, old):
			return ErrChanged
		}
		_, err = put(db, key, value, ttl)
		return err
	})
}

// Create looks and writes with the one writer, so the key cannot appear
// in between.
func (s dbStore) Create(key string, value []byte, ttl time.Duration) error {
	return s.do(func(db *kv.DB) error {
		_, err := db.Entry([]byte(key))
		switch {
		case err == nil:
			return ErrExists
		case !errors.Is(err, kv.ErrNotFound):
			return err
		}
		if ttl > 0 {
			return db.PutTTL([]byte(key), value, ttl)
		}
		return db.Put([]byte(key), value)
	})
}

func (s dbStore) Delete(key string) error {
	return s.do(func(db *kv.DB) error { return db.Delete([]byte(key)) })
}

// DeleteKeys deletes keys in atomic batches of deleteChunk.
func (s dbStore) DeleteKeys(keys []string) (int, error) {
	deleted := 0
	err := s.do(func(db *kv.DB) error {
		b := db.NewBatch()
		for deleted < len(keys) {
			chunk := keys[deleted:min(deleted+deleteChunk, len(keys))]
			b.Reset()
			for _, k := range chunk {
				b.Delete([]byte(k))
			}
			if err := db.Write(b); err != nil {
				return err
			}
			deleted += len(chunk)
		}
		return nil
	})
	return deleted, err
}

func (s dbStore) Compact() error {
	return s.do(func(db *kv.DB) error { return db.Compact() })
}

func (s dbStore) Stats() (Stats, error) {
	st, p := s.db.Stats(), s.db.Policy()
	out := Stats{
		Keys: st.Keys, LiveBytes: st.LiveBytes, StaleBytes: st.StaleBytes, LogBytes: st.LogBytes,
		Compactions: st.Compactions, Compacting: st.Compacting, Threshold: p.StaleRatio,
	}
	if p.Disabled {
		out.Threshold = 0
	}
	return out, nil
}

func (s dbStore) Subscribe() (<-chan kv.CompactionEvent, func()) { return s.db.Subscribe() }

// Writer names the other process that writes the store; the inspector's
// own writer, open for a moment, is not one.
func (s dbStore) Writer() (kv.Holder, bool) {
	h, ok := s.db.Writer()
	return h, ok && h.PID != os.Getpid()
}

// Live: a follower follows a writer it does not own.
func (s dbStore) Live() bool { return s.open != nil }

// HistoryStore is a Store that can list the older versions of a key still
// in its log, and read them: an open store can, a server over the network
// cannot, and the inspector then says history is unavailable.
type HistoryStore interface {
	// History returns key's records still in the log, oldest first (see
	// kv.DB.History).
	History(key string) ([]kv.Version, error)
	// VersionValue returns the value of a version History returned.
	VersionValue(v kv.Version) ([]byte, error)
}

// bound is a key bound of OrderedStore as the engine takes it: nil for
// none.
func bound(k string) []byte {
	if k == "" {
		return nil
	}
	return []byte(k)
}

func (s dbStore) KeysFrom(from, hi string, n int) ([]string, error) {
	it := s.db.NewKeyIterator(bound(from), bound(hi))
	out := make([]string, 0, min(n, 1024))
	for len(out) < n && it.Next() {
		out = append(out, string(it.Key()))
	}
	return out, it.Close()
}

func (s dbStore) KeysBefore(lo, before string, n int) ([]string, error) {
	it := s.db.NewKeyIterator(bound(lo), bound(before))
	it.SeekEnd()
	out := make([]string, 0, min(n, 1024))
	for len(out) < n && it.Prev() {
		out = append(out, string(it.Key()))
	}
	slices.Reverse(out)
	return out, it.Close()
}

func (s dbStore) AscendFrom(from string, fn func(key []byte) bool) error {
	it := s.db.NewKeyIterator(bound(from), nil)
	for it.Next() && fn(it.Key()) {
	}
	return it.Close()
}

func (s dbStore) Len() (int, error) { return s.db.Stats().Keys, nil }
