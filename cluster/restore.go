package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// Directories of a restore, beside the store's dir/kv. A snapshot is
// rebuilt into restoreName; once it is complete and synced it is renamed
// to readyName, and only then swapped in: kv is renamed to oldName,
// readyName to kv, and oldName removed. A crash at any point leaves
// either the old store or the complete new one, and Open (recoverSwap)
// finishes or discards what it finds.
const (
	restoreName = "kv.restore"
	readyName   = "kv.ready"
	oldName     = "kv.old"
)

// restoreBatchBytes bounds a batch of the rebuild: large enough for few
// writes, small enough to keep memory flat.
const restoreBatchBytes = 4 << 20

// restore rebuilds the store from the snapshot in r and swaps it in. Raft
// calls it with no apply running; readers wait on dbMu for the swap.
func (f *fsm) restore(r io.Reader) error {
	index, err := f.rebuild(r)
	if err != nil {
		return errors.Join(err, os.RemoveAll(filepath.Join(f.dir, restoreName)))
	}
	f.dbMu.Lock()
	defer f.dbMu.Unlock()
	// A snapshot still being persisted is of the store going away: it
	// fails when it next reads it, and saves nothing from the new one.
	f.snapMu.Lock()
	f.snap = nil
	f.snapMu.Unlock()
	if err := f.db.Close(); err != nil {
		return fmt.Errorf("cluster: restore: close the store: %w", err)
	}
	if err := swapIn(f.dir); err != nil {
		return err
	}
	db, err := kv.Open(storeDir(f.dir), &f.opts)
	if err != nil {
		err = fmt.Errorf("cluster: restore: open the restored store: %w", err)
		f.failed.CompareAndSwap(nil, &err)
		return err
	}
	f.db, f.batch, f.durable = db, nil, index
	f.failed.Store(nil)
	f.applied.set(index)
	f.restores.Add(1)
	return nil
}

// rebuild writes the snapshot in r into a fresh store in restoreName,
// syncs it, and renames it to readyName. It returns the snapshot's
// applied index.
func (f *fsm) rebuild(r io.Reader) (uint64, error) {
	dir := filepath.Join(f.dir, restoreName)
	if err := os.RemoveAll(dir); err != nil {
		return 0, err
	}
	sr, err := newSnapshotReader(r)
	if err != nil {
		return 0, err
	}
	opts := f.opts
	opts.NoSync = true // one sync at the end covers the whole rebuild
	db, err := kv.Open(dir, &opts)
	if err != nil {
		return 0, err
	}
	err = load(db, sr)
	if err == nil {
		err = db.Sync()
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("cluster: restore: %w", err)
	}
	if err := os.Rename(dir, filepath.Join(f.dir, readyName)); err != nil {
		return 0, err
	}
	return sr.index, syncDir(f.dir)
}

// load writes every record of sr, and sr's applied index, into db.
func load(db *kv.DB, sr *snapshotReader) error {
	b := db.NewBatch()
	for {
		r, err := sr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if r.expiry != 0 {
			b.PutExpiresAt(r.key, r.value, time.Unix(0, r.expiry))
		} else {
			b.Put(r.key, r.value)
		}
		if b.Size() >= restoreBatchBytes || b.Len() >= kv.MaxBatchOps/2 {
			if err := db.Write(b); err != nil {
				return err
			}
			b.Reset()
		}
	}
	var v [8]byte
	binary.LittleEndian.PutUint64(v[:], sr.index)
	b.Put(appliedKey, v[:])
	return db.Write(b)
}

// swapIn replaces dir/kv with dir/kv.ready.
func swapIn(dir string) error {
	store, ready, old := storeDir(dir), filepath.Join(dir, readyName), filepath.Join(dir, oldName)
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	if err := os.Rename(store, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(ready, store); err != nil {
		return err
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

// recoverSwap finishes a swap a crash interrupted, or discards a rebuild
// it interrupted, before the store is opened.
func recoverSwap(dir string) error {
	if err := os.RemoveAll(filepath.Join(dir, restoreName)); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, readyName)); err == nil {
		return swapIn(dir)
	}
	return os.RemoveAll(filepath.Join(dir, oldName))
}

// syncDir makes the renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}
