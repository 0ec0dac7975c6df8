package server

import (
	"errors"
	"io"

	"github.com/crabkv/crabkv/kv"
)

// getrange is GETRANGE key start end, with Redis's semantics: negative
// indexes count from the end, the range is clamped to the value, and a
// range that selects nothing (or a missing key) gives the empty string.
//
// It reads only the bytes asked for, with kv.DB.ReadValueAt, so a small
// slice of a large value costs the slice, not the value. The value's size
// comes first, then its bytes; the key's stripe is held exclusively in
// between, so that no write of this server changes the value between the
// two reads.
func (c *client) getrange(args [][]byte) {
	start, ok1 := parseInt(args[2])
	end, ok2 := parseInt(args[3])
	if !ok1 || !ok2 {
		c.notInteger()
		return
	}
	key := args[1]
	if len(key) == 0 || len(key) > kv.DefaultMaxKeySize || (start < 0 && end < 0 && start > end) {
		c.bulk(nil)
		return
	}
	defer c.s.keys.lock(key)()
	_, size, err := c.s.db.ReadValueAt(c.read(false), key, nil, 0)
	switch {
	case errors.Is(err, kv.ErrNotFound):
		c.bulk(nil)
		return
	case err != nil:
		c.engineError(err)
		return
	}
	n := int64(size)
	if start < 0 {
		start = max(n+start, 0)
	}
	if end < 0 {
		end = max(n+end, 0)
	}
	end = min(end, n-1)
	if n == 0 || start > end {
		c.bulk(nil)
		return
	}
	p := make([]byte, end-start+1)
	got, _, err := c.s.db.ReadValueAt(c.read(false), key, p, start)
	switch {
	case err != nil && !errors.Is(err, io.EOF):
		// ErrNotFound too: the stripe keeps this server's writers out,
		// so only a compaction's failure or a closed store can get here.
		c.engineError(err)
	default:
		c.bulk(p[:got])
	}
}
