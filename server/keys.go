package server

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"sync"
)

func (c *client) dbsize([][]byte) { c.integer(int64(c.s.db.Stats().Keys)) }

// keys is KEYS pattern, with Redis's glob syntax (see match). Only the
// range of keys that start with the pattern's literal prefix is read.
func (c *client) keys(args [][]byte) {
	pattern := args[1]
	prefix := literalPrefix(pattern)
	var out []string
	err := c.s.db.Scan(c.read(false), prefix, prefixEnd(prefix), func(k []byte) bool {
		if match(pattern, k) {
			out = append(out, string(k))
		}
		return true
	})
	if err != nil {
		c.engineError(err)
		return
	}
	c.array(len(out))
	for _, k := range out {
		c.bulkString(k)
	}
}

// Default and largest COUNT of a SCAN.
const (
	defaultScanCount = 10
	maxScanCount     = 1 << 20
)

// scan is SCAN cursor [MATCH pattern] [COUNT n] [TYPE string].
//
// Keys are returned in byte order, and the cursor stands for the last key
// returned: the next call returns the keys after it, as the store is then.
// So a key present for the whole scan is returned exactly once however the
// store changes meanwhile, and one added or deleted during it may or may
// not be. Clients treat the cursor as a number, so the server keeps the key
// under a random number (see cursorTable); "0" starts a scan and is
// returned at its end. COUNT is how many keys are examined, as in Redis;
// TYPE string is accepted, other types find nothing.
func (c *client) scan(args [][]byte) {
	cur, ok := strconv.ParseUint(string(args[1]), 10, 64)
	if ok != nil {
		c.err("ERR invalid cursor")
		return
	}
	var pattern []byte
	count, typeOK := defaultScanCount, true
	for i := 2; i < len(args); i += 2 {
		if i+1 >= len(args) {
			c.syntaxError()
			return
		}
		switch strings.ToUpper(string(args[i])) {
		case "MATCH":
			pattern = args[i+1]
		case "COUNT":
			n, ok := parseInt(args[i+1])
			if !ok {
				c.notInteger()
				return
			}
			if n < 1 {
				c.syntaxError()
				return
			}
			count = int(min(n, maxScanCount))
		case "TYPE":
			typeOK = strings.EqualFold(string(args[i+1]), "string")
		default:
			c.syntaxError()
			return
		}
	}
	after := ""
	if cur != 0 {
		k, ok := c.s.cursors.get(cur)
		if !ok {
			c.err("ERR invalid cursor")
			return
		}
		after = k
	}
	keys, next, err := c.scanPage(pattern, after, cur != 0, count)
	if err != nil {
		c.engineError(err)
		return
	}
	if cur != 0 {
		c.s.cursors.retire(cur) // the scan goes on from next
	}
	if !typeOK {
		keys = nil
	}
	c.array(2)
	c.bulkString(strconv.FormatUint(next, 10))
	c.array(len(keys))
	for _, k := range keys {
		c.bulkString(k)
	}
}

// scanPage returns the keys matching pattern among the count keys after
// after (from the first when resume is false), and the cursor of the next
// page (0 at the end). It reads those keys and one more, from a seek past
// after within the range of the pattern's literal prefix, so a page costs
// what it returns, however large the store. A damaged record's key is
// left out, as kv.DB.Keys does; an error of the store's own (a redirect)
// is the reply.
func (c *client) scanPage(pattern []byte, after string, resume bool, count int) ([]string, uint64, error) {
	prefix := literalPrefix(pattern)
	start := prefix
	if resume && after >= string(prefix) {
		start = append([]byte(after), 0) // the first key after after
	}
	var out []string
	var last []byte
	seen, more := 0, false
	err := c.s.db.Scan(c.read(false), start, prefixEnd(prefix), func(k []byte) bool {
		if seen == count {
			more = true
			return false
		}
		seen++
		last = append(last[:0], k...)
		if pattern == nil || match(pattern, k) {
			out = append(out, string(k))
		}
		return true
	})
	if e, ok := asError(err); ok {
		return nil, 0, e
	}
	if !more {
		return out, 0, nil
	}
	return out, c.s.cursors.put(string(last)), nil
}

// prefixEnd returns the first key after every key that starts with
// prefix, or nil when there is none (an empty prefix, or one of 0xFF bytes
// only): the end of the range a prefix stands for.
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// literalPrefix returns the part of a glob pattern before its first special
// character: every match starts with it.
func literalPrefix(pattern []byte) []byte {
	for i, b := range pattern {
		switch b {
		case '*', '?', '[', '\\':
			return pattern[:i]
		}
	}
	return pattern
}

// The cursor table's bounds. A scan makes a cursor a page and goes on with
// the newest, so the table keeps apart the cursors no call has gone on
// from yet, one a scan under way (live), and those one has (used): a scan
// paused for however long, while others run millions of pages, keeps its
// cursor until maxLiveCursors newer scans have started or maxCursorBytes
// of newer keys are held (its own key at most 64 KiB); a client that
// asks for a page again, its reply lost, finds its cursor among the
// maxUsedCursors used last.
const (
	maxLiveCursors = 1 << 16
	maxUsedCursors = 4096
	maxCursorBytes = 64 << 20
)

// cursorTable maps SCAN cursors to the last key returned. Numbers are
// random, so a client cannot guess another's cursor.
type cursorTable struct {
	// mu guards live and used.
	mu         sync.Mutex
	live, used cursorSet
}

// put keeps key under a new cursor, and returns it.
func (t *cursorTable) put(key string) uint64 {
	var b [8]byte
	rand.Read(b[:])
	id := binary.LittleEndian.Uint64(b[:])>>1 | 1 // non-zero, fits an int64
	t.mu.Lock()
	defer t.mu.Unlock()
	t.live.add(id, key, maxLiveCursors)
	return id
}

// get returns the key of cursor id.
func (t *cursorTable) get(id uint64) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if k, ok := t.live.m[id]; ok {
		return k, true
	}
	k, ok := t.used.m[id]
	return k, ok
}

// retire moves cursor id, which a scan has gone on from, among the used.
func (t *cursorTable) retire(id uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if k, ok := t.live.m[id]; ok {
		t.live.remove(id)
		t.used.add(id, k, maxUsedCursors)
	}
}

// cursorSet is cursors and their keys, with the order they came in, to
// forget the oldest first.
type cursorSet struct {
	m     map[uint64]string
	order []uint64 // ids in the order added; some removed since
	bytes int      // the keys' bytes
}

// add keeps key under id, and forgets the oldest cursors past max of them
// or maxCursorBytes of keys.
func (s *cursorSet) add(id uint64, key string, max int) {
	if s.m == nil {
		s.m = map[uint64]string{}
	}
	s.m[id] = key
	s.bytes += len(key)
	s.order = append(s.order, id)
	for len(s.m) > max || s.bytes > maxCursorBytes {
		s.remove(s.order[0])
		s.order = s.order[1:]
	}
	if len(s.order) > 2*len(s.m)+64 {
		// Drop the ids removed since, so that order stays within twice
		// the cursors kept.
		s.order = slices.DeleteFunc(slices.Clone(s.order), func(id uint64) bool {
			_, ok := s.m[id]
			return !ok
		})
	}
}

// remove forgets cursor id; its place in order goes with the next pass.
func (s *cursorSet) remove(id uint64) {
	if k, ok := s.m[id]; ok {
		s.bytes -= len(k)
		delete(s.m, id)
	}
}
