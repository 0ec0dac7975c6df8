package kv

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/crabkv/crabkv/walfmt"
)

// TestFenceSearch checks a run's search with a fence against a plain binary
// search of its keys, for runs of keys of several shapes (a shared prefix,
// 0xFF bytes, keys that are prefixes of others, keys that agree on the 8
// bytes after the shared prefix), of lengths around the fence's stride,
// through a map and through ReadAt, at every key, beside every key, at the
// shared prefix and past it, and at random points.
func TestFenceSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	shapes := map[string]func() []byte{
		"hex": func() []byte { return fmt.Appendf(nil, "%016x", rng.Uint64()) },
		"shared": func() []byte {
			return fmt.Appendf(nil, "tenant/0042/user/%d", rng.IntN(1e6))
		},
		"ff": func() []byte {
			return append(bytes.Repeat([]byte{0xFF}, 1+rng.IntN(12)), byte(rng.IntN(3)))
		},
		"mixed": func() []byte {
			switch rng.IntN(4) {
			case 0:
				return fmt.Appendf(nil, "%x", rng.Uint64()>>uint(rng.IntN(60)))
			case 1:
				return bytes.Repeat([]byte{0xFF}, 1+rng.IntN(10))
			case 2:
				return append([]byte("a"), bytes.Repeat([]byte{0}, rng.IntN(10))...)
			default:
				return fmt.Appendf(nil, "user:%d", rng.IntN(1e4))
			}
		},
		"ties-past-8": func() []byte {
			return fmt.Appendf(nil, "k:12345678%c%d", 'a'+rng.IntN(3), rng.IntN(1e4))
		},
	}
	for _, n := range []int{0, 1, fenceMin - 1, fenceMin, fenceMin + 1, 100, 1000} {
		for name, shape := range shapes {
			seen := map[string]bool{}
			var keys [][]byte
			for len(keys) < n && len(seen) < 200_000 {
				k := shape()
				if !seen[string(k)] {
					seen[string(k)] = true
					keys = append(keys, k)
				} else if name == "ff" && len(seen) >= 36 {
					break // the shape has no more keys
				}
			}
			log := walfmt.AppendHeader(nil)
			run := make([]uint64, len(keys))
			for i, k := range keys {
				run[i] = uint64(len(log))
				if i%3 == 0 {
					log = walfmt.AppendPutExpiring(log, k, []byte("v"), 1<<40)
				} else {
					log = walfmt.AppendPut(log, k, []byte("v"))
				}
			}
			f, path := logFileOf(t, log)
			for _, mapped := range []bool{false, true} {
				src := &logView{f: f, end: int64(len(log)), path: path}
				if mapped {
					src.m = mapLog(f, src.end, false)
				}
				sortByKey(src, run)
				fc := buildFence(run, src)
				if (fc != nil) != (len(run) >= fenceMin) {
					t.Fatalf("%s n=%d: fence built %v for %d keys", name, n, fc != nil, len(run))
				}
				it := &Iterator{snap: &orderSnap{run: run, fence: fc}}
				sorted := make([][]byte, len(run))
				for i, off := range run {
					sorted[i] = bytes.Clone(src.keyOrNil(off))
				}
				targets := [][]byte{nil, {}, {0}, bytes.Repeat([]byte{0xFF}, 20), []byte("tenant/0042/user/"), []byte("tenant/0042/user0")}
				for _, off := range run {
					k := src.keyOrNil(off)
					targets = append(targets, k, append(bytes.Clone(k), 0), append(bytes.Clone(k), 0xFF), k[:len(k)-1])
					up, down := bytes.Clone(k), bytes.Clone(k)
					up[len(up)-1]++
					down[len(down)-1]--
					targets = append(targets, up, down)
				}
				for range 50 {
					targets = append(targets, shape())
				}
				for _, tg := range targets {
					for _, after := range []bool{false, true} {
						want := sort.Search(len(run), func(i int) bool {
							c := bytes.Compare(sorted[i], tg)
							return c > 0 || (c == 0 && !after)
						})
						if got := it.searchRun(src, tg, after); got != want {
							t.Fatalf("%s n=%d mapped=%v: search %q after=%v: %d, want %d", name, n, mapped, tg, after, got, want)
						}
						if fc != nil && name == "hex" {
							if lo, hi := fc.bounds(tg, len(run)); hi-lo > 2*fenceStride {
								t.Fatalf("hex keys: the fence leaves [%d, %d) to search for %q", lo, hi, tg)
							}
						}
					}
				}
				_ = src.m.unmap()
			}
		}
	}
}

// TestFenceDamage checks that a run whose fence keys cannot all be read
// gets no fence, so that its search reads keys as it would without one.
func TestFenceDamage(t *testing.T) {
	log := walfmt.AppendHeader(nil)
	var run []uint64
	for i := range 100 {
		run = append(run, uint64(len(log)))
		log = walfmt.AppendPut(log, fmt.Appendf(nil, "key%04d", i), []byte("v"))
	}
	f, path := logFileOf(t, log)
	src := &logView{f: f, end: int64(len(log)), path: path}
	if buildFence(run, src) == nil {
		t.Fatal("no fence for a whole run")
	}
	bad := append([]uint64(nil), run...)
	bad[fenceStride] = uint64(len(log)) + 100 // outside the log
	if buildFence(bad, src) != nil {
		t.Fatal("a fence built over a key that cannot be read")
	}

	// Keys that share no prefix: an unreadable key has no prefix to lack,
	// and reads as the empty key, whose number falls below those before.
	log = walfmt.AppendHeader(nil)
	run = run[:0]
	for i := range 100 {
		run = append(run, uint64(len(log)))
		log = walfmt.AppendPut(log, fmt.Appendf(nil, "%c%04d", 'a'+i/10, i), []byte("v"))
	}
	f, path = logFileOf(t, log)
	src = &logView{f: f, end: int64(len(log)), path: path}
	if fc := buildFence(run, src); fc == nil || fc.common != "" {
		t.Fatalf("setup: fence %+v", fc)
	}
	run[3*fenceStride] = uint64(len(log)) + 100
	if buildFence(run, src) != nil {
		t.Fatal("a fence built over a key that cannot be read, among keys that share no prefix")
	}
}
