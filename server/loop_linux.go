package server

import (
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/tidwall/redcon"
	"golang.org/x/sys/unix"
)

// eventLoop serves the connections of plain TCP listeners from one
// goroutine, as Redis does: it waits for requests on all of them at once
// with epoll(7), reads each ready socket once, runs the requests that
// cannot block (reads, and the writes of a store that does not sync)
// right there, and writes the replies back. That spares each request the
// costs of a goroutine per connection under Go's poller, which on a busy
// machine were most of a small request's time: a wake-up of the
// goroutine, and a read that finds nothing before it parks again.
//
// A pipeline that may wait (a synced write, whose reply waits for the disk;
// KEYS; a reply too large for the socket) is handed off: the connection
// leaves the epoll set, a goroutine runs the rest of the pipeline with the
// same code as a connection served by a goroutine of its own, and then
// gives the connection back to the loop. So no client, however slow,
// holds up the others.
//
// Locks: the loop goroutine alone touches conns, the epoll set, pending,
// replying and the fields of a client it watches, except those under the
// client's own locks (wmu, state). mu guards back, failed and closed only
// (and wake's write to wakefd, so that it never follows the close), and is
// a leaf: no lock is taken while it is held (add holds it across
// newFdConn, which takes none). Each fdConn's mu is a leaf too, taken
// under a client's wmu when the loop writes. The loop takes a client's
// wmu with TryLock, never waiting for it, except in settle: there it
// takes the wmu of each client whose write run waited for the turn's
// sync, while it may hold another client's wmu and the key stripes of
// the waiting runs (from startRun until settle). That is safe because a
// waiting client's wmu is held by no one else: only a subscription's
// forwarder takes a client's wmu beside the loop, and a subscribed client
// queues no writes.
type eventLoop struct {
	s      *Server
	epfd   int
	wakefd int // an eventfd: back has clients, or the server is stopping
	conns  map[int64]*loopConn

	// sync is the store, when the loop applies write runs itself and
	// syncs once for all the clients served in one turn (see settle);
	// nil when the store does not sync, or is not the engine.
	sync *dbStore
	// pending are the clients whose write run waits for the turn's sync.
	pending []*loopConn
	// replying are the clients whose replies are written at the end of the
	// turn (see flushReplies).
	replying []*loopConn

	mu   sync.Mutex
	back []backConn // clients returning to the loop, new ones included
	// failed is set when epoll_wait has failed and the loop is closing its
	// clients to end: it takes no new ones, which are served by
	// goroutines of their own instead (see add).
	failed bool
	// closed is set as the loop ends, before it closes epfd and wakefd:
	// wake writes to wakefd only before, so never to a number the
	// process has since given to another file.
	closed bool
}

// loopConn is a client as the loop sees it.
type loopConn struct {
	c    *client
	fc   *fdConn
	away bool      // a goroutine has it: not in the epoll set
	idle time.Time // when it last finished a pipeline (or connected)

	replies bool // in eventLoop.replying

	// A write run appended and waiting for the turn's sync: its commit,
	// or the error that kept it from being appended (see startRun).
	waiting bool
	commit  dbCommit
	runErr  error

	// broken is the protocol error of the request after the pipeline a
	// goroutine was handed: it answers it, and the client is dropped.
	broken error
}

// backConn is a client for the loop to watch (again), or to drop.
type backConn struct {
	lc   *loopConn
	drop bool
}

// loopFor returns the server's event loop, starting it on first use; nil
// if it cannot be started, and the listener is then served with a
// goroutine per connection. A loop that has failed stays the server's
// loop, refusing every client (see add), so that the server serves
// goroutine per connection from then on.
func (s *Server) loopFor(ln net.Listener) *eventLoop {
	if _, ok := ln.(*net.TCPListener); !ok || s.opts.noEventLoop {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.loop != nil || s.mu.closing {
		return s.mu.loop
	}
	l, err := newEventLoop(s)
	if err != nil {
		s.opts.Logger.Warn("serving a goroutine per connection: no event loop", "err", err)
		return nil
	}
	s.mu.loop = l
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		l.run()
	}()
	return l
}

func newEventLoop(s *Server) (*eventLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: -1, Pad: -1}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(wakefd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	l := &eventLoop{s: s, epfd: epfd, wakefd: wakefd, conns: map[int64]*loopConn{}}
	if st, ok := s.db.(*dbStore); ok && !s.opts.NoSync {
		l.sync = st
	}
	return l, nil
}

// add hands the loop a new connection: it takes nc's socket out of Go's
// poller. The caller has counted it in Server.wg and Server.mu.conns; on
// an error it serves nc with a goroutine instead.
//
// The check that the loop has not failed and the queueing are one step
// under mu, so that a client is either refused, untouched, or queued
// before the failed loop drains its queue (see stopAll).
func (l *eventLoop) add(c *client) error {
	l.mu.Lock()
	if l.failed {
		l.mu.Unlock()
		return errLoopFailed
	}
	fc, err := newFdConn(c.nc)
	if err != nil {
		l.mu.Unlock()
		return err
	}
	c.nc = fc
	// The client's reader, unused so far, reads the descriptor now, and
	// checks the limits as it parses instead of a guardConn.
	c.rd.rd = fc
	c.rd.limits = c.limits()
	c.loop = l
	l.back = append(l.back, backConn{&loopConn{c: c, fc: fc, idle: time.Now()}, false})
	l.mu.Unlock()
	l.wake()
	return nil
}

// errLoopFailed refuses a new client to a loop whose epoll_wait failed.
var errLoopFailed = errors.New("server: the event loop has stopped")

// giveBack queues lc for the loop to watch, or to drop, and wakes it.
func (l *eventLoop) giveBack(lc *loopConn, drop bool) {
	l.mu.Lock()
	l.back = append(l.back, backConn{lc, drop})
	l.mu.Unlock()
	l.wake()
}

// wake makes the loop look at back and at the server's state.
func (l *eventLoop) wake() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return // nothing to wake
	}
	one := [8]byte{1}
	_, _ = unix.Write(l.wakefd, one[:]) // fails only when the counter is already set, which wakes the loop too
}

// key is the epoll data of a client: its id, which unlike its descriptor
// number is never reused.
func eventKey(id int64) (int32, int32) { return int32(uint32(id)), int32(uint32(id >> 32)) }

func keyOf(ev *unix.EpollEvent) int64 { return int64(uint32(ev.Fd)) | int64(ev.Pad)<<32 }

func (l *eventLoop) watch(lc *loopConn) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP}
	ev.Fd, ev.Pad = eventKey(lc.c.id)
	fd, ok := lc.fc.acquire()
	if !ok {
		return net.ErrClosed
	}
	defer lc.fc.release()
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

func (l *eventLoop) unwatch(lc *loopConn) {
	fd, ok := lc.fc.acquire()
	if !ok {
		// Closed, not freed: the descriptor is still this socket's, and
		// only free closes it.
		lc.fc.mu.Lock()
		fd = lc.fc.fd
		lc.fc.mu.Unlock()
	} else {
		defer lc.fc.release()
	}
	if fd >= 0 {
		_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fd, nil) // not watched is what was wanted
	}
}

// run is the loop. It returns once the server is shutting down and every
// connection has been dropped.
func (l *eventLoop) run() {
	defer func() {
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		_ = unix.Close(l.epfd)
		_ = unix.Close(l.wakefd)
	}()
	events := make([]unix.EpollEvent, 128)
	lastSweep := time.Now()
	lastYield := lastSweep
	for {
		n, err := unix.EpollWait(l.epfd, events, l.sweepEvery())
		if err != nil && err != unix.EINTR {
			l.s.opts.Logger.Error("event loop: epoll_wait failed; closing its connections and serving new ones with a goroutine each", "err", err)
			l.mu.Lock()
			l.failed = true
			l.mu.Unlock()
			l.stopAll()
			return
		}
		for i := range max(n, 0) {
			ev := &events[i]
			if ev.Fd == -1 && ev.Pad == -1 {
				var buf [8]byte
				_, _ = unix.Read(l.wakefd, buf[:]) // resets the counter; EAGAIN if another read did
				continue
			}
			if lc := l.conns[keyOf(ev)]; lc != nil && !lc.away {
				l.serve(lc)
			}
		}
		l.settle()
		l.flushReplies()
		l.takeBack()
		now := time.Now()
		if now.Sub(lastSweep) >= time.Duration(l.sweepEvery())*time.Millisecond {
			l.sweep(now)
			lastSweep = now
		}
		if now.Sub(lastYield) >= yieldEvery {
			runtime.Gosched()
			lastYield = now
		}
		if l.s.isClosing() {
			l.stopIdle()
			l.mu.Lock()
			done := len(l.conns) == 0 && len(l.back) == 0
			l.mu.Unlock()
			if done {
				return
			}
		}
	}
}

// yieldEvery is how often the loop gives the Go scheduler a turn
// (runtime.Gosched) while it is busy.
//
// A goroutine that runs for 10 ms without a scheduling point is preempted
// by the runtime's monitor thread, sysmon. The loop spends most of its
// time in system calls (epoll_wait, read, write), and a preemption that
// finds it in one takes its P away instead; each time sysmon takes a P,
// it goes back to checking every 20 µs, waking thousands of times a
// second. A busy loop kept sysmon at that pace: 2,000 sleeps and 5,600
// context switches for a million pipelined SETs. Yielding more often than
// every 10 ms keeps the loop's turn its own, and sysmon asleep: 220 sleeps,
// 3,500 switches, and the server's CPU time per SET 12% lower. A yield
// costs a few microseconds (the goroutine may resume on another thread),
// which is why it is not done every turn.
const yieldEvery = 5 * time.Millisecond

// sweepEvery is how often, in milliseconds, the loop looks for clients
// past the idle timeout: a sixteenth of it, at most a second.
func (l *eventLoop) sweepEvery() int {
	t := l.s.opts.IdleTimeout
	if t <= 0 {
		return 1000
	}
	return int(min(max(t/16, time.Millisecond), time.Second) / time.Millisecond)
}

// takeBack watches the clients given back, and drops the ones to drop.
func (l *eventLoop) takeBack() {
	l.mu.Lock()
	back := l.back
	l.back = nil
	l.mu.Unlock()
	for _, b := range back {
		lc := b.lc
		l.conns[lc.c.id] = lc
		lc.away = false
		lc.idle = time.Now()
		if b.drop || lc.c.quit || l.s.isClosing() {
			l.drop(lc)
			continue
		}
		if err := l.watch(lc); err != nil {
			l.drop(lc)
		}
	}
}

// sweep drops the clients that have been silent, or taken to send a
// request, for longer than the idle timeout. Subscribed clients are
// exempt.
func (l *eventLoop) sweep(now time.Time) {
	t := l.s.opts.IdleTimeout
	if t <= 0 {
		return
	}
	for _, lc := range l.conns {
		if !lc.away && lc.c.sub == nil && now.Sub(lc.idle) > t {
			l.drop(lc)
		}
	}
}

// stopIdle drops every client the loop holds: between pipelines, all of
// them are idle. The ones away finish their pipeline and are dropped when
// they come back.
func (l *eventLoop) stopIdle() {
	for _, lc := range l.conns {
		if !lc.away {
			l.drop(lc)
		}
	}
}

// stopAll closes every connection, for a loop that cannot go on: those it
// watches, those a goroutine has (which come back to be dropped), and
// those queued for it. The caller has set failed, so no new client is
// queued meanwhile.
func (l *eventLoop) stopAll() {
	l.settle()
	for _, lc := range l.conns {
		if lc.away {
			_ = lc.fc.Close()
		}
	}
	for {
		l.takeBack()
		l.stopIdle()
		l.mu.Lock()
		done := len(l.conns) == 0 && len(l.back) == 0
		l.mu.Unlock()
		if done {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// drop closes a client the loop holds, and forgets it.
func (l *eventLoop) drop(lc *loopConn) {
	l.unwatch(lc)
	delete(l.conns, lc.c.id)
	lc.c.close()
	lc.fc.free()
	l.s.forget(lc.c)
}

// serve reads lc's socket once and runs the requests that completes.
func (l *eventLoop) serve(lc *loopConn) {
	c := lc.c
	cmds, err := c.rd.feed(lc.read)
	if err != nil && err != unix.EAGAIN && limitMessage(err) != "" {
		lc.broken = err // answered by whoever runs cmds last
	}
	if len(cmds) > 0 {
		lc.idle = time.Now()
		if !l.runPipeline(lc, cmds) {
			return
		}
	}
	if err != nil && err != unix.EAGAIN && (lc.waiting || lc.replies) {
		// Its last requests are answered before it is dropped.
		l.settle()
		l.flushReplies()
		if lc.away || lc.c.quit {
			return
		}
	}
	if err == nil || err == unix.EAGAIN {
		return
	}
	if msg := limitMessage(err); msg != "" {
		// A request broke the protocol or a limit: the reply says so, as
		// far as the socket takes it now (the loop does not wait for a
		// client that may not read), and the connection is closed.
		if c.wmu.TryLock() { // else a forwarder is writing: no reply
			c.err(msg)
			_, _ = lc.fc.writeNow(c.out)
			c.out = c.out[:0]
			c.wmu.Unlock()
		}
	} else {
		c.readFailed(err) // logs what is more than a client leaving
	}
	l.drop(lc)
}

// read is the loop's read of a ready socket. The reader checks the
// request framing's limits itself (reqReader.limits).
func (lc *loopConn) read(p []byte) (int, error) { return lc.fc.readNow(p) }

// runPipeline runs the requests read together, for as long as they are
// ones the loop runs itself and their replies are small, and writes the
// replies; a run of plain writes to a store that syncs is appended and
// waits for the turn's sync (see settle). The rest, and replies the socket
// has no room for, are handed off. It reports whether the loop still has
// the client.
func (l *eventLoop) runPipeline(lc *loopConn, cmds []redcon.Command) bool {
	c := lc.c
	if !c.wmu.TryLock() {
		// A subscription's forwarder is writing to it, maybe to a client
		// that does not read: the loop does not wait for that.
		l.handOff(lc, cmds, false)
		return false
	}
	c.clock, c.lastNow = time.Now(), 0
	ran := int64(0)
	i := 0
	for ; i < len(cmds) && !c.quit; i++ {
		req := cmds[i]
		if len(req.Args) == 0 {
			continue
		}
		cmd := lookupCommand(req.Args[0])
		if cmd == nil || len(c.out) >= flushAt {
			break
		}
		if l.sync != nil && c.queue(cmd, req.Args, false) {
			ran++
			continue
		}
		if !l.s.inline[cmd.idx] || (l.sync != nil && len(c.run.cmds) > 0) {
			// A synced run is durable before the next command runs: the
			// goroutine applies it and goes on from there.
			break
		}
		if c.queueWrite(cmd, req.Args) {
			ran++
			continue
		}
		if len(l.pending) > 0 && (cmd == mgetCommand || cmd == getrangeCommand) {
			// They wait for key stripes, which the waiting runs hold.
			l.settle()
		}
		ran++
		c.applyRun()
		c.dispatchCmd(cmd, req.Args)
	}
	c.s.commands.Add(ran)
	if i < len(cmds) && !c.quit {
		l.handOff(lc, cmds[i:], true)
		return false
	}
	if l.sync != nil && len(c.run.cmds) > 0 {
		l.startRun(lc)
		c.wmu.Unlock()
		return true
	}
	c.applyRun()
	if c.quit {
		return l.flush(lc)
	}
	l.reply(lc)
	return true
}

// reply leaves the client's replies to be written at the end of the turn,
// with the others': a client that is itself an event loop (a benchmark,
// a proxy) then finds them together, in one wake-up. The caller holds
// c.wmu, which reply releases.
func (l *eventLoop) reply(lc *loopConn) {
	lc.c.wmu.Unlock()
	if !lc.replies {
		lc.replies = true
		l.replying = append(l.replying, lc)
	}
}

// flushReplies writes the replies left by reply.
func (l *eventLoop) flushReplies() {
	replying := l.replying
	l.replying = nil
	for _, lc := range replying {
		lc.replies = false
		if !lc.c.wmu.TryLock() {
			l.handOff(lc, nil, false) // as in runPipeline
			continue
		}
		l.flush(lc)
	}
	clear(replying)
	if l.replying == nil {
		l.replying = replying[:0]
	}
}

// flush writes the client's replies, as much as the socket takes; the
// rest is handed off. The caller holds c.wmu, which flush releases (or
// the goroutine handed the rest, once it has written it). It reports
// whether the loop still has the client.
func (l *eventLoop) flush(lc *loopConn) bool {
	c := lc.c
	c.counts.flushTo(c.s.metrics)
	n, err := lc.fc.writeNow(c.out)
	if err != nil {
		c.wmu.Unlock()
		l.drop(lc)
		return false
	}
	if n < len(c.out) {
		c.out = c.out[:copy(c.out, c.out[n:])]
		l.handOff(lc, nil, true)
		return false
	}
	if cap(c.out) > maxKeptOut {
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
	c.wmu.Unlock()
	if c.quit {
		l.drop(lc)
		return false
	}
	return true
}

// startRun appends the client's write run to the log as one batch, which
// waits for the turn's sync with the runs of the other clients (see
// settle), and keeps its key stripes until then. The caller holds c.wmu.
func (l *eventLoop) startRun(lc *loopConn) {
	c := lc.c
	c.markRun()
	if !c.s.keys.tryLockAll(&c.run.stripes) {
		// A waiting run holds one of them (or a goroutine does, briefly).
		l.settle()
		c.s.keys.lockAll(&c.run.stripes)
	}
	err := c.fillBatch()
	if err == nil && len(c.run.batch) > 0 {
		lc.commit, err = l.sync.writeAsync(c.run.batch)
	}
	lc.runErr = err
	lc.waiting = true
	l.pending = append(l.pending, lc)
}

// settle waits for the sync that makes the waiting runs durable (the
// first wait syncs them all), releases their stripes and writes their
// replies.
func (l *eventLoop) settle() {
	pending := l.pending
	l.pending = nil
	for _, lc := range pending {
		err := lc.runErr
		if err == nil {
			err = lc.commit.wait()
		}
		lc.commit, lc.runErr, lc.waiting = dbCommit{}, nil, false
		c := lc.c
		// Free: only a subscribed client's forwarder takes it beside the
		// loop, and a subscribed client queues no writes.
		c.wmu.Lock()
		mark := len(c.out)
		c.replyRun(err)
		c.observeRun(mark)
		c.clearRun()
		l.reply(lc)
	}
	clear(pending)
	if l.pending == nil {
		l.pending = pending[:0]
	}
}

// handOff runs cmds, then writes every reply buffered, on a goroutine, and
// gives lc back to the loop after. If locked, the caller holds c.wmu,
// which the goroutine releases; else the goroutine takes it first.
func (l *eventLoop) handOff(lc *loopConn, cmds []redcon.Command, locked bool) {
	l.unwatch(lc)
	lc.away = true
	go func() {
		c := lc.c
		if !locked {
			c.wmu.Lock()
		}
		err := c.runPipeline(cmds)
		c.wmu.Unlock()
		if lc.broken != nil && err == nil && !c.quit {
			c.readFailed(lc.broken)
			err = lc.broken
		}
		l.giveBack(lc, err != nil)
	}()
}

// stopIfIdle wakes the loop, which drops its idle clients once the
// server is closing.
func (l *eventLoop) stopIfIdle() { l.wake() }
