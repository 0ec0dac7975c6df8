//go:build unix

package tui

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// plainStore hides a store's Scanner, as a server's store has none: the
// walks then read keys, sizes and values one batch at a time.
type plainStore struct{ Store }

// cpuTime is the processor time the process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchWalk runs walk over the million-key store to its end, opened as
// opts say, and reports the bytes of values visited per second of wall
// time (MB/s) and of processor time (MB/cpu-s): on a shared machine the
// second is the steadier.
func benchWalk(b *testing.B, opts *kv.Options, wrap func(Store) Store, walk func(Store) func(*findSender)) {
	dir := millionKeyStore(b)
	db, err := kv.Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s := wrap(NewDBStore(db, nil))
	var last findMsg
	var cpu time.Duration
	for b.Loop() {
		c0 := cpuTime(b)
		ch := make(chan findMsg, 1)
		f := &findSender{ctx: context.Background(), out: ch, prog: findProgress{total: -1}}
		go func() {
			defer close(ch)
			walk(s)(f)
		}()
		for msg := range ch {
			last = msg
		}
		cpu += cpuTime(b) - c0
		if last.err != nil || last.progress.keys != benchKeys {
			b.Fatalf("walk ended at %d keys: %v", last.progress.keys, last.err)
		}
	}
	b.SetBytes(last.progress.bytes)
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(last.progress.bytes)/1e6/(cpu.Seconds()/float64(b.N)), "MB/cpu-s")
}

// The inspector browses a store as a follower (ReadOnly); a program that
// embeds it may hand it a writer.
var (
	follower = &kv.Options{ReadOnly: true}
	writer   = &kv.Options{NoSync: true}
)

func direct(s Store) Store { return s }
func plain(s Store) Store  { return plainStore{s} }

func searchNoMatch(s Store) func(*findSender) { return valueSearch(s, []byte("no such text")) }
func rankSizes(s Store) func(*findSender)     { return sizeScan(s, sizeViewTop) }

// walkOnly visits every value and searches none: the cost of the walk
// itself, the floor under a search.
func walkOnly(s Store) func(*findSender) {
	return func(f *findSender) {
		err := walkValues(f.ctx, s, func(_ []byte, v valueSource) error {
			f.prog.keys++
			f.prog.bytes += int64(v.size)
			return nil
		})
		f.send(findMsg{done: true, err: err})
	}
}

// BenchmarkValueSearch is a value search (f) of a million keys that
// matches none, through the engine's iterator, on a follower as the
// inspector opens it.
func BenchmarkValueSearch(b *testing.B) { benchWalk(b, follower, direct, searchNoMatch) }

// BenchmarkValueSearchWriter is the same search on a store opened for
// writing.
func BenchmarkValueSearchWriter(b *testing.B) { benchWalk(b, writer, direct, searchNoMatch) }

// BenchmarkValueWalk is the walk of BenchmarkValueSearch without the
// search.
func BenchmarkValueWalk(b *testing.B) { benchWalk(b, follower, direct, walkOnly) }

// BenchmarkValueSearchGet is the search through Keys, Sizes and Get, as
// of a store that is not a Scanner.
func BenchmarkValueSearchGet(b *testing.B) { benchWalk(b, follower, plain, searchNoMatch) }

// BenchmarkSizeScan ranks a million keys by value size (s).
func BenchmarkSizeScan(b *testing.B) { benchWalk(b, follower, direct, rankSizes) }
