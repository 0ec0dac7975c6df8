package server

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/redcon"
)

// client is one connection. Its goroutine reads requests and runs them;
// a subscription's goroutine may also write to it, under wmu.
type client struct {
	s  *Server
	nc net.Conn
	rd *reqReader
	id int64

	// wmu guards out, counts and the connection's writes.
	wmu    sync.Mutex
	out    []byte      // replies not yet written to nc
	counts connMetrics // commands not yet counted in the server's metrics

	// state guards busy and name, which Shutdown and CLIENT read.
	state struct {
		sync.Mutex
		busy   bool // running commands, as opposed to waiting for a request
		closed bool // the connection has been closed
		name   string
	}

	// readBy and writeBy are the deadlines last set on nc (zero: none).
	// A deadline is moved only once it has come a sixteenth of the idle
	// timeout closer, which spares a pipelining client a timer update per
	// request. readBy is guarded by state, writeBy by wmu.
	readBy, writeBy time.Time

	// clock is when the pipeline being run started, and lastNow when its
	// previous command ended (which is when the next starts), as the time
	// since clock: one reading of the monotonic clock per command, which
	// time.Since makes without reading the wall clock too.
	clock   time.Time
	lastNow time.Duration

	// appendBulk is c.bulkView, made once so that passing it to the
	// store's View does not allocate a closure per GET.
	appendBulk func(value []byte) error

	loop   *eventLoop // serves it, if not nil; else its own goroutine does
	run    writeRun   // plain writes read but not yet applied
	stale  bool       // READONLY: reads may be served from a lagging copy
	authed bool
	quit   bool
	sub    *subscription // non-nil in subscribed mode
}

func newClient(s *Server, nc net.Conn) *client {
	c := &client{s: s, nc: nc, id: s.nextID.Add(1), counts: newConnMetrics()}
	c.authed = s.opts.Password == ""
	// The guard keeps the server's limits; a client that has not
	// authenticated is held to its own by the reader, which knows what
	// the requests before a refused one are (liftLimits).
	g := &guardConn{Conn: nc, opts: &s.opts}
	c.rd = newReqReader(g)
	if !c.authed {
		g.soft = &s.unauthed
		c.rd.limits, c.rd.lift = &s.unauthed, c.liftLimits
	}
	c.appendBulk = c.bulkView
	return c
}

// limits returns the framing limits of the client's requests: the
// server's, or, until it authenticates, those of Server.unauthed.
func (c *client) limits() *Options {
	if c.authed {
		return &c.s.opts
	}
	return &c.s.unauthed
}

// authenticate marks the client authenticated, and lifts the limits its
// requests are read with to the server's: checked by the reader in the
// event loop, by the guard alone in a goroutine of its own.
func (c *client) authenticate() {
	c.authed = true
	c.rd.lift = nil
	if g, ok := c.rd.rd.(*guardConn); ok {
		g.soft = nil
	}
	if c.loop != nil {
		c.rd.limits = &c.s.opts
	} else {
		c.rd.limits = nil
	}
}

// liftLimits returns the server's limits if one of cmds, requests read
// and not yet run, is an AUTH or HELLO … AUTH that will authenticate the
// client when it runs (the right password, for the default user, in a
// command that reaches its check); else nil.
func (c *client) liftLimits(cmds []redcon.Command) *Options {
	if c.authed {
		return nil
	}
	for _, cmd := range cmds {
		if c.willAuthenticate(cmd.Args) {
			return &c.s.opts
		}
	}
	return nil
}

// willAuthenticate reports whether args, an AUTH or a HELLO, will log the
// client in when it runs, as auth and hello check them.
func (c *client) willAuthenticate(args [][]byte) bool {
	if len(args) == 0 {
		return false
	}
	logs := func(user, pass []byte) bool {
		return string(user) == "default" && c.s.checkPassword(pass)
	}
	switch strings.ToUpper(string(args[0])) {
	case "AUTH":
		switch len(args) {
		case 2:
			return logs([]byte("default"), args[1])
		case 3:
			return logs(args[1], args[2])
		}
	case "HELLO":
		if len(args) < 2 {
			return false
		}
		if v, ok := parseInt(args[1]); !ok || v != 2 {
			return false
		}
		for i := 2; i < len(args); i++ {
			switch strings.ToUpper(string(args[i])) {
			case "AUTH":
				return i+2 < len(args) && logs(args[i+1], args[i+2])
			case "SETNAME":
				i++
			default:
				return false
			}
		}
	}
	return false
}

// serve runs the connection until the client leaves, breaks the protocol,
// or the server shuts down.
func (c *client) serve() {
	defer c.close()
	for !c.quit {
		if !c.setBusy(false) {
			return
		}
		cmds, err := c.rd.read()
		c.setBusy(true)
		if err != nil {
			c.readFailed(err)
			return
		}
		c.wmu.Lock()
		err = c.runPipeline(cmds)
		c.wmu.Unlock()
		if err != nil {
			return
		}
	}
}

// runPipeline runs the requests read together, writes their replies and
// reports a failure to write them. The caller holds wmu.
func (c *client) runPipeline(cmds []redcon.Command) error {
	ran := int64(0)
	c.clock, c.lastNow = time.Now(), 0
	defer func() { c.s.commands.Add(ran) }()
	for _, req := range cmds {
		if c.quit {
			break
		}
		if len(req.Args) == 0 {
			continue
		}
		ran++
		cmd := lookupCommand(req.Args[0])
		if c.queueWrite(cmd, req.Args) {
			continue
		}
		c.applyRun()
		c.dispatchCmd(cmd, req.Args)
		if len(c.out) >= flushAt {
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
	c.applyRun()
	return c.flush()
}

// flush counts the commands run so far in the server's metrics and writes
// the buffered replies. A client that does not read them within the idle
// timeout is given up on. The caller holds wmu.
func (c *client) flush() error {
	c.counts.flushTo(c.s.metrics)
	if len(c.out) == 0 {
		return nil
	}
	if t := c.s.opts.IdleTimeout; t > 0 {
		if by := time.Now().Add(t); by.Sub(c.writeBy) > t/16 {
			// Setting a deadline fails only on a closed connection, which the next read or write reports.
			_ = c.nc.SetWriteDeadline(by)
			c.writeBy = by
			if c.s.closing.Load() {
				// Shutdown may have set its own deadline (see
				// limitWrites) just before this one replaced it.
				c.limitWrites()
			}
		}
	}
	_, err := c.nc.Write(c.out)
	if cap(c.out) > maxKeptOut {
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
	return err
}

// maxKeptOut is the largest reply buffer a connection keeps between
// requests; a larger one, grown for a large reply, is released.
const maxKeptOut = 64 << 10

// setBusy records whether the client is running commands. Going idle, it
// sets the read deadline, and it reports false when the server is shutting
// down and the client should stop. The state lock orders this with
// stopIfIdle.
func (c *client) setBusy(busy bool) bool {
	c.state.Lock()
	defer c.state.Unlock()
	c.state.busy = busy
	if busy {
		return true
	}
	if c.s.isClosing() {
		return false
	}
	// Setting a deadline fails only on a closed connection, which the next read or write reports.
	if t := c.s.opts.IdleTimeout; t > 0 && c.sub == nil {
		if by := time.Now().Add(t); by.Sub(c.readBy) > t/16 {
			_ = c.nc.SetReadDeadline(by)
			c.readBy = by
		}
	} else if !c.readBy.IsZero() {
		_ = c.nc.SetReadDeadline(time.Time{})
		c.readBy = time.Time{}
	}
	return true
}

// limitWrites gives the client until the server's shutdown write deadline
// (Server.shutdownBy) to take its replies, if the shutdown has one. It
// sets the deadline without wmu, which a write blocked on the client
// holds; writeBy is left as it is, so that the next flush sets its own
// again, and calls this once more, as the server is closing.
func (c *client) limitWrites() {
	if by := c.s.shutdownBy.Load(); by != 0 {
		// Fails only on a closed connection, which has nothing left to write.
		_ = c.nc.SetWriteDeadline(time.Unix(0, by))
	}
}

// stopIfIdle ends the wait for a request of a client that is idle, by
// moving its read deadline to now: a read that has already returned a
// request is not lost, and the client stops after answering it. A busy
// client stops after sending its replies. Shutdown calls it.
func (c *client) stopIfIdle() {
	if c.loop != nil {
		c.loop.stopIfIdle()
		return
	}
	c.state.Lock()
	defer c.state.Unlock()
	if !c.state.busy {
		// Fails only on a closed connection, whose read has already ended.
		c.readBy = time.Now()
		_ = c.nc.SetReadDeadline(c.readBy)
	}
}

// readFailed answers a protocol error, which closes only this connection,
// and logs nothing for a client that merely went away.
func (c *client) readFailed(err error) {
	msg := limitMessage(err)
	if msg == "" {
		var ne net.Error
		if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && (!errors.As(err, &ne) || !ne.Timeout()) {
			c.s.opts.Logger.Debug("connection read failed", "remote", c.nc.RemoteAddr().String(), "err", err)
		}
		return
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	// The error reply is a courtesy: the connection is closed after it
	// either way, so a failure to send it changes nothing.
	c.writeBy = time.Now().Add(time.Second)
	_ = c.nc.SetWriteDeadline(c.writeBy)
	c.err(msg)
	_ = c.flush()
}

// close closes the connection first, so that a forwarder blocked writing
// to it stops at once.
func (c *client) close() {
	_ = c.nc.Close() // the client is done; there is no one to tell
	if c.sub != nil {
		c.sub.stop()
	}
}

// Replies. They are written under wmu, which dispatch's caller holds.

func (c *client) ok()                     { c.out = redcon.AppendOK(c.out) }
func (c *client) err(msg string)          { c.out = redcon.AppendError(c.out, msg) }
func (c *client) bulk(b []byte)           { c.out = redcon.AppendBulk(c.out, b) }
func (c *client) bulkView(b []byte) error { c.bulk(b); return nil }
func (c *client) bulkString(s string)     { c.out = redcon.AppendBulkString(c.out, s) }
func (c *client) integer(n int64)         { c.out = redcon.AppendInt(c.out, n) }
func (c *client) null()                   { c.out = redcon.AppendNull(c.out) }
func (c *client) array(n int)             { c.out = redcon.AppendArray(c.out, n) }
func (c *client) simple(s string)         { c.out = redcon.AppendString(c.out, s) }
func (c *client) syntaxError()            { c.err("ERR syntax error") }
func (c *client) notInteger()             { c.err("ERR value is not an integer or out of range") }
func (c *client) wrongArgs(name string) {
	c.err("ERR wrong number of arguments for '" + strings.ToLower(name) + "' command")
}
