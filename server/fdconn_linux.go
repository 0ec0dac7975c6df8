package server

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// fdConn is a TCP connection that the event loop owns by its descriptor,
// outside Go's network poller: the loop learns of its requests from its own
// epoll set and reads them itself, so a request costs no goroutine wake-up
// and no read that finds nothing (see eventLoop). It is a net.Conn for the
// code that writes replies from other goroutines (a pipeline handed off, a
// subscription's forwarder): their Write waits for room with poll(2), up to
// the write deadline.
//
// Close only shuts the socket down, which ends every wait on it; the
// descriptor itself is closed by free, which the loop calls once it has
// taken the descriptor out of its epoll set, and only when no call is using
// it: so no call, and no epoll_ctl, ever names a descriptor number that the
// kernel has since given to another file.
type fdConn struct {
	local, remote net.Addr

	// mu guards the fields below it.
	mu      sync.Mutex
	fd      int
	users   int  // calls using fd now
	closed  bool // shut down: calls fail
	freed   bool // free was called: fd closes when users reaches 0
	readBy  time.Time
	writeBy time.Time
}

// newFdConn takes nc's socket out of Go's poller: it duplicates the
// descriptor (the copy shares the socket and its non-blocking mode) and
// closes nc.
func newFdConn(nc net.Conn) (*fdConn, error) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nil, errors.New("not a TCP connection")
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	var dupErr error
	if err := raw.Control(func(s uintptr) {
		fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, os.NewSyscallError("fcntl", dupErr)
	}
	f := &fdConn{fd: fd, local: nc.LocalAddr(), remote: nc.RemoteAddr()}
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return nil, os.NewSyscallError("setnonblock", err)
	}
	_ = nc.Close() // the duplicate holds the socket open
	return f, nil
}

// acquire returns the descriptor for one call, or false once the
// connection is closed. The caller calls release after it.
func (f *fdConn) acquire() (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return -1, false
	}
	f.users++
	return f.fd, true
}

func (f *fdConn) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users--
	f.closeIfDoneLocked()
}

func (f *fdConn) closeIfDoneLocked() {
	if f.freed && f.users == 0 && f.fd >= 0 {
		_ = unix.Close(f.fd) // nothing is left to report a failure to
		f.fd = -1
	}
}

// Close shuts the socket down: the peer sees the connection end, and a
// read, write or wait on it returns. The loop notices and drops the client.
func (f *fdConn) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return net.ErrClosed
	}
	f.closed = true
	if f.fd >= 0 {
		_ = unix.Shutdown(f.fd, unix.SHUT_RDWR) // fails only if the peer is gone already
	}
	return nil
}

// free closes the connection and, once no call uses it, its descriptor.
// Only the loop calls it, after removing the descriptor from its epoll set.
func (f *fdConn) free() {
	_ = f.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.freed = true
	f.closeIfDoneLocked()
}

// readNow reads what is there without waiting: the loop's read of a ready
// socket. It returns unix.EAGAIN when nothing is.
func (f *fdConn) readNow(p []byte) (int, error) {
	fd, ok := f.acquire()
	if !ok {
		return 0, net.ErrClosed
	}
	defer f.release()
	for {
		n, err := unix.Read(fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// writeNow writes what the socket takes without waiting, and returns how
// much that was.
func (f *fdConn) writeNow(p []byte) (int, error) {
	fd, ok := f.acquire()
	if !ok {
		return 0, net.ErrClosed
	}
	defer f.release()
	n := 0
	for n < len(p) {
		m, err := unix.Write(fd, p[n:])
		if m > 0 {
			n += m
		}
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return n, nil
		case err != nil:
			return n, err
		}
	}
	return n, nil
}

// Read reads, waiting for data up to the read deadline.
func (f *fdConn) Read(p []byte) (int, error) {
	for {
		n, err := f.readNow(p)
		if err != unix.EAGAIN {
			return n, err
		}
		if err := f.wait(unix.POLLIN, false); err != nil {
			return 0, err
		}
	}
}

// Write writes all of p, waiting for room up to the write deadline.
func (f *fdConn) Write(p []byte) (int, error) {
	n := 0
	for {
		m, err := f.writeNow(p[n:])
		n += m
		if err != nil || n == len(p) {
			return n, err
		}
		if err := f.wait(unix.POLLOUT, true); err != nil {
			return n, err
		}
	}
}

// wait polls the socket for events until its deadline.
func (f *fdConn) wait(events int16, write bool) error {
	fd, ok := f.acquire()
	if !ok {
		return net.ErrClosed
	}
	defer f.release()
	for {
		f.mu.Lock()
		by := f.readBy
		if write {
			by = f.writeBy
		}
		f.mu.Unlock()
		timeout := -1
		if !by.IsZero() {
			d := time.Until(by)
			if d <= 0 {
				return os.ErrDeadlineExceeded
			}
			timeout = int(min(d/time.Millisecond+1, time.Second/time.Millisecond))
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: events}}
		n, err := unix.Poll(fds, timeout)
		switch {
		case err == unix.EINTR || (err == nil && n == 0):
			continue // the deadline is looked at again
		case err != nil:
			return os.NewSyscallError("poll", err)
		}
		return nil // ready, or an error the next call reports
	}
}

func (f *fdConn) LocalAddr() net.Addr  { return f.local }
func (f *fdConn) RemoteAddr() net.Addr { return f.remote }

func (f *fdConn) SetDeadline(t time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readBy, f.writeBy = t, t
	return nil
}

func (f *fdConn) SetReadDeadline(t time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readBy = t
	return nil
}

func (f *fdConn) SetWriteDeadline(t time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writeBy = t
	return nil
}
