package tui

import (
	"context"
	"errors"

	"github.com/crabkv/crabkv/kv"
)

// Scanner is what a Store may add for the searches that walk every key
// (the value search, f, and the size view, s): a walk in key order that
// is faster than asking for each key's value or size. A Store that is
// not a Scanner (a server over the network) is walked with Keys, Sizes,
// Expiries, Get and ReadValueAt instead, a batch of keys at a time.
type Scanner interface {
	// ScanValues calls fn with each key, in byte order, and its value,
	// until fn returns an error, which it returns, or ctx is done. key
	// and value are valid only during the call.
	ScanValues(ctx context.Context, fn func(key, value []byte) error) error
	// ScanEntries calls fn with each key, in byte order, and what Entry
	// says of its value, until fn returns an error or ctx is done. key is
	// valid only during the call.
	ScanEntries(ctx context.Context, fn func(key []byte, info ValueInfo) error) error
}

// ctxCheckEvery is how many keys a walk visits between looks at its
// context: often enough that a cancel takes effect at once, rarely
// enough to cost nothing.
const ctxCheckEvery = 256

// ScanValues walks the store with an iterator, which reads a chunk of
// keys and values at a time and holds no lock while fn runs.
func (s dbStore) ScanValues(ctx context.Context, fn func(key, value []byte) error) error {
	it := s.db.NewIterator(nil, nil)
	var err error
	for n := 0; err == nil && it.Next(); n++ {
		if n%ctxCheckEvery == 0 {
			if err = ctx.Err(); err != nil {
				break
			}
		}
		err = fn(it.Key(), it.Value())
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	return err
}

// ScanEntries walks the keys without their values and looks each up:
// the size view needs sizes, codecs and expiries, never the bytes.
func (s dbStore) ScanEntries(ctx context.Context, fn func(key []byte, info ValueInfo) error) error {
	var err error
	n := 0
	// AscendFrom, not DB.Ascend, which drops the walk's error: a damaged
	// log would end the walk early as if the keys had run out.
	werr := s.AscendFrom("", func(key []byte) bool {
		if n++; n%ctxCheckEvery == 0 {
			if err = ctx.Err(); err != nil {
				return false
			}
		}
		e, eerr := s.db.Entry(key)
		if errors.Is(eerr, kv.ErrNotFound) {
			return true // deleted or expired since the walk read it
		}
		if eerr != nil {
			err = eerr
			return false
		}
		err = fn(key, ValueInfo{
			Offset: e.Offset, RecordSize: e.RecordSize, ValueSize: e.ValueSize,
			StoredSize: e.StoredValueSize, Codec: e.Codec, Expires: e.Expires,
		})
		return err == nil
	})
	if err == nil {
		err = werr
	}
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// walkBatch is how many keys a walk of a store that is not a Scanner asks
// about in one call of Sizes or Expiries: one round trip to a server.
const walkBatch = 256

// wholeLimit is the largest value a walk of a store that is not a
// Scanner reads whole with Get; a larger one is read in windows.
const wholeLimit = searchWindow

// walkValues calls fn with each key of s, in byte order, and its value,
// until fn returns an error or ctx is done.
func walkValues(ctx context.Context, s Store, fn func(key []byte, v valueSource) error) error {
	if sc, ok := s.(Scanner); ok {
		return sc.ScanValues(ctx, func(key, value []byte) error {
			return fn(key, valueSource{whole: value, size: len(value)})
		})
	}
	return walkKeys(ctx, s, func(batch []string) error {
		sizes, err := s.Sizes(batch)
		if err != nil {
			return err
		}
		for i, k := range batch {
			if err := visitValue(s, k, sizes[i], fn); err != nil {
				return err
			}
		}
		return nil
	})
}

// visitValue hands key's value, size bytes long, to fn: whole when it is
// small, as a reader of windows otherwise. A key gone meanwhile is
// skipped.
func visitValue(s Store, k string, size int, fn func(key []byte, v valueSource) error) error {
	switch {
	case size < 0:
		return nil
	case size > wholeLimit:
		return fn([]byte(k), valueSource{size: size, readAt: func(p []byte, off int64) (int, error) {
			n, _, err := s.ReadValueAt(k, p, off)
			if errors.Is(err, kv.ErrNotFound) {
				return 0, nil
			}
			return n, err
		}})
	}
	v, err := s.Get(k)
	if errors.Is(err, kv.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return fn([]byte(k), valueSource{whole: v, size: len(v)})
}

// walkEntries calls fn with each key of s, in byte order, and its value's
// size, codec and expiry as far as the store says, until fn returns an
// error or ctx is done.
func walkEntries(ctx context.Context, s Store, fn func(key []byte, info ValueInfo) error) error {
	if sc, ok := s.(Scanner); ok {
		return sc.ScanEntries(ctx, fn)
	}
	return walkKeys(ctx, s, func(batch []string) error {
		sizes, err := s.Sizes(batch)
		if err != nil {
			return err
		}
		expires, err := s.Expiries(batch)
		if err != nil {
			return err
		}
		for i, k := range batch {
			if sizes[i] < 0 {
				continue
			}
			if err := fn([]byte(k), ValueInfo{Offset: -1, ValueSize: sizes[i], Expires: expires[i]}); err != nil {
				return err
			}
		}
		return nil
	})
}

// walkKeys lists the keys of s and calls fn with them walkBatch at a time,
// until fn returns an error or ctx is done.
func walkKeys(ctx context.Context, s Store, fn func(batch []string) error) error {
	keys, err := s.Keys()
	if err != nil {
		return err
	}
	for i := 0; i < len(keys); i += walkBatch {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(keys[i:min(i+walkBatch, len(keys))]); err != nil {
			return err
		}
	}
	return nil
}
