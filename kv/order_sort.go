package kv

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"io"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/crabkv/crabkv/walfmt"
)

// Sorting a store's keys is what its first scan pays for when there is no
// order file to load, so it is made to touch each key as few times as it
// can:
//
//   - each key is reduced to a number, the 8 bytes that follow the longest
//     prefix every key shares: keys named "key:0000…" or "user:123…" agree
//     on their first 8 bytes, which would decide nothing;
//   - the numbers are sorted by an MSD radix sort, byte by byte, which
//     reads no key; only a bucket that is small, or whose keys agree on
//     all 8 bytes, is sorted by comparisons, which read the keys;
//   - without a map (a follower), the keys are read once, in log order, a
//     block at a time, into one buffer, instead of with two system calls
//     and an allocation each.

// parallelSortMin is the number of keys from which a sort runs on every
// core: a million keys sort in about half the time on two.
const parallelSortMin = 1 << 16

// radixCutoff is the bucket size below which a bucket is sorted by
// comparisons, which beat another radix pass on a few keys.
const radixCutoff = 64

// keyReadBlock is how many log bytes a sort without a map reads at once.
const keyReadBlock = 1 << 20

// keyPrefix is a record with the 8 bytes of its key after the prefix all
// keys share: ref is the record's offset, or, when the keys were read
// into a buffer, its place in log order.
type keyPrefix struct {
	pfx uint64
	ref uint64
}

// sortByKey sorts record offsets by their keys, read from src. A key that
// cannot be read (a damaged record) sorts as the empty key, consistently,
// so the order is total; a scan reports the damage when it reaches it.
// Records with equal keys sort by offset.
func sortByKey(src *logView, offs []uint64) {
	n := len(offs)
	if n < 2 {
		return
	}
	// keyOf returns the key of a ref, and offOf its record's offset.
	var keyOf func(ref uint64) []byte
	offOf := func(ref uint64) uint64 { return ref }
	if src.m != nil {
		keyOf = func(ref uint64) []byte { return src.keyOrNil(ref) }
	} else {
		radixSort(offs)
		keys, ends := readKeysInLogOrder(src, offs)
		keyOf = func(ref uint64) []byte { return keys[ends[ref]:ends[ref+1]] }
		offOf = func(ref uint64) uint64 { return offs[ref] }
	}
	// The prefixes and the sort's scratch, 32 bytes a key, are held only
	// for the sort: taken outside the Go heap (scratchArray), they go back
	// to the system when it ends, where garbage of the heap would stay in
	// the process until the next collection, perhaps minutes away in a
	// store that has stopped allocating: 320 MB at ten million keys.
	ps, psMem := scratchArray[keyPrefix](n)
	// Nothing else holds ps or tmp once the sort is done; an unmap fails
	// only as mapping.unmap can, harmlessly.
	defer func() { _ = unmapSlots(psMem) }()
	for i, off := range offs {
		ps[i].ref = off
		if src.m == nil {
			ps[i].ref = uint64(i)
		}
	}
	fillPrefixes(ps, keyOf)
	less := func(a, b keyPrefix) int {
		if c := cmp.Compare(a.pfx, b.pfx); c != 0 {
			return c
		}
		if c := bytes.Compare(keyOf(a.ref), keyOf(b.ref)); c != 0 {
			return c
		}
		return cmp.Compare(a.ref, b.ref) // refs are in offset order
	}
	workers := 1
	if n >= parallelSortMin {
		workers = runtime.GOMAXPROCS(0)
	}
	tmp, tmpMem := scratchArray[keyPrefix](n)
	msdSort(ps, tmp, 56, less, workers)
	_ = unmapSlots(tmpMem)
	if src.m != nil {
		for i, p := range ps {
			offs[i] = p.ref
		}
		return
	}
	sorted, sortedMem := scratchArray[uint64](n)
	for i, p := range ps {
		sorted[i] = offOf(p.ref)
	}
	copy(offs, sorted)
	_ = unmapSlots(sortedMem)
}

// fillPrefixes sets each prefix to the 8 bytes of its key after the
// longest prefix all keys share. That shared prefix is guessed from a
// sample of keys and checked against every key as the numbers are taken;
// a key that shares less makes a second pass, with what all share.
func fillPrefixes(ps []keyPrefix, keyOf func(ref uint64) []byte) {
	common := slices.Clone(keyOf(ps[0].ref))
	step := max(1, len(ps)/64)
	for i := 0; i < len(ps); i += step {
		common = common[:sharedLen(common, keyOf(ps[i].ref))]
	}
	for {
		shared := len(common)
		for i := range ps {
			k := keyOf(ps[i].ref)
			if !bytes.HasPrefix(k, common[:shared]) {
				shared = sharedLen(common[:shared], k)
			}
			ps[i].pfx = prefix8(k[min(shared, len(k)):])
		}
		if shared == len(common) {
			return
		}
		common = common[:shared]
	}
}

// sharedLen returns the length of the longest prefix a and b share.
func sharedLen(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// msdSort sorts ps by their prefixes' bytes from the one at shift down,
// then by less, using tmp (as long as ps) to move them; workers sort the
// buckets of the first byte that tells keys apart.
func msdSort(ps, tmp []keyPrefix, shift int, less func(a, b keyPrefix) int, workers int) {
	for {
		if len(ps) < radixCutoff || shift < 0 {
			slices.SortFunc(ps, less)
			return
		}
		var count [256]int
		for _, p := range ps {
			count[byte(p.pfx>>uint(shift))]++
		}
		if count[byte(ps[0].pfx>>uint(shift))] == len(ps) {
			shift -= 8 // one bucket: the next byte
			continue
		}
		var next [256]int
		sum := 0
		for b, c := range count {
			next[b] = sum
			sum += c
		}
		for _, p := range ps {
			b := byte(p.pfx >> uint(shift))
			tmp[next[b]] = p
			next[b]++
		}
		copy(ps, tmp[:len(ps)])
		// next[b] is now where bucket b ends.
		bucket := func(b int) (int, int) { return next[b] - count[b], next[b] }
		if workers < 2 {
			for b := range 256 {
				if lo, hi := bucket(b); hi-lo > 1 {
					msdSort(ps[lo:hi], tmp[lo:hi], shift-8, less, 1)
				}
			}
			return
		}
		var turn atomic.Int32
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for b := int(turn.Add(1)) - 1; b < 256; b = int(turn.Add(1)) - 1 {
					if lo, hi := bucket(b); hi-lo > 1 {
						msdSort(ps[lo:hi], tmp[lo:hi], shift-8, less, 1)
					}
				}
			})
		}
		wg.Wait()
		return
	}
}

// radixSort sorts a, of numbers that are never negative (record offsets),
// in ascending order, a digit at a time from the lowest, over the bits its
// largest number uses. The digits are as wide as radixDigit allows with
// the fewest passes: the offsets of a log of 256 MiB take three of ten
// bits, where bytes took four (BenchmarkRadixSort, 1M offsets below
// 2^28: 6.9–7.9 ms against 8.9–15.6 with radixDigit 8).
//
// Its scratch, as large as a, is taken outside the Go heap once it is
// large: fresh heap memory faults in a page at a time, and at a million
// offsets those faults cost more than the sort (see allocFilled).
func radixSort[T int64 | uint64](a []T) { radixSortWith(a, nil) }

// radixSortWith is radixSort with buf as its scratch, if it is as long as
// a; else it takes its own.
func radixSortWith[T int64 | uint64](a, buf []T) {
	if len(a) < 2 {
		return
	}
	var top T
	for _, x := range a {
		top |= x
	}
	width := uint(bits.Len64(uint64(top)))
	if width == 0 {
		return // all zero
	}
	passes := (width + radixDigit - 1) / radixDigit
	digit := (width + passes - 1) / passes
	mask := T(1)<<digit - 1
	if len(buf) < len(a) {
		var m []byte
		buf, m = scratchArray[T](len(a))
		// Nothing else holds buf; an unmap fails only as mapping.unmap
		// can, harmlessly.
		defer func() { _ = unmapSlots(m) }()
	}
	buf = buf[:len(a)]
	var count [1 << radixDigit]int
	from, to := a, buf
	for shift := uint(0); shift < width; shift += digit {
		clear(count[:mask+1])
		for _, x := range from {
			count[x>>shift&mask]++
		}
		sum := 0
		for b, c := range count[:mask+1] {
			count[b] = sum
			sum += c
		}
		for _, x := range from {
			b := x >> shift & mask
			to[count[b]] = x
			count[b]++
		}
		from, to = to, from
	}
	if &from[0] != &a[0] {
		copy(a, from)
	}
}

// radixDigit is the widest digit radixSort takes: 2,048 counts, 16 KiB.
// Wider digits, for fewer passes, scatter to more places at once and were
// slower (BenchmarkRadixSort, 1M offsets below 2^28: 8.2–9.1 ms with
// radixDigit 14, two passes, against 6.7 for three passes of ten).
const radixDigit = 11

// readKeysInLogOrder reads the keys of the records at offs, which are in
// ascending order, a block of the log at a time, into one buffer: the
// i-th key is keys[ends[i]:ends[i+1]]. A key that cannot be read is
// empty. It reads what src.keyAt would, without a system call a key.
func readKeysInLogOrder(src *logView, offs []uint64) (keys []byte, ends []int) {
	ends = make([]int, len(offs)+1)
	buf := make([]byte, min(keyReadBlock, max(src.end, 0)))
	var at int64 // the log offset of buf's first byte
	have := 0    // the bytes of buf read
	for i, off := range offs {
		k, ok := keyInBlock(buf[:have], int64(off)-at)
		if !ok && int64(off) >= walfmt.HeaderSizeV1 && int64(off) < src.end {
			at = int64(off)
			n, err := src.f.ReadAt(buf[:min(int64(len(buf)), src.end-at)], at)
			if err != nil && err != io.EOF {
				n = 0
			}
			have = n
			k, ok = keyInBlock(buf[:have], 0)
		}
		if !ok { // a key longer than the block, or damage
			k = src.keyOrNil(off)
		}
		keys = append(keys, k...)
		if i+1 == keySample && len(offs) > keySample {
			// Room for all the keys, at the first ones' mean length and a
			// quarter more, but never more than the log holds: a slice
			// grown a key at a time allocates about five times its final
			// size on the way (a quarter more at each step).
			want := min(len(keys)/keySample*len(offs)*5/4, int(min(src.end, int64(math.MaxInt))))
			if want > cap(keys) {
				keys = append(make([]byte, 0, want), keys...)
			}
		}
		ends[i+1] = len(keys)
	}
	return keys, ends
}

// keySample is how many keys readKeysInLogOrder reads before it sizes its
// buffer for the rest from their mean length.
const keySample = 1024

// keyInBlock returns the key of the record at rel in b, as keyAt reads
// it, if the record's header and key lie whole in b.
func keyInBlock(b []byte, rel int64) ([]byte, bool) {
	if rel < 0 || rel+walfmt.RecordHeaderSize > int64(len(b)) {
		return nil, false
	}
	h := b[rel:]
	start := int64(walfmt.RecordHeaderSize)
	if h[5]&walfmt.FlagExpiry != 0 {
		start += walfmt.ExpirySize
	}
	n := int64(binary.LittleEndian.Uint32(h[8:12]))
	if n > walfmt.MaxKeyLen || start+n > int64(len(h)) {
		return nil, false
	}
	return h[start : start+n], true
}

// prefix8 returns the first 8 bytes of key as a big-endian number, zeros
// after a shorter key: numbers compare as the keys' prefixes do.
func prefix8(key []byte) uint64 {
	var b [8]byte
	copy(b[:], key)
	return binary.BigEndian.Uint64(b[:])
}
