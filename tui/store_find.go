package tui

import (
	"errors"

	"github.com/crabkv/crabkv/kv"
)

// historyRetries is how many times History walks the log again when a
// compaction replaced it during the walk.
const historyRetries = 3

// History collects key's versions. A compaction during the walk drops the
// versions not reached yet; the walk then starts again on the new log.
func (s dbStore) History(key string) ([]kv.Version, error) {
	var vs []kv.Version
	var err error
	for range historyRetries {
		vs = vs[:0]
		err = s.db.History([]byte(key), func(v kv.Version) bool {
			vs = append(vs, v)
			return true
		})
		if !errors.Is(err, kv.ErrLogReplaced) {
			break
		}
	}
	return vs, err
}

func (s dbStore) VersionValue(v kv.Version) ([]byte, error) { return s.db.VersionValue(v) }

// ScanSizes walks the keys in order, reading each one's size from the
// index: no value is read.
func (s dbStore) ScanSizes(fn func(key string, size int) bool) error {
	var err error
	werr := s.AscendFrom("", func(k []byte) bool { // not DB.Ascend: it drops the walk's error
		e, gerr := s.db.Entry(k)
		switch {
		case errors.Is(gerr, kv.ErrNotFound):
			return true // deleted or expired since the scan read it
		case gerr != nil:
			err = gerr
			return false
		}
		return fn(string(k), e.ValueSize)
	})
	if err == nil {
		err = werr
	}
	return err
}
