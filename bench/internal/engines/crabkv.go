package engines

import (
	"errors"
	"fmt"

	"github.com/crabkv/crabkv/kv"
)

func init() {
	register("crabkv", func() Engine { return &crabEngine{codec: kv.Raw} })
	register("crabkv-s2", func() Engine { return &crabEngine{codec: kv.S2} })
	register("crabkv-zstd", func() Engine { return &crabEngine{codec: kv.Zstd} })
}

// Compressing reports whether the engine name is a variant of CrabKv that
// exists to compare value codecs: the driver runs those on the JSON
// workloads only, whose values compress.
func Compressing(name string) bool { return name == "crabkv-s2" || name == "crabkv-zstd" }

// crabEngine is CrabKv with default options apart from NoSync and the
// value codec.
type crabEngine struct {
	db    *kv.DB
	codec kv.Codec
}

func (e *crabEngine) Settings(sync bool) string {
	return fmt.Sprintf("CrabKv (this repository), default Options, Codec=%s, NoSync=%v (sync: each Put fdatasynced before return); db.Put / db.Get", e.codec.Name(), !sync)
}

func (e *crabEngine) Open(dir string, sync bool) error {
	db, err := kv.Open(dir, &kv.Options{NoSync: !sync, Codec: e.codec})
	if err != nil {
		return err
	}
	e.db = db
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
