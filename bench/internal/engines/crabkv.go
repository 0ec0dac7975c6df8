package engines

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/crabkv/crabkv/kv"
)

func init() {
	register("crabkv", func() Engine { return &crabEngine{codec: kv.Raw} })
	register("crabkv-s2", func() Engine { return &crabEngine{codec: kv.S2} })
	register("crabkv-zstd", func() Engine { return &crabEngine{codec: kv.Zstd} })
	register("crabkv-zstd-dict", func() Engine { return &crabEngine{codec: kv.ZstdDict} })
}

// Compressing reports whether the engine name is a variant of CrabKv that
// exists to compare value codecs: the driver runs those on the JSON
// workloads only, whose values compress.
func Compressing(name string) bool {
	return name == "crabkv-s2" || name == "crabkv-zstd" || name == "crabkv-zstd-dict"
}

// crabEngine is CrabKv with default options apart from NoSync and the
// value codec.
type crabEngine struct {
	db    *kv.DB
	codec kv.Codec
	batch *kv.Batch // reused by WriteBatch
	// dir and sync are Open's, for CompactAll's reopen.
	dir  string
	sync bool
}

func (e *crabEngine) Settings(sync bool) string {
	return fmt.Sprintf("CrabKv (this repository), default Options, Codec=%s, NoSync=%v (sync: each Put fdatasynced before return); db.Put / db.Get", e.codec.Name(), !sync)
}

func (e *crabEngine) Open(dir string, sync bool) error {
	db, err := kv.Open(dir, &kv.Options{NoSync: !sync, Codec: e.codec})
	if err != nil {
		return err
	}
	e.db, e.dir, e.sync = db, dir, sync
	return nil
}

func (e *crabEngine) Put(key, value []byte) error { return e.db.Put(key, value) }

func (e *crabEngine) Get(key []byte) ([]byte, error) {
	v, err := e.db.Get(key)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, ErrNotFound
	}
	return v, err
}

func (e *crabEngine) View(key []byte, fn func([]byte) error) error {
	err := e.db.View(key, fn)
	if errors.Is(err, kv.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

func (e *crabEngine) Close() error { return e.db.Close() }

// DropHint deletes wal.hint and the expiry table's hint beside it, so that
// the next Open replays the whole log, as after a crash.
func (e *crabEngine) DropHint(dir string) error {
	for _, name := range []string{"wal.hint", "wal.hint.exp"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// WriteBatch writes a kv.Batch with db.Write: one record in the log, one
// fdatasync with sync.
func (e *crabEngine) WriteBatch(lo, hi int, kvf func(int, []byte) ([]byte, []byte)) error {
	if e.batch == nil {
		e.batch = e.db.NewBatch()
	}
	b := e.batch
	b.Reset()
	var buf []byte
	for i := lo; i < hi; i++ {
		var v []byte
		buf, v = kvf(i, buf[:0])
		b.Put(buf, v) // Put copies key and value
	}
	return e.db.Write(b)
}
