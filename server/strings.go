package server

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/crabkv/crabkv/kv"
)

// read returns how this connection reads: Stale after READONLY, and Fresh
// for a read a write depends on.
func (c *client) read(fresh bool) Read { return Read{Stale: c.stale, Fresh: fresh} }

// lookup reads key (fresh: for a write that depends on it); found is false for a key that is absent or that no
// store could hold (the empty key).
func (c *client) lookup(key []byte, fresh bool) (value []byte, found bool, err error) {
	v, err := c.s.db.Get(c.read(fresh), key)
	switch {
	case errors.Is(err, kv.ErrNotFound), errors.Is(err, kv.ErrEmptyKey):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	return v, true, nil
}

func (c *client) get(args [][]byte) {
	key := args[1]
	if c.s.viewer != nil {
		c.viewGet(key)
		return
	}
	v, found, err := c.lookup(key, false)
	switch {
	case err != nil:
		c.engineError(err)
	case !found:
		c.null()
	default:
		c.bulk(v)
	}
}

// viewGet is GET through the store's View: the value is appended to the
// reply where it lies, with no copy of its own.
func (c *client) viewGet(key []byte) {
	err := c.s.viewer.View(c.read(false), key, c.appendBulk)
	switch {
	case err == nil:
	case errors.Is(err, kv.ErrNotFound), errors.Is(err, kv.ErrEmptyKey):
		c.null()
	default:
		c.engineError(err)
	}
}

// setOptions are SET's flags.
type setOptions struct {
	nx, xx, get bool
	// ifeq, with hasIfeq, is IFEQ's comparison value (as Valkey's): the
	// write happens only if the key holds exactly that value.
	ifeq    []byte
	hasIfeq bool
	ttl     setTTL // see ttl.go
}

func parseSetOptions(args [][]byte) (setOptions, string) {
	var o setOptions
	for i := 0; i < len(args); i++ {
		switch opt := strings.ToUpper(string(args[i])); opt {
		case "NX":
			o.nx = true
		case "XX":
			o.xx = true
		case "GET":
			o.get = true
		case "IFEQ":
			if i+1 >= len(args) || o.hasIfeq {
				return o, "ERR syntax error"
			}
			i++
			o.ifeq, o.hasIfeq = args[i], true
		case "EX", "PX", "EXAT", "PXAT", "KEEPTTL":
			n, msg := o.ttl.parse(opt, args[i+1:])
			if msg != "" {
				return o, msg
			}
			i += n
		default:
			return o, "ERR syntax error"
		}
	}
	if (o.nx && o.xx) || (o.hasIfeq && (o.nx || o.xx)) {
		return o, "ERR syntax error"
	}
	return o, ""
}

// set is SET key value [NX|XX|IFEQ comparison-value] [GET] [expiry]. The
// conditions are checked and the value written under the key's stripe
// held exclusively, so no other command of the server writes the key in
// between.
func (c *client) set(args [][]byte) {
	o, msg := parseSetOptions(args[3:])
	if msg != "" {
		c.err(msg)
		return
	}
	key, value := args[1], args[2]
	var old []byte
	found := false
	if !o.nx && !o.xx && !o.hasIfeq && !o.get && !o.ttl.keep {
		defer c.s.keys.share(key)()
	} else {
		defer c.s.keys.lock(key)()
		var err error
		if old, found, err = c.lookup(key, true); err != nil {
			c.engineError(err)
			return
		}
	}
	if (o.nx && found) || (o.xx && !found) || (o.hasIfeq && (!found || !bytes.Equal(old, o.ifeq))) {
		c.setReply(o, old, found, false)
		return
	}
	if err := c.putTTL(o.ttl, key, value); err != nil {
		c.engineError(err)
		return
	}
	c.setReply(o, old, found, true)
}

func (c *client) setReply(o setOptions, old []byte, found, written bool) {
	switch {
	case o.get && found:
		c.bulk(old)
	case o.get, !written:
		c.null()
	default:
		c.ok()
	}
}

func (c *client) getdel(args [][]byte) {
	key := args[1]
	defer c.s.keys.lock(key)()
	v, found, err := c.lookup(key, true)
	if err == nil && found {
		err = c.s.db.Delete(key)
	}
	switch {
	case err != nil:
		c.engineError(err)
	case !found:
		c.null()
	default:
		c.bulk(v)
	}
}

// del is DEL and UNLINK: it counts the keys that were there. Several keys
// are deleted as one batch, all or nothing, under their stripes held
// exclusively (as a write run deletes them), so no other command of the
// server sees some of them gone and not the others.
func (c *client) del(args [][]byte) {
	if len(args) == 2 {
		// One key alone writes a plain record, not a batch.
		deleted, err := c.delete(args[1])
		switch {
		case err != nil:
			c.engineError(err)
		case deleted:
			c.integer(1)
		default:
			c.integer(0)
		}
		return
	}
	c.runAlone(runDel, args)
}

// runAlone applies the write request args, of the given kind, as a run of
// its own: one batch, whatever its size.
func (c *client) runAlone(kind runKind, args [][]byte) {
	c.run.cmds = append(c.run.cmds[:0], runCmd{kind: kind, cmd: lookupCommand(args[0]), args: args})
	c.applyBatch()
	clear(c.run.cmds)
	c.run.cmds = c.run.cmds[:0]
}

func (c *client) delete(key []byte) (bool, error) {
	if len(key) == 0 || len(key) > kv.DefaultMaxKeySize {
		return false, nil
	}
	defer c.s.keys.lock(key)()
	_, err := c.s.db.ValueSize(c.read(true), key)
	if errors.Is(err, kv.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, c.s.db.Delete(key)
}

func (c *client) exists(args [][]byte) {
	var n int64
	for _, key := range args[1:] {
		if len(key) == 0 {
			continue
		}
		_, err := c.s.db.ValueSize(c.read(false), key)
		switch {
		case err == nil:
			n++
		case !errors.Is(err, kv.ErrNotFound):
			c.engineError(err)
			return
		}
	}
	c.integer(n)
}

// mget holds its keys' stripes shared, which MSET holds exclusively, so it
// sees all of an MSET or none of it.
func (c *client) mget(args [][]byte) {
	if len(args) > 2 {
		var m stripeModes
		for _, k := range args[1:] {
			m[c.s.keys.index(k)] = 1
		}
		c.s.keys.lockAll(&m)
		defer c.s.keys.unlockAll(&m)
	}
	values := make([][]byte, len(args)-1)
	found := make([]bool, len(args)-1)
	total := 0
	for i, key := range args[1:] {
		v, ok, err := c.lookup(key, false)
		if err != nil {
			c.engineError(err)
			return
		}
		if total += len(v); total > c.s.opts.MaxReplyBytes {
			c.err(fmt.Sprintf("ERR MGET reply too large: over %d bytes; ask for fewer keys", c.s.opts.MaxReplyBytes))
			return
		}
		values[i], found[i] = v, ok
	}
	c.array(len(values))
	for i, v := range values {
		if found[i] {
			c.bulk(v)
		} else {
			c.null()
		}
	}
}

// mset is MSET alone, when it is too large to share a batch with the
// writes around it: still one batch, so all or nothing. It checks every key
// and value first, so a bad argument gets its own error and writes nothing.
func (c *client) mset(args [][]byte) {
	if len(args)%2 != 1 {
		c.wrongArgs("mset")
		return
	}
	for i := 1; i < len(args); i += 2 {
		if msg := checkPair(args[i], args[i+1]); msg != "" {
			c.err(msg)
			return
		}
	}
	c.runAlone(runMSet, args)
}

// msetnx is MSETNX: if none of its keys exists, it writes every pair as
// one batch and replies 1; otherwise it writes nothing and replies 0. It
// holds its keys' stripes exclusively from the first read to the write, so
// no write of this server's clients to one of the keys comes in between:
// of clients racing to MSETNX the same key, one wins.
func (c *client) msetnx(args [][]byte) {
	if len(args)%2 != 1 {
		c.wrongArgs("msetnx")
		return
	}
	var m stripeModes
	for i := 1; i < len(args); i += 2 {
		if msg := checkPair(args[i], args[i+1]); msg != "" {
			c.err(msg)
			return
		}
		m[c.s.keys.index(args[i])] = 2
	}
	c.s.keys.lockAll(&m)
	defer c.s.keys.unlockAll(&m)
	ops := make([]Op, 0, len(args)/2)
	for i := 1; i < len(args); i += 2 {
		_, err := c.s.db.ValueSize(c.read(true), args[i])
		switch {
		case err == nil:
			c.integer(0)
			return
		case !errors.Is(err, kv.ErrNotFound):
			c.engineError(err)
			return
		}
		ops = append(ops, Op{Key: args[i], Value: args[i+1]})
	}
	if err := c.s.db.Write(ops); err != nil {
		c.engineError(err)
		return
	}
	c.integer(1)
}

// checkPair returns the error a Put of key and value would give, as a
// reply, or "".
func checkPair(key, value []byte) string {
	switch {
	case len(key) == 0:
		return "ERR empty keys are not supported"
	case len(key) > kv.DefaultMaxKeySize:
		return "ERR key too large"
	case len(value) > kv.DefaultMaxValueSize:
		return "ERR value too large"
	}
	return ""
}

func (c *client) strlen(args [][]byte) {
	if len(args[1]) == 0 {
		c.integer(0)
		return
	}
	size, err := c.s.db.ValueSize(c.read(false), args[1])
	switch {
	case errors.Is(err, kv.ErrNotFound):
		c.integer(0)
	case err != nil:
		c.engineError(err)
	default:
		c.integer(int64(size))
	}
}

// flushChunk is how many keys FLUSHDB deletes in one batch.
const flushChunk = 1000

func (c *client) flushdb(args [][]byte) {
	if len(args) > 2 || (len(args) == 2 && !strings.EqualFold(string(args[1]), "sync") && !strings.EqualFold(string(args[1]), "async")) {
		c.syntaxError()
		return
	}
	if !c.s.opts.AllowFlush {
		c.err("ERR FLUSHDB is disabled; start the server with --allow-flush to allow it")
		return
	}
	all, err := c.s.db.Keys(c.read(true), nil)
	if e, ok := asError(err); ok {
		c.engineError(e)
		return
	}
	// A chunk at a time, each one batch under its keys' stripes, as DEL
	// of several keys: one write (and, synced, one sync) per chunk, not
	// per key. A failure stops it with the chunks before it deleted.
	del := make([][]byte, 0, 1+flushChunk)
	for len(all) > 0 {
		chunk := all[:min(flushChunk, len(all))]
		all = all[len(chunk):]
		del = append(del[:0], []byte("DEL"))
		for _, k := range chunk {
			del = append(del, []byte(k))
		}
		c.run.cmds = append(c.run.cmds[:0], runCmd{kind: runDel, cmd: delCommand, args: del})
		err := c.writeRun()
		c.releaseRun()
		clear(c.run.cmds)
		c.run.cmds = c.run.cmds[:0]
		if err != nil {
			c.engineError(err)
			return
		}
	}
	c.ok()
}
