// Package server serves a CrabKv store over the Redis protocol (RESP2), so
// that redis-cli, redis-benchmark and Redis client libraries can use it.
//
// The protocol is read and written by github.com/tidwall/redcon; this
// package owns the connections, so that it can bound what a client may make
// it hold (see Options), require a password, and shut down gracefully:
// Shutdown stops accepting, lets every command already read finish and its
// reply go out, and then closes the connections.
//
// On Linux the connections of a plain TCP listener are served by one event
// loop, as Redis serves them (see eventLoop): it reads every ready socket,
// runs the commands that cannot block, appends the plain writes of all its
// clients and syncs once for them, and writes the replies at the end of its
// turn. A pipeline that may block is handed to a goroutine for as long as it
// runs. TLS connections, and every connection elsewhere, have a goroutine
// each.
//
// Keys and values are binary-safe. The engine has no empty keys, so a write
// to the empty key is refused and a read of it finds nothing. Commands that
// read and then write a key (SET NX/XX/GET, GETDEL, DEL, MSETNX, EXPIRE
// NX/XX/GT/LT) are atomic with respect to the other commands of the same
// Server. MSET, MSETNX and DEL of several keys are atomic: one kv.Batch, so
// no reader sees some of their keys written without the others, and a crash
// leaves all of them or none. The plain writes of a pipeline share a batch
// and a sync (see writeRun).
//
// A Server serves a Store: New serves a *kv.DB, NewWithStore any other,
// such as a replicated store (package cluster), which may add commands
// (Extension), an INFO section (InfoSectioner) and replies of its own
// (Error, e.g. a redirect). READONLY lets a connection's reads be served
// from a copy that may lag; the reads that conditional writes make never
// are (Read.Fresh).
package server

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// Defaults for Options.
const (
	// DefaultAddr is the address crabkv serve listens on: loopback only,
	// one port above Redis's.
	DefaultAddr = "127.0.0.1:6380"
	// DefaultMaxBulkLen is the longest bulk string a request may carry: the
	// engine's largest value and some slack for the command around it.
	DefaultMaxBulkLen = kv.DefaultMaxValueSize + 64<<10
	// DefaultMaxArgs is the most arguments one request may carry.
	DefaultMaxArgs = 1 << 16
	// DefaultMaxRequestBytes is the most bytes one request may take: four
	// values of the largest size, e.g. an MSET of two or a SET with room.
	DefaultMaxRequestBytes = 4 * DefaultMaxBulkLen
	// DefaultMaxReplyBytes bounds the values one MGET may return.
	DefaultMaxReplyBytes = DefaultMaxRequestBytes
	// flushAt is how many reply bytes a connection buffers before it
	// writes them out, even in the middle of a pipeline.
	flushAt = 1 << 20
	// DefaultMaxInlineLen is the longest inline (telnet-style) command, as
	// in Redis.
	DefaultMaxInlineLen = 64 << 10
	// DefaultMaxConns is the most connections served at once.
	DefaultMaxConns = 256
	// DefaultIdleTimeout is how long a connection may stay silent, or take
	// to send one request, before it is closed.
	DefaultIdleTimeout = 5 * time.Minute
)

// Options configure a Server. The zero value gives the defaults.
type Options struct {
	// Password, when not empty, must be given with AUTH (or HELLO … AUTH)
	// before any command but AUTH, HELLO and QUIT. Default: none.
	Password string
	// AllowFlush lets FLUSHDB delete every key. Default: false, and FLUSHDB
	// is refused.
	AllowFlush bool
	// MaxBulkLen is the longest bulk string accepted. Default:
	// DefaultMaxBulkLen.
	MaxBulkLen int
	// MaxArgs is the most arguments in one request. Default: DefaultMaxArgs.
	MaxArgs int
	// MaxRequestBytes is the most bytes one request may take. Default:
	// DefaultMaxRequestBytes.
	MaxRequestBytes int
	// MaxReplyBytes bounds the values one MGET may return; a larger one
	// gets an error. Default: DefaultMaxReplyBytes.
	MaxReplyBytes int
	// MaxConns is the most connections served at once; the next is told
	// "-ERR max number of clients reached" and closed. Default:
	// DefaultMaxConns.
	MaxConns int
	// IdleTimeout closes a connection that sends nothing for this long,
	// takes longer to send one request, or does not read its replies for
	// this long (less at most a sixteenth of it, by which a deadline may
	// lag behind a busy connection). Default: DefaultIdleTimeout; a
	// negative value means never. Subscribed connections are exempt.
	IdleTimeout time.Duration
	// NoSync says that the store acknowledges writes before they are on
	// stable storage (kv.Options.NoSync); CONFIG GET appendfsync reports
	// it, and the event loop then applies plain writes itself, as they do
	// not wait for the disk. Default: false, writes are durable when
	// acknowledged.
	NoSync bool
	// Logger receives connection errors and warnings. Default:
	// slog.Default().
	Logger *slog.Logger

	// noEventLoop serves every connection with a goroutine of its own,
	// as on systems without the event loop: the tests run both.
	noEventLoop bool
	// unauthed marks the limits of a client that has not authenticated
	// (unauthedLimits), whose refusals Redis words as its own.
	unauthed bool
}

// withDefaults returns a copy of o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.MaxBulkLen <= 0 {
		o.MaxBulkLen = DefaultMaxBulkLen
	}
	if o.MaxArgs <= 0 {
		o.MaxArgs = DefaultMaxArgs
	}
	if o.MaxRequestBytes <= 0 {
		o.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if o.MaxReplyBytes <= 0 {
		o.MaxReplyBytes = DefaultMaxReplyBytes
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("server: closed")

// Server serves one store. It is safe for concurrent use.
type Server struct {
	db     Store
	viewer viewer // db, if it is one; else nil
	opts   Options
	// unauthed is opts with the framing limits of a client that has not
	// authenticated (see unauthedLimits).
	unauthed Options
	// shutdownBy is when, in Unix nanoseconds, the clients of a server
	// shutting down must have taken their replies (see Shutdown); 0 for
	// no such time.
	shutdownBy atomic.Int64
	started    time.Time
	keys       keyLocks
	cursors    cursorTable
	metrics    *metrics
	inline     []bool // by command index: the event loop runs it itself (see loopInline)

	nextID   atomic.Int64
	commands atomic.Int64 // commands processed
	accepted atomic.Int64 // connections accepted
	rejected atomic.Int64 // connections refused at MaxConns

	// mu guards the listeners, the live connections, closing and the
	// event loop. It is taken before eventLoop.mu and a client's locks.
	mu struct {
		sync.Mutex
		listeners map[net.Listener]struct{}
		conns     map[*client]struct{}
		closing   bool
		loop      *eventLoop // serves the TCP listeners' clients; nil until one is served
	}
	// closing mirrors mu.closing, for the connections to read after each
	// pipeline without taking mu, which all of them share. It is set
	// under mu before Shutdown looks at the connections.
	closing atomic.Bool
	// wg counts the connections being served, and the event loop.
	wg sync.WaitGroup
}

// New returns a Server for db. The caller keeps ownership of db and closes
// it after Shutdown.
func New(db *kv.DB, opts Options) *Server { return NewWithStore(NewDBStore(db), opts) }

// NewWithStore returns a Server for store (see Store). The caller keeps
// ownership of store and closes it after Shutdown.
func NewWithStore(store Store, opts Options) *Server {
	s := &Server{db: store, opts: opts.withDefaults(), started: time.Now()}
	s.unauthed = unauthedLimits(s.opts)
	s.viewer, _ = store.(viewer)
	s.inline = loopInline(store, s.opts.NoSync)
	s.metrics = newMetrics(s)
	s.mu.listeners = map[net.Listener]struct{}{}
	s.mu.conns = map[*client]struct{}{}
	return s
}

// WarnIfExposed logs a warning when addr is not a loopback address: anyone
// who can reach the port can try it, and without TLS (encrypted false) the
// traffic, password included, crosses the network in the clear.
func WarnIfExposed(logger *slog.Logger, addr string, hasPassword, encrypted bool) {
	if logger == nil {
		logger = slog.Default()
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return
	}
	msg := "serving beyond this machine: traffic is not encrypted"
	if encrypted {
		msg = "serving beyond this machine"
	}
	logger.Warn(msg, "addr", addr, "password", hasPassword, "tls", encrypted)
}

// TLSConfig returns the TLS configuration for serving with the certificate
// and key in the PEM files certFile and keyFile: TLS 1.2 at least. Serve a
// listener wrapped with tls.NewListener(ln, config) to encrypt the
// connections.
func TLSConfig(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Serve accepts connections on ln until Shutdown, and then returns
// ErrServerClosed. It closes ln.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.mu.closing {
		s.mu.Unlock()
		_ = ln.Close() // the server is closed either way, which is what Serve reports
		return ErrServerClosed
	}
	s.mu.listeners[ln] = struct{}{}
	s.mu.Unlock()
	// Serve's result is the Accept error; closing the listener releases it
	// and a failure leaves nothing to do.
	defer func() { _ = ln.Close() }()
	loop := s.loopFor(ln)
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		s.accept(nc, loop)
	}
}

func (s *Server) isClosing() bool { return s.closing.Load() }

// accept registers nc and starts serving it, with loop if it is not nil
// and can take it, or with a goroutine of its own; or it refuses it.
func (s *Server) accept(nc net.Conn, loop *eventLoop) {
	s.mu.Lock()
	if s.mu.closing || len(s.mu.conns) >= s.opts.MaxConns {
		closing := s.mu.closing
		s.mu.Unlock()
		if !closing {
			s.rejected.Add(1)
			s.metrics.rejected.Inc()
			// The refusal is a courtesy to a connection closed right after;
			// if it cannot be sent, the client sees the close.
			_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = nc.Write([]byte("-ERR max number of clients reached\r\n"))
		}
		_ = nc.Close() // refused: nothing more to do with it
		return
	}
	c := newClient(s, nc)
	s.mu.conns[c] = struct{}{}
	s.wg.Add(1)
	// Given to the loop under mu, so that a loop that has seen the server
	// closing finds every client it must close (see eventLoop.run).
	looped := loop != nil && loop.add(c) == nil
	s.mu.Unlock()
	s.accepted.Add(1)
	s.metrics.accepted.Inc()
	if looped {
		return
	}
	go func() {
		defer s.forget(c)
		c.serve()
	}()
}

// forget drops a client that has stopped from the ones served.
func (s *Server) forget(c *client) {
	s.mu.Lock()
	delete(s.mu.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// Shutdown stops accepting connections, lets every command already read
// finish and its reply go out, closes the connections and returns. If ctx
// has a deadline, a client has half the time left to it to take its
// replies, and is cut off after that (without one, a client that does not
// read them is waited for up to the idle timeout). If ctx ends first, it
// closes the remaining connections at once and returns ctx's error once
// their goroutines have stopped.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.mu.closing = true
	s.closing.Store(true)
	// Closing ends each Serve loop; a close error leaves nothing to undo.
	for ln := range s.mu.listeners {
		_ = ln.Close()
	}
	clear(s.mu.listeners)
	if end, ok := ctx.Deadline(); ok {
		// A client has half the grace left to take the replies of the
		// commands it sent, and is cut off after it: one that does not
		// read them would otherwise hold the shutdown for all of it.
		// Its commands are done; only their replies are lost.
		s.shutdownBy.Store(time.Now().Add(time.Until(end) / 2).UnixNano())
	}
	for c := range s.mu.conns {
		c.stopIfIdle()
		c.limitWrites()
	}
	if s.mu.loop != nil {
		s.mu.loop.wake() // it stops once its clients have
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	// The grace period is over: cut the remaining clients off, whatever
	// Close reports.
	for c := range s.mu.conns {
		_ = c.nc.Close()
	}
	s.mu.Unlock()
	<-done
	return ctx.Err()
}

// Clients returns the number of open connections.
func (s *Server) Clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.conns)
}

// checkPassword compares in constant time, so the reply's timing does not
// tell how much of a guess was right.
func (s *Server) checkPassword(got []byte) bool {
	return subtle.ConstantTimeCompare(got, []byte(s.opts.Password)) == 1
}

// keyLocks makes the commands that read a key and then write it (SET
// NX/XX/GET, GETDEL, DEL) atomic among this server's clients: they hold
// their key's stripe exclusively. A plain write holds it shared, so that
// plain writes of one key still wait for the disk together (the engine's
// group commit) rather than one after another. MSET, MSETNX and DEL of
// several keys hold their keys' stripes exclusively and MGET shared, so
// that an MGET sees the whole of one of them or none of it; MSETNX holds
// them from its reads to its write. GETRANGE holds its key's stripe exclusively
// between its two reads.
type keyLocks [256]sync.RWMutex

func (l *keyLocks) stripe(key []byte) *sync.RWMutex { return &l[l.index(key)] }

// index is the number of key's stripe.
func (l *keyLocks) index(key []byte) int {
	var h uint32 = 2166136261
	for _, b := range key {
		h = (h ^ uint32(b)) * 16777619
	}
	return int(h % uint32(len(l)))
}

// lock holds key's stripe exclusively and returns the unlock function.
func (l *keyLocks) lock(key []byte) func() {
	m := l.stripe(key)
	m.Lock()
	return m.Unlock
}

// stripeModes says, for each stripe, whether to take it: 0 not, 1 shared,
// 2 exclusive.
type stripeModes [len(keyLocks{})]uint8

// lockAll takes the stripes that m marks, in ascending order. That is the
// only order in which any goroutine holds more than one stripe (the
// others hold one at a time), so holders of several cannot deadlock.
func (l *keyLocks) lockAll(m *stripeModes) {
	m.each(func(i int, mode uint8) {
		if mode == 1 {
			l[i].RLock()
		} else {
			l[i].Lock()
		}
	})
}

// unlockAll releases the stripes that lockAll took.
func (l *keyLocks) unlockAll(m *stripeModes) {
	m.each(func(i int, mode uint8) {
		if mode == 1 {
			l[i].RUnlock()
		} else {
			l[i].Unlock()
		}
	})
}

// each calls fn with every stripe marked, in ascending order. It skips
// eight unmarked stripes at a time: a pipeline's run marks a few of the
// 256, and looked at one by one they cost as much as its locks.
func (m *stripeModes) each(fn func(i int, mode uint8)) {
	for w := 0; w < len(m); w += 8 {
		if binary.LittleEndian.Uint64(m[w:w+8]) == 0 {
			continue
		}
		for i := w; i < w+8; i++ {
			if m[i] != 0 {
				fn(i, m[i])
			}
		}
	}
}

// tryLockAll takes the stripes that m marks, as lockAll does, if it can
// without waiting; else it takes none and returns false.
func (l *keyLocks) tryLockAll(m *stripeModes) bool {
	for i, mode := range m {
		ok := true
		switch mode {
		case 1:
			ok = l[i].TryRLock()
		case 2:
			ok = l[i].TryLock()
		}
		if !ok {
			var taken stripeModes
			copy(taken[:i], m[:i])
			l.unlockAll(&taken)
			return false
		}
	}
	return true
}

// share holds key's stripe shared and returns the unlock function.
func (l *keyLocks) share(key []byte) func() {
	m := l.stripe(key)
	m.RLock()
	return m.RUnlock
}

// String describes the server for logs.
func (s *Server) String() string { return fmt.Sprintf("crabkv server for %s", s.db.Dir()) }

// Before AUTH, where a password is set, a request may carry at most
// unauthedMaxArgs arguments, none over unauthedMaxBulkLen bytes, as Redis
// limits them: the server reads a request whole before it can answer
// NOAUTH, and without these a client that has no password could make it
// hold a request of MaxRequestBytes (64 MiB) on each of its connections.
const (
	unauthedMaxArgs    = 10
	unauthedMaxBulkLen = 16 << 10
)

// unauthedLimits returns opts with the framing limits of a client that
// has not authenticated.
func unauthedLimits(opts Options) Options {
	opts.MaxArgs = min(opts.MaxArgs, unauthedMaxArgs)
	opts.MaxBulkLen = min(opts.MaxBulkLen, unauthedMaxBulkLen)
	opts.MaxRequestBytes = min(opts.MaxRequestBytes, unauthedMaxArgs*(unauthedMaxBulkLen+maxHeaderLine+2)+maxHeaderLine)
	opts.unauthed = true
	return opts
}
