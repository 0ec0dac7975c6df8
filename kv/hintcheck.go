package kv

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"runtime"
	"sync"
	"sync/atomic"
)

// errHintDamaged is what a lookup returns once the index has met a slot
// chunk of its hint file that fails its checksum. The DB then replaces the
// index with one replayed from the log (see DB.rebuildIndexMuLocked): a
// damaged hint costs a replay, never a wrong answer.
var errHintDamaged = errors.New("kv: hint file slots damaged")

// chunkSlots is how many slots a hint checksums together: 4 KiB, a page.
const chunkSlots = 256

// chunkSum is a hint file's record of one chunk of its slots: their
// CRC-32C and how many are occupied. Eight bytes, little-endian, in the
// hint's chunk table.
type chunkSum struct {
	crc  uint32
	used uint32
}

const chunkSumSize = 8

// sumChunk returns the chunkSum of slots.
func sumChunk(slots []slot) chunkSum {
	c := chunkSum{crc: crc32.Checksum(slotBytes(slots), castagnoli)}
	for _, s := range slots {
		if s.off != 0 {
			c.used++
		}
	}
	return c
}

// sumChunks returns the chunkSum of every chunk of slots.
func sumChunks(slots []slot) []chunkSum {
	sums := make([]chunkSum, 0, (len(slots)+chunkSlots-1)/chunkSlots)
	for i := 0; i < len(slots); i += chunkSlots {
		sums = append(sums, sumChunk(slots[i:min(i+chunkSlots, len(slots))]))
	}
	return sums
}

func appendChunkSums(b []byte, sums []chunkSum) []byte {
	for _, c := range sums {
		b = binary.LittleEndian.AppendUint32(b, c.crc)
		b = binary.LittleEndian.AppendUint32(b, c.used)
	}
	return b
}

func decodeChunkSums(b []byte) []chunkSum {
	sums := make([]chunkSum, len(b)/chunkSumSize)
	for i := range sums {
		sums[i] = chunkSum{crc: binary.LittleEndian.Uint32(b[8*i:]), used: binary.LittleEndian.Uint32(b[8*i+4:])}
	}
	return sums
}

// hintCheck checks a table mapped from a hint file a chunk at a time, the
// first time anything reads a slot of the chunk, instead of all of it at
// Open: opening a store is then a few reads whatever its size, and a
// lookup pays for the 4 KiB of its own probe once.
//
// A chunk is checked before any slot of it is used or changed, so that
// its checksum still describes it; once it has passed, its bit in done is
// set and it is never checked again, whatever is written to it. Readers
// check chunks under DB.mu shared, so done is updated atomically (two
// readers checking one chunk at once both find it sound, or both not).
type hintCheck struct {
	slots []slot
	sums  []chunkSum
	done  []atomic.Uint64
}

func newHintCheck(slots []slot, sums []chunkSum) *hintCheck {
	return &hintCheck{slots: slots, sums: sums, done: make([]atomic.Uint64, (len(sums)+63)/64)}
}

// covers reports whether t is the table the check is for.
func (c *hintCheck) covers(t []slot) bool {
	return c != nil && len(t) > 0 && len(c.slots) == len(t) && &t[0] == &c.slots[0]
}

// passed reports whether the chunk holding slot i has passed its check; it
// checks nothing (the lock-free Get leaves the check to a locked read).
func (c *hintCheck) passed(i uint32) bool {
	n := i / chunkSlots
	return c.done[n/64].Load()&(uint64(1)<<(n%64)) != 0
}

// check reports whether the chunk holding slot i is sound, checking it if
// it has not been.
func (c *hintCheck) check(i uint32) bool {
	n := i / chunkSlots
	w, bit := n/64, uint64(1)<<(n%64)
	if c.done[w].Load()&bit != 0 {
		return true
	}
	start := int(n) * chunkSlots
	if sumChunk(c.slots[start:min(start+chunkSlots, len(c.slots))]) != c.sums[n] {
		return false
	}
	c.done[w].Or(bit)
	return true
}

// checkAllParallel is checkAll on as many goroutines as there are
// processors, each a run of the chunks.
func (c *hintCheck) checkAllParallel() bool {
	workers := runtime.GOMAXPROCS(0)
	chunks := (len(c.slots) + chunkSlots - 1) / chunkSlots
	if workers < 2 || chunks < 2*workers {
		return c.checkAll()
	}
	var bad atomic.Bool
	var wg sync.WaitGroup
	per := (chunks + workers - 1) / workers
	for w := range workers {
		wg.Go(func() {
			for n := w * per; n < min((w+1)*per, chunks); n++ {
				if !c.check(uint32(n * chunkSlots)) {
					bad.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	return !bad.Load()
}

// checkAll checks every chunk not yet checked, before the table is written
// out as a new hint, which must not launder damage into fresh checksums.
func (c *hintCheck) checkAll() bool {
	for i := 0; i < len(c.slots); i += chunkSlots {
		if !c.check(uint32(i)) {
			return false
		}
	}
	return true
}
