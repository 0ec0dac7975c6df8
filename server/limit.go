package server

import (
	"bytes"
	"errors"
	"net"
)

// errLimit is the cause of a request refused by guardConn; its message is
// sent to the client as the reply before the connection is closed.
type errLimit struct{ msg string }

func (e *errLimit) Error() string { return e.msg }

// guardConn checks the request stream's framing before redcon sees it.
//
// redcon's reader does not allocate what a length header claims; it grows
// its buffer as bytes arrive, without any bound, and it reads again by
// recursion each time a request is still incomplete. So a client could make
// it hold any amount of memory by sending a long request, and a deep stack
// by sending one slowly. guardConn follows the RESP headers as bytes go by
// (it checks lengths, it does not build commands), fails the read as soon
// as a header exceeds a limit, and returns from Read only with a full
// buffer or a complete request, so the reader recurses a few times per
// request, not once per network packet.
type guardConn struct {
	net.Conn
	opts *Options
	st   frameState
	// soft, when not nil, are the limits of a client that has not
	// authenticated, which the reader checks (with what runs before the
	// request: see reqReader.lift): a header past them makes Read return
	// at once with what it has (early), for the reader to see it, rather
	// than wait for more of a request it may refuse.
	soft  *Options
	early bool
	// failed is the limit a request broke, once Read has returned the
	// requests before it: every later Read returns it.
	failed error
}

// frameState is where the stream stands in the request being received.
type frameState struct {
	phase  int // one of the phase constants
	line   []byte
	args   int // bulk strings still to come in this request
	skip   int // bulk bytes (and CRLF) still to come
	total  int // bytes of this request so far
	inline int // bytes of the current inline request so far
}

const (
	phaseStart  = iota // expecting the first byte of a request
	phaseCount         // reading "*N\r\n"
	phaseBulkHd        // reading "$N\r\n"
	phaseBulk          // skipping a bulk string and its CRLF
	phaseInline        // reading an inline command up to '\n'
)

// maxHeaderLine bounds a "*N" or "$N" line; a number has at most 20 digits.
const maxHeaderLine = 32

// Read fills p from the connection as the type's comment says. A request
// that breaks a limit fails the read, once the bytes before it have been
// returned: the requests before it run, as Redis runs them.
func (g *guardConn) Read(p []byte) (int, error) {
	if g.failed != nil {
		return 0, g.failed
	}
	n := 0
	for n < len(p) {
		m, err := g.Conn.Read(p[n:])
		complete, safe, lerr := g.scan(p[n : n+m])
		if lerr != nil {
			if safe == 0 {
				// What this Read took before is of the request that
				// broke the limit: no request ended since the last Read.
				return 0, lerr
			}
			g.failed = lerr
			return n + safe, nil
		}
		n += m
		if g.early {
			g.early = false
			return n, err
		}
		if err != nil || complete || n == len(p) {
			return n, err
		}
	}
	return n, nil
}

// scan advances the frame state over b and reports whether a request ended
// in it, and how many bytes of b lie before the end of the last one that
// did: on an error, those hold whole requests, the one that broke a limit
// after them.
func (g *guardConn) scan(b []byte) (complete bool, safe int, err error) {
	st := &g.st
	size := len(b)
	ended := func() {
		st.phase = phaseStart
		complete, safe = true, size-len(b)
	}
	for len(b) > 0 {
		switch st.phase {
		case phaseStart:
			st.total, st.line = 0, st.line[:0]
			if b[0] == '*' {
				st.phase = phaseCount
				st.total = 1
				b = b[1:]
			} else {
				st.phase, st.inline = phaseInline, 0
			}
		case phaseInline:
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				st.inline += len(b)
				b = nil
			} else {
				st.inline += i + 1
				if st.inline <= DefaultMaxInlineLen {
					// Only a line within the limit is a whole request.
					b = b[i+1:]
					ended()
				}
			}
			if st.inline > DefaultMaxInlineLen {
				return complete, safe, &errLimit{"ERR Protocol error: too big inline request"}
			}
		case phaseCount, phaseBulkHd:
			rest, v, done, err := g.header(b)
			if err != nil {
				return complete, safe, err
			}
			b = rest
			if !done {
				continue
			}
			if st.phase == phaseCount {
				if v > int64(g.opts.MaxArgs) {
					return complete, safe, &errLimit{"ERR Protocol error: invalid multibulk length"}
				}
				g.early = g.early || (g.soft != nil && v > int64(g.soft.MaxArgs))
				st.args = int(v)
				st.phase = phaseBulkHd
				if st.args <= 0 {
					// "*0", "*-1": no request; the reader skips it.
					ended()
				}
				continue
			}
			if v > int64(g.opts.MaxBulkLen) {
				return complete, safe, &errLimit{"ERR Protocol error: invalid bulk length"}
			}
			g.early = g.early || (g.soft != nil && (v > int64(g.soft.MaxBulkLen) || st.total+int(v)+2 > g.soft.MaxRequestBytes))
			st.skip = int(v) + 2
			st.phase = phaseBulk
			if st.total+st.skip > g.opts.MaxRequestBytes {
				return complete, safe, &errLimit{"ERR Protocol error: request too large"}
			}
		case phaseBulk:
			k := min(st.skip, len(b))
			st.skip -= k
			st.total += k
			b = b[k:]
			if st.skip == 0 {
				st.args--
				st.phase = phaseBulkHd
				if st.args == 0 {
					ended()
				}
			}
		}
	}
	return complete, safe, nil
}

// header consumes a header line's bytes from b. When the line is complete
// (done) it returns the number after the type byte ('*' is already
// consumed for a count; a bulk header must start with '$').
func (g *guardConn) header(b []byte) (rest []byte, v int64, done bool, err error) {
	st := &g.st
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		st.line = append(st.line, b...)
		st.total += len(b)
		if len(st.line) > maxHeaderLine {
			return nil, 0, false, g.badHeader()
		}
		return nil, 0, false, nil
	}
	st.line = append(st.line, b[:i+1]...)
	st.total += i + 1
	line := st.line
	st.line = st.line[:0]
	if len(line) > maxHeaderLine || len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, 0, false, g.badHeader()
	}
	line = line[:len(line)-2]
	if st.phase == phaseBulkHd {
		if len(line) == 0 || line[0] != '$' {
			got := byte(' ') // a blank line: Redis shows its '\r' as a space
			if len(line) > 0 {
				got = line[0]
			}
			return nil, 0, false, &errLimit{"ERR " + errExpectedBulk(got).Error()}
		}
		line = line[1:]
	}
	v, ok := parseInt(line)
	if !ok || (st.phase == phaseBulkHd && v < 0) {
		return nil, 0, false, g.badHeader()
	}
	return b[i+1:], v, true, nil
}

func (g *guardConn) badHeader() error {
	if g.st.phase == phaseCount {
		return &errLimit{"ERR Protocol error: invalid multibulk length"}
	}
	return &errLimit{"ERR Protocol error: invalid bulk length"}
}

// limitMessage returns the reply for a read error that a client caused, or
// "" for one that only means the connection is gone.
func limitMessage(err error) string {
	var le *errLimit
	if errors.As(err, &le) {
		return le.msg
	}
	if msg := err.Error(); len(msg) > 15 && msg[:15] == "Protocol error:" {
		return "ERR " + msg
	}
	return ""
}
