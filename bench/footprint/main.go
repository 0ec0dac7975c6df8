// Command footprint fills a CrabKv store with the JSON documents of the
// fill-json workload and accounts for its size on disk: each file of the
// store, and the log's bytes split into record headers, keys and values,
// per key. It also reports the fill's CPU time per Put (user and system,
// from getrusage), which on a busy machine says more than the wall time.
//
//	cd bench && go run ./footprint -codec zstd-dict
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/crabkv/crabkv/bench/internal/keys"
	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

func main() {
	codec := flag.String("codec", "zstd", "value codec: raw, s2, zstd or zstd-dict")
	n := flag.Int("n", 50000, "documents")
	dir := flag.String("dir", filepath.Join(os.TempDir(), "crabkv-footprint"), "store directory; emptied first")
	seed := flag.Uint64("seed", 1, "seed of the documents and the key order")
	flag.Parse()
	if err := run(*codec, *n, *dir, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "footprint:", err)
		os.Exit(1)
	}
}

func run(codec string, n int, dir string, seed uint64) error {
	c := map[string]kv.Codec{"raw": kv.Raw, "s2": kv.S2, "zstd": kv.Zstd, "zstd-dict": kv.ZstdDict}[codec]
	if c == nil {
		return fmt.Errorf("unknown codec %q", codec)
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	docs := keys.NewJSONDocs(seed)
	docs.Prepare(n)
	db, err := kv.Open(dir, &kv.Options{NoSync: true, Codec: c})
	if err != nil {
		return err
	}
	var key []byte
	raw := 0
	cpu0, start := cpuTime(), time.Now()
	for _, i := range rand.New(rand.NewPCG(seed, 2)).Perm(n) {
		key = keys.Append(key[:0], uint64(i))
		v := docs.For(uint64(i), 0)
		raw += len(v)
		if err := db.Put(key, v); err != nil {
			return err
		}
	}
	wall, cpu := time.Since(start), cpuTime()-cpu0
	if err := db.Close(); err != nil {
		return err
	}
	fmt.Printf("codec %s: %d documents, %.1f MiB raw (%.0f B each)\n", codec, n, mib(int64(raw)), float64(raw)/float64(n))
	fmt.Printf("fill: %.0f ops/s wall, %.1f µs CPU per Put\n", float64(n)/wall.Seconds(), float64(cpu.Nanoseconds())/1e3/float64(n))
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var total int64
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			return err
		}
		total += fi.Size()
		fmt.Printf("  %-14s %8.2f MiB %7.1f B/key\n", e.Name(), mib(fi.Size()), float64(fi.Size())/float64(n))
	}
	fmt.Printf("  %-14s %8.2f MiB %7.1f B/key\n", "total", mib(total), float64(total)/float64(n))
	return accountLog(filepath.Join(dir, "wal.log"), n)
}

// accountLog splits the log's bytes into record headers, keys and values.
func accountLog(path string, n int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // read only
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	r := walfmt.NewReader(f, fi.Size(), path)
	var recs, headers, keyBytes, vals int64
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		recs++
		headers += int64(rec.Size - len(rec.Key) - len(rec.Value))
		keyBytes += int64(len(rec.Key))
		vals += int64(len(rec.Value))
	}
	per := func(b int64) string { return fmt.Sprintf("%8.2f MiB %7.1f B/key", mib(b), float64(b)/float64(n)) }
	fmt.Printf("wal.log: %d records\n", recs)
	fmt.Printf("  record headers %s\n  keys           %s\n  values         %s\n  file header    %d B\n",
		per(headers), per(keyBytes), per(vals), fi.Size()-headers-keyBytes-vals)
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
