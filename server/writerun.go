package server

import (
	"bytes"
	"errors"
	"slices"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// A write run is the plain writes that come one after another in a
// pipeline: SET key value without options, DEL, UNLINK and MSET. The
// client applies a run of several commands as one kv.Batch, so that they
// share one append and one sync instead of waiting for the disk once each,
// and only then writes their replies, in order. Nothing is acknowledged
// before it is durable (unless the store is NoSync), as with one command at
// a time.
//
// Any other command ends the run first: a read, or a write that looks
// before it writes (SET NX|XX|GET, GETDEL), sees every write before it in
// the pipeline, so a pipeline means what it would mean sent one command at
// a time. The batch holds each key's stripe of Server.keys for the whole
// run (shared for a put, exclusive for a delete, which looks first), so the
// run is as atomic among the server's clients as its commands are one by
// one.

// Bounds of one run, below kv.MaxBatchOps and kv.MaxBatchBytes: a larger
// pipeline is applied as several runs.
const (
	maxRunOps   = 4096
	maxRunBytes = 16 << 20
	// opOverhead bounds the bytes a batch adds to an operation's key and
	// value (its header and checksum).
	opOverhead = 64
)

type runKind uint8

const (
	runSet runKind = iota
	runDel
	runMSet
)

// runCmd is one queued command.
type runCmd struct {
	kind runKind
	cmd  *command
	args [][]byte
}

// runKey is a key written earlier in the run being applied, and whether
// it is there after that write: DEL counts from it, not from the store.
type runKey struct {
	key     []byte
	present bool
}

type writeRun struct {
	start time.Duration // when the first command was queued (see client.lastNow)
	cmds  []runCmd
	ops   int  // operations (key writes) queued
	bytes int  // their size, roughly
	batch []Op // the run's operations, for Store.Write
	seen  []runKey
	// stripes marks the key stripes the run takes (see keyLocks.lockAll).
	stripes stripeModes
	counts  []int64 // DEL's replies, one per command
}

// queueWrite queues args, a request for cmd, if it is a plain write that a
// run can carry, and reports whether it did. A command with an argument
// the engine would refuse is not queued, so that it gets its own error
// reply.
func (c *client) queueWrite(cmd *command, args [][]byte) bool { return c.queue(cmd, args, true) }

// queue is queueWrite. When the run has no room left for args, it applies
// the run first if apply is set, and otherwise queues nothing and returns
// false.
func (c *client) queue(cmd *command, args [][]byte, apply bool) bool {
	if cmd == nil || !c.authed || c.sub != nil || len(args) < 2 {
		return false
	}
	var kind runKind
	ops, size := 0, 0
	switch {
	case cmd == setCommand && len(args) == 3:
		if checkPair(args[1], args[2]) != "" {
			return false
		}
		kind, ops, size = runSet, 1, len(args[1])+len(args[2])
	case cmd == delCommand || cmd == unlinkCommand:
		kind, ops = runDel, len(args)-1
		for _, k := range args[1:] {
			size += len(k)
		}
	case cmd == msetCommand && len(args)%2 == 1:
		kind, ops = runMSet, (len(args)-1)/2
		for i := 1; i < len(args); i += 2 {
			if checkPair(args[i], args[i+1]) != "" {
				return false
			}
			size += len(args[i]) + len(args[i+1])
		}
	default:
		return false
	}
	size += ops * opOverhead
	r := &c.run
	if ops > maxRunOps || size > maxRunBytes {
		// Too large to share a batch: run on its own.
		return false
	}
	if r.ops+ops > maxRunOps || r.bytes+size > maxRunBytes {
		if !apply {
			return false
		}
		c.applyRun()
	}
	if len(r.cmds) == 0 {
		r.start = c.lastNow
	}
	r.cmds = append(r.cmds, runCmd{kind: kind, cmd: cmd, args: args})
	r.ops += ops
	r.bytes += size
	return true
}

// applyRun applies the queued run and writes its replies.
func (c *client) applyRun() {
	r := &c.run
	switch {
	case len(r.cmds) == 0:
		return
	case len(r.cmds) == 1 && r.cmds[0].kind != runMSet:
		// One SET or DEL alone writes a plain record, not a batch.
		c.dispatchCmd(r.cmds[0].cmd, r.cmds[0].args)
		c.clearRun()
	default:
		mark := len(c.out)
		c.applyBatch()
		c.observeRun(mark)
		c.clearRun()
	}
}

// applyBatch applies the run as one batch and writes its replies.
func (c *client) applyBatch() { c.replyRun(c.writeRun()) }

// writeRun takes the stripes of the run's keys and applies its batch. The
// stripes stay held until replyRun or releaseRun.
func (c *client) writeRun() error {
	c.lockRun()
	err := c.fillBatch()
	if err == nil && len(c.run.batch) > 0 {
		err = c.s.db.Write(c.run.batch)
	}
	return err
}

// lockRun takes the key stripes of the run's keys.
func (c *client) lockRun() {
	c.markRun()
	c.s.keys.lockAll(&c.run.stripes)
}

// markRun marks the stripes the run takes in run.stripes.
func (c *client) markRun() {
	r := &c.run
	for _, cmd := range r.cmds {
		switch cmd.kind {
		case runSet:
			r.mark(c.s, cmd.args[1], 1)
		case runDel:
			for _, k := range cmd.args[1:] {
				r.mark(c.s, k, 2)
			}
		case runMSet:
			// Exclusive, so that an MGET, which holds its keys' stripes
			// shared, sees all of an MSET or none of it.
			for i := 1; i < len(cmd.args); i += 2 {
				r.mark(c.s, cmd.args[i], 2)
			}
		}
	}
}

// replyRun releases the run's stripes once its batch is applied (or
// failed with err) and writes the replies of its commands.
func (c *client) replyRun(err error) {
	r := &c.run
	c.releaseRun()
	for i, cmd := range r.cmds {
		switch {
		case err != nil:
			c.engineError(err)
		case cmd.kind == runDel:
			c.integer(r.counts[i])
		default:
			c.ok()
		}
	}
}

// releaseRun releases the run's stripes and forgets its batch, once the
// batch is applied or has failed.
func (c *client) releaseRun() {
	r := &c.run
	c.s.keys.unlockAll(&r.stripes)
	r.stripes = [len(r.stripes)]uint8{}
	clear(r.seen)
	r.seen = r.seen[:0]
	clear(r.batch) // drop the references to the request's buffer
	r.batch = r.batch[:0]
}

// observeRun counts the run's commands in the metrics, their replies
// starting at c.out[mark:].
func (c *client) observeRun(mark int) {
	r := &c.run
	// Every command of the run failed, or none did.
	failed := len(c.out) > mark && c.out[mark] == '-'
	c.lastNow = time.Since(c.clock)
	d := c.lastNow - r.start
	for _, rc := range r.cmds {
		c.counts.observe(rc.cmd.idx, failed, d)
	}
}

// clearRun forgets the run's commands.
func (c *client) clearRun() {
	r := &c.run
	clear(r.cmds) // drop the references to the request's buffer
	r.cmds = r.cmds[:0]
	r.ops, r.bytes = 0, 0
}

// mark records that the run takes key's stripe in mode, the stronger mode
// winning.
func (r *writeRun) mark(s *Server, key []byte, mode uint8) {
	i := s.keys.index(key)
	r.stripes[i] = max(r.stripes[i], mode)
}

// fillBatch puts the run's operations in its batch, working out DEL's
// counts as it goes. The caller holds the run's stripes.
func (c *client) fillBatch() error {
	r := &c.run
	r.counts = slices.Grow(r.counts[:0], len(r.cmds))[:len(r.cmds)]
	clear(r.counts)
	for i, cmd := range r.cmds {
		switch cmd.kind {
		case runSet:
			r.batch = append(r.batch, Op{Key: cmd.args[1], Value: cmd.args[2]})
			r.seen = append(r.seen, runKey{cmd.args[1], true})
		case runMSet:
			for j := 1; j < len(cmd.args); j += 2 {
				r.batch = append(r.batch, Op{Key: cmd.args[j], Value: cmd.args[j+1]})
				r.seen = append(r.seen, runKey{cmd.args[j], true})
			}
		case runDel:
			for _, k := range cmd.args[1:] {
				there, err := c.presentInRun(k)
				if err != nil {
					return err
				}
				if there {
					r.batch = append(r.batch, Op{Key: k, Delete: true})
					r.seen = append(r.seen, runKey{k, false})
					r.counts[i]++
				}
			}
		}
	}
	return nil
}

// presentInRun reports whether key is there once the run's operations
// queued so far are applied.
func (c *client) presentInRun(key []byte) (bool, error) {
	if len(key) == 0 || len(key) > kv.DefaultMaxKeySize {
		return false, nil
	}
	seen := c.run.seen
	for i := len(seen) - 1; i >= 0; i-- {
		if bytes.Equal(seen[i].key, key) {
			return seen[i].present, nil
		}
	}
	_, err := c.s.db.ValueSize(c.read(true), key)
	switch {
	case errors.Is(err, kv.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}
