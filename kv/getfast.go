package kv

import (
	"encoding/binary"
	"runtime"
	"runtime/debug"
	"sync/atomic"

	"github.com/crabkv/crabkv/walfmt"
)

// Get reads without the readers' lock when it can: a sequence lock.
//
// With mu, a Get and a writer's publish exclude each other, and with one
// reader beside one writer each waits for the other at almost every
// call, the waiter's goroutine parked and woken: a fill of a million keys
// took three times as long with one goroutine reading beside it as
// alone, and the gap grew with the store. So getFast reads the index and
// the record with no lock at all, and afterwards checks mu.seq, which
// every exclusive hold of mu makes odd while it lasts and even again at
// its end (lockMu, unlockMu), except a publish that changes a single slot
// of the index in place (DB.quietMuLocked). If seq was even and has not
// moved, nothing a reader uses changed during the read but at most that
// one slot, which the read sees whole, before or after, and what it read
// is a state some locked Get could have read at that moment: the same
// answer. If seq moved, or anything looks amiss, it reports that it
// could not answer, and Get takes mu and reads again; it never returns
// an error of its own. A slot read half before and half after a quiet
// publish frames the old record whole or one whose checksum and lengths
// do not hold, which sends the read to mu.
//
// What it reads may be changing under it, so it reads defensively:
//   - Every value it computes from what it read is bounds-checked before
//     use, and the probe gives up after a bounded number of slots.
//   - Memory it reads may be unmapped meanwhile: a map a remap or a
//     compaction replaced, a growth's old table, a replaced log cut
//     short (oldlog.go). Each is let go only after the exclusive hold that
//     replaced it, so seq has moved, and a fault is turned into a panic
//     (debug.SetPanicOnFault) and recovered as a retry.
//   - Bytes of the log are copied out before seq is checked, and a value
//     stored encoded is decoded only after, from the copy.
//
// It leaves to the locked path what it cannot do cheaply and safely: a
// chunk of an index from a hint not yet checked (the locked read checks
// it, once), a record that expires (whether it has is in a Go map, which
// must not be read beside a write), large records (read with pread), a
// store without a map (a follower), and, since it would report the very
// races this design accepts, every build with the race detector.

// fastTries is how many times Get tries to read without mu when a
// writer's publish overlapped its attempt, before it takes mu. A publish
// holds mu for well under a microsecond, and a reader that falls back to
// mu parks beside the writer, which is what the lock-free read avoids.
const fastTries = 16

// getFastRetrying is getFast tried again, up to fastTries times, while
// writers' publishes overlap it. Before each retry it yields: with more
// busy readers than processors, the writer they wait for may be waiting
// for a processor, and readers that never block would keep it from one
// (a fill beside two readers on two cores took 9.0-10.1 us a Put
// without the yield, 4.3-4.6 with it, where the readers' lock had given
// 4.2-5.3).
func (db *DB) getFastRetrying(key []byte) (val []byte, found, ok bool) {
	for i := range fastTries {
		if i > 0 {
			runtime.Gosched()
		}
		val, found, ok, again := db.getFast(key)
		if ok || !again {
			return val, found, ok
		}
	}
	return nil, false, false
}

// getFast returns key's value (found) or that it has none, with ok set,
// or ok false when the caller must read under mu; again says whether the
// attempt failed only because a writer's publish overlapped it, so that
// another attempt may succeed.
func (db *DB) getFast(key []byte) (val []byte, found, ok, again bool) {
	if raceEnabled {
		return nil, false, false, false
	}
	if db.mu.view.m == nil {
		return nil, false, false, false // reads go through the file: a follower's
	}
	seq := &db.mu.seq
	s1 := seq.Load()
	for n := 0; s1&1 != 0; n++ { // a publish is under way: it is short
		if n == 64 {
			return nil, false, false, true
		}
		s1 = seq.Load()
	}
	return db.getFastGuarded(key, seq, s1)
}

// getFastGuarded is getFast's read, with a fault turned into a retry. Its
// one return lets the compiler open-code the deferred call, where the
// many returns of the read itself would have it registered and run
// through the runtime on every Get: 20-40 ns of a lookup that misses.
func (db *DB) getFastGuarded(key []byte, seq *atomic.Uint64, s1 uint64) (val []byte, found, ok, again bool) {
	prev := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(prev)
		if r := recover(); r != nil {
			if _, fault := r.(runtime.Error); !fault {
				panic(r) // not from a read of moving state: a codec's, say
			}
			val, found, ok, again = nil, false, false, true
		}
	}()
	val, found, ok, again = db.readFast(key, seq, s1)
	return val, found, ok, again
}

// readFast is getFast's read of the index and the record, which faults
// if memory it reads is unmapped meanwhile (see getFastGuarded).
func (db *DB) readFast(key []byte, seq *atomic.Uint64, s1 uint64) (val []byte, found, ok, again bool) {
	if db.mu.closed || db.mu.broken != nil {
		return nil, false, false, false
	}
	x := db.mu.index
	if x == nil || x.bad.Load() {
		return nil, false, false, false
	}
	slots, mask, old, oldMask, chk := x.slots, x.mask, x.old, x.oldMask, x.chk
	if db.testHookFast != nil {
		db.testHookFast()
	}
	m, unverified := db.mu.view.m, db.mu.view.unverified
	if m == nil {
		return nil, false, false, false
	}
	// Reads are bounded by the map, not by the view's end, which every
	// publish writes: a slot points at a record only once the record is
	// in the file and the map, and a slot read while it moved may point
	// anywhere, but then seq has moved.
	data := m.data
	end := int64(len(data))
	h := x.hash(key)
	s, res := probeFast(slots, mask, chk, key, h, data, unverified, seq, s1)
	if res == probeMissing && old != nil {
		// Growing: a key not yet migrated is in the old table.
		s, res = probeFast(old, oldMask, chk, key, h, data, unverified, seq, s1)
	}
	switch res {
	case probeMissing:
		if seqAfterReads(seq) != s1 {
			return nil, false, false, true
		}
		return nil, false, true, false
	case probeRetry:
		return nil, false, false, true
	case probeLock:
		return nil, false, false, false
	}
	off, size := int64(s.off), int64(s.size)
	if off < walfmt.HeaderSizeV1 || size < walfmt.RecordHeaderSize || off > end-size {
		return nil, false, false, seqAfterReads(seq) != s1
	}
	rec := data[off : off+size]
	if rec[hdrFlags]&walfmt.FlagExpiry != 0 {
		// Whether it has expired is in the expiry table, a Go map that
		// must not be read beside a write.
		return nil, false, false, false
	}
	stored, err := walfmt.Value(rec) // verifies the checksum
	if err != nil {
		return nil, false, false, seqAfterReads(seq) != s1 // if not, the locked read says where
	}
	codec := walfmt.ValueCodec(rec)
	out := make([]byte, len(stored))
	copy(out, stored)
	if seqAfterReads(seq) != s1 {
		return nil, false, false, true
	}
	if codec == 0 {
		return out, true, true, false
	}
	// Decoded from the copy, which no one else can change.
	dec, err := decodeValue(nil, codec, out)
	if err != nil {
		return nil, false, false, false
	}
	return dec, true, true, false
}

// What probeFast found.
const (
	probeFound   = iota
	probeMissing // an empty slot ends the probe
	probeRetry   // seq moved, or what it read does not hold together
	probeLock    // the locked probe must decide
)

// probeFast looks key, of hash h, up in table t without mu, as findIn
// does with it, reading keys from data, the log's map. In a table from a
// hint, whose chunks chk checks as they are first touched, it reads only
// chunks that have passed. A probe runs for at most one pass over the
// table, and gives up as soon as seq is seen to have moved from s1.
func probeFast(t []slot, mask uint32, chk *hintCheck, key []byte, h uint32, data []byte, unverified int64, seq *atomic.Uint64, s1 uint64) (slot, int) {
	if len(t) == 0 || int(mask)+1 != len(t) {
		return slot{}, probeRetry
	}
	lazy := chk.covers(t) // a table mapped from a hint, checked a chunk at a time
	i := h & mask
	for n := 0; n < len(t); n++ {
		if n&63 == 63 && seq.Load() != s1 {
			return slot{}, probeRetry
		}
		if lazy && !chk.passed(i) {
			return slot{}, probeLock // the locked probe checks the chunk
		}
		s := t[i]
		if s.off == 0 {
			return slot{}, probeMissing
		}
		if s.hash == h && s.off != movedOff {
			if large(s) {
				return slot{}, probeLock
			}
			k, ok := keyInMap(data, int64(s.off), int64(s.size))
			if !ok {
				if seqAfterReads(seq) != s1 {
					return slot{}, probeRetry
				}
				return slot{}, probeLock // the locked probe says what is wrong
			}
			if string(k) == string(key) {
				return s, probeFound
			}
			if int64(s.off) < unverified {
				return slot{}, probeLock // the locked probe checks it first
			}
		}
		i = (i + 1) & mask
	}
	return slot{}, probeRetry
}

// seqAfterReads loads seq again after the reads it must follow. Where
// the processor keeps loads in order (x86), a load is enough; elsewhere
// an earlier plain load may be performed after a later atomic one, and
// a read-modify-write orders every access before it. On arm64 it must
// stay a read-modify-write: a writer's stores inside its hold may become
// visible before the store that made seq odd, and what orders them for
// the reader is that two read-modify-writes of seq are totally ordered.
// A load with a cheaper fence would not do, even though the add makes
// every reader write seq's cache line there.
func seqAfterReads(seq *atomic.Uint64) uint64 {
	if runtime.GOARCH == "amd64" || runtime.GOARCH == "386" || runtime.GOARCH == "s390x" {
		return seq.Load()
	}
	return seq.Add(0)
}

// keyInMap returns the key of the record of size bytes at off in data, a
// log's map, or false if the header it finds there does not fit.
func keyInMap(data []byte, off, size int64) ([]byte, bool) {
	if off < walfmt.HeaderSizeV1 || size < walfmt.RecordHeaderSize || off > int64(len(data))-size {
		return nil, false
	}
	h := data[off : off+walfmt.RecordHeaderSize]
	start := off + walfmt.RecordHeaderSize
	if h[hdrFlags]&walfmt.FlagExpiry != 0 {
		start += walfmt.ExpirySize
	}
	n := int64(binary.LittleEndian.Uint32(h[hdrKeyLen:]))
	if n > size || start > off+size-n {
		return nil, false
	}
	return data[start : start+n], true
}

// Where a record header holds its flags and its key's length (walfmt's
// format; keyOfHeader reads them too).
const (
	hdrFlags  = 5
	hdrKeyLen = 8
)
