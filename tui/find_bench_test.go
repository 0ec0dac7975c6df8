package tui

import (
	"context"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// plainStore hides a store's Scanner, as a server's store has none: the
// walks then read keys, sizes and values one batch at a time.
type plainStore struct{ Store }

// benchWalk runs walk over the million-key store to its end, and reports
// the bytes of values it visited per second.
func benchWalk(b *testing.B, wrap func(Store) Store, walk func(Store) func(*findSender)) {
	dir := millionKeyStore(b)
	db, err := kv.Open(dir, &kv.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s := wrap(NewDBStore(db, nil))
	var last findMsg
	for b.Loop() {
		ch := make(chan findMsg, 1)
		f := &findSender{ctx: context.Background(), out: ch, prog: findProgress{total: -1}}
		go func() {
			defer close(ch)
			walk(s)(f)
		}()
		for msg := range ch {
			last = msg
		}
		if last.err != nil || last.progress.keys != benchKeys {
			b.Fatalf("walk ended at %d keys: %v", last.progress.keys, last.err)
		}
	}
	b.SetBytes(last.progress.bytes)
}

func direct(s Store) Store { return s }
func plain(s Store) Store  { return plainStore{s} }

func searchNoMatch(s Store) func(*findSender) { return valueSearch(s, []byte("no such text")) }
func rankSizes(s Store) func(*findSender)     { return sizeScan(s, sizeViewTop) }

// BenchmarkValueSearch is a value search (f) of a million keys that
// matches none, through the engine's iterator.
func BenchmarkValueSearch(b *testing.B) { benchWalk(b, direct, searchNoMatch) }

// BenchmarkValueSearchGet is the same search through Keys, Sizes and Get,
// as of a store that is not a Scanner.
func BenchmarkValueSearchGet(b *testing.B) { benchWalk(b, plain, searchNoMatch) }

// BenchmarkSizeScan ranks a million keys by value size (s).
func BenchmarkSizeScan(b *testing.B) { benchWalk(b, direct, rankSizes) }
