package server

import (
	"bytes"
	"io"
	"math"

	"github.com/tidwall/redcon"
)

// reqReader reads a connection's requests a pipeline at a time, without
// allocating per request: the arguments of a request are slices of the
// read buffer, valid until the next call of read, and the pipeline's
// slices are reused. (redcon's Reader copies every request and allocates
// its argument slice: a third of a pipelined GET's allocations.) It reads
// from a guardConn, which has checked the framing's limits before the bytes
// arrive here, and which returns from Read with a full buffer or a
// complete request; inline (telnet-style) requests are parsed by redcon,
// as they are rare and may need unquoting.
type reqReader struct {
	rd         io.Reader
	buf        []byte
	start, end int // buf[start:end] is read and not yet parsed
	cmds       []redcon.Command
	args       [][]byte // the pipeline's arguments, which cmds slice
	// limits, when set, are checked as requests are parsed, for a reader
	// fed bytes that no guardConn has checked (the event loop's): no
	// header longer than maxHeaderLine, no more arguments than MaxArgs, no
	// bulk string longer than MaxBulkLen, no request longer than
	// MaxRequestBytes, no inline request longer than DefaultMaxInlineLen.
	// Incomplete requests are checked as far as they have arrived, so the
	// buffer never grows past a limit.
	limits *Options
	// lift, when not nil, is asked, when a request breaks limits, for the
	// limits that will apply once the requests parsed before it, cmds,
	// have run, or nil if the same: a client's AUTH among them lifts the
	// limits it had before (see client.liftLimits). The request is then
	// checked again against those, as Redis checks a request only after
	// the ones before it have run.
	lift func(cmds []redcon.Command) *Options
	// part is how far the multibulk request at start has been checked,
	// when it is not all read yet: parsing goes on from there when more
	// arrives, so a request that arrives an argument at a time costs one
	// pass over it, not one per read. Zero otherwise.
	part partial
}

// partial is a multibulk request checked as far as it has arrived: its
// argument count, the arguments checked, and where the next one begins,
// counted from the request's first byte.
type partial struct{ count, done, pos int }

// Buffer sizes: a connection starts with inBufSize bytes, grows the buffer
// as a request needs, and goes back to inBufSize once it has consumed a
// request that grew it past maxKeptIn.
const (
	inBufSize = 16 << 10
	maxKeptIn = 64 << 10
)

// protocolError is a request that breaks the protocol, worded as redcon
// words it: limitMessage turns it into the reply.
type protocolError string

func (e protocolError) Error() string { return "Protocol error: " + string(e) }

const (
	errMultiBulkLength = protocolError("invalid multibulk length")
	errBulkLength      = protocolError("invalid bulk length")
	// Refusals of what only an authenticated client may send (see
	// unauthedLimits), worded as Redis words them.
	errUnauthedMultiBulk = protocolError("unauthenticated multibulk length")
	errUnauthedBulk      = protocolError("unauthenticated bulk length")
	errRequestTooLarge   = protocolError("request too large")
	errInlineTooLong     = protocolError("too big inline request")
)

// errExpectedBulk refuses an argument that does not start with '$', naming
// the byte found, as Redis does.
func errExpectedBulk(got byte) protocolError {
	return protocolError("expected '$', got '" + string(got) + "'")
}

func newReqReader(rd io.Reader) *reqReader {
	return &reqReader{rd: rd, buf: make([]byte, inBufSize)}
}

// read returns the next pipeline: every complete request read so far, at
// least one. It reuses the slices it returned last time. The requests
// before one that breaks the protocol or a limit are returned first, to
// run, as Redis runs them; the next call returns the error.
func (r *reqReader) read() ([]redcon.Command, error) {
	r.reset()
	for {
		if err := r.parse(); err != nil {
			if len(r.cmds) > 0 {
				return r.cmds, nil // the bad request stays at start, for the next call
			}
			return nil, err
		}
		if len(r.cmds) > 0 {
			return r.cmds, nil
		}
		// No complete request is buffered, so no argument refers to the
		// buffer: its incomplete request may move to the front.
		if r.start > 0 {
			r.end = copy(r.buf, r.buf[r.start:r.end])
			r.start = 0
		}
		if r.end == len(r.buf) {
			r.buf = append(r.buf, make([]byte, len(r.buf))...)
		}
		n, err := r.rd.Read(r.buf[r.end:])
		r.end += n
		if err != nil {
			return nil, err
		}
	}
}

// reset forgets the pipeline returned last, whose requests have been run.
func (r *reqReader) reset() {
	clear(r.cmds)
	r.cmds = r.cmds[:0]
	clear(r.args)
	r.args = r.args[:0]
	if r.start == r.end && len(r.buf) > maxKeptIn {
		r.part = partial{}
		r.buf = make([]byte, inBufSize)
		r.start, r.end = 0, 0
	}
}

// feed reads once with read, which must not block (the event loop's read
// of a ready socket), and returns the complete requests buffered: none if
// the request read so far is not complete yet. It reuses the slices it
// returned last time. A read error, or a request that breaks the protocol
// or a limit, is returned with the requests read before it.
func (r *reqReader) feed(read func([]byte) (int, error)) ([]redcon.Command, error) {
	r.reset()
	// Every request fed before was complete and has been run, so no
	// argument refers to the buffer: the incomplete one may move.
	if r.start > 0 {
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
	}
	if r.end == len(r.buf) {
		r.buf = append(r.buf, make([]byte, len(r.buf))...)
	}
	n, err := read(r.buf[r.end:])
	r.end += max(n, 0)
	if perr := r.parse(); perr != nil {
		return r.cmds, perr // those before it run first, as Redis runs them
	}
	return r.cmds, err
}

// parse appends the complete requests buffered to r.cmds.
func (r *reqReader) parse() error {
	for r.start < r.end {
		b := r.buf[r.start:r.end]
		var n int
		var err error
		args := len(r.args)
		if b[0] == '*' {
			n, err = r.multiBulk(b)
		} else {
			n, err = r.inline(b)
		}
		if err != nil && r.lift != nil && len(r.cmds) > 0 {
			if l := r.lift(r.cmds); l != nil && l != r.limits {
				r.limits = l
				r.args = r.args[:args] // what the refused pass took of it
				continue
			}
		}
		if err != nil || n == 0 {
			return err
		}
		r.start += n
	}
	return nil
}

// multiBulk parses the request "*N\r\n" ("$L\r\n" bytes "\r\n"){N} at the
// start of b, and returns its length, or 0 if it is not all there. A
// request not all there is remembered as checked so far (r.part), and the
// next call goes on from there; once it is all there, its arguments are
// taken in a second, quick pass over the headers already checked.
func (r *reqReader) multiBulk(b []byte) (int, error) {
	lim := r.limits
	count, done, pos := r.part.count, r.part.done, r.part.pos
	resumed := count > 0
	if !resumed {
		i := bytes.IndexByte(b, '\n')
		// A header line ("*N\r\n" without its '*', "$N\r\n") is at most
		// maxHeaderLine bytes, as guardConn checks.
		if lim != nil && (i > maxHeaderLine || (i < 0 && len(b)-1 > maxHeaderLine)) {
			return 0, errMultiBulkLength
		}
		if i < 0 {
			return 0, nil
		}
		var ok bool
		count, ok = parseLen(b[1:i])
		switch {
		case !ok:
			return 0, errMultiBulkLength
		case lim != nil && count > lim.MaxArgs && lim.unauthed && count > unauthedMaxArgs:
			return 0, errUnauthedMultiBulk
		case lim != nil && count > lim.MaxArgs:
			return 0, errMultiBulkLength
		}
		if count <= 0 {
			return i + 1, nil // "*0", "*-1": no request, skipped as Redis skips it
		}
		pos = i + 1
	}
	first := len(r.args)
	for ; done < count; done++ {
		if pos >= len(b) {
			return r.incomplete(first, count, done, pos)
		}
		if b[pos] != '$' {
			return 0, errExpectedBulk(b[pos])
		}
		j := bytes.IndexByte(b[pos:], '\n')
		if lim != nil && (j+1 > maxHeaderLine || (j < 0 && len(b)-pos > maxHeaderLine)) {
			return 0, errBulkLength
		}
		if j < 0 {
			return r.incomplete(first, count, done, pos)
		}
		size, ok := parseLen(b[pos+1 : pos+j])
		switch {
		case !ok || size < 0:
			return 0, errBulkLength
		case lim != nil && size > lim.MaxBulkLen && lim.unauthed && size > unauthedMaxBulkLen:
			return 0, errUnauthedBulk
		case lim != nil && size > lim.MaxBulkLen:
			return 0, errBulkLength
		}
		data := pos + j + 1
		if lim != nil && data+size+2 > lim.MaxRequestBytes {
			return 0, errRequestTooLarge
		}
		if data+size+2 > len(b) {
			return r.incomplete(first, count, done, pos)
		}
		if b[data+size] != '\r' || b[data+size+1] != '\n' {
			return 0, errBulkLength
		}
		if !resumed {
			r.args = append(r.args, b[data:data+size:data+size])
		}
		pos = data + size + 2
	}
	if resumed {
		r.part = partial{}
		r.takeArgs(b, count)
	}
	r.cmds = append(r.cmds, redcon.Command{Args: r.args[first:len(r.args):len(r.args)]})
	return pos, nil
}

// takeArgs appends the count arguments of the multibulk request at the
// start of b, whose headers multiBulk has checked, to r.args.
func (r *reqReader) takeArgs(b []byte, count int) {
	pos := bytes.IndexByte(b, '\n') + 1
	for range count {
		j := bytes.IndexByte(b[pos:], '\n')
		size, _ := parseLen(b[pos+1 : pos+j])
		data := pos + j + 1
		r.args = append(r.args, b[data:data+size:data+size])
		pos = data + size + 2
	}
}

// incomplete drops the arguments of a request not all read yet, and
// remembers how far it has been checked.
func (r *reqReader) incomplete(first, count, done, pos int) (int, error) {
	clear(r.args[first:])
	r.args = r.args[:first]
	r.part = partial{count, done, pos}
	return 0, nil
}

// parseLen parses the number of a "*N\r" or "$N\r" header (the '\r'
// included) as Redis does (parseInt): "+1", "01" and "-0" are not numbers.
// A count of zero or less is a request Redis skips, a negative bulk length
// an error: the caller tells them apart.
func parseLen(b []byte) (int, bool) {
	if len(b) < 2 || b[len(b)-1] != '\r' {
		return 0, false
	}
	n, ok := parseInt(b[:len(b)-1])
	return int(n), ok
}

// parseDecimal parses b as strconv.ParseInt(string(b), 10, 64) does (an
// optional sign, then digits, within int64), without converting b to a
// string: the protocol's headers are parsed twice a request (see
// guardConn), so their parse is a measurable part of a GET's time.
func parseDecimal(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	// limit is the magnitude allowed: one more for a negative number.
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	var n uint64
	for _, c := range b {
		d := uint64(c - '0')
		if d > 9 || n > (limit-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	if neg {
		return -int64(n), true // -(MaxInt64+1) wraps to MinInt64, as it should
	}
	return int64(n), true
}

// inline parses the inline request, one line, at the start of b, and
// returns its length, or 0 if the line is not all there. A blank line is
// skipped.
func (r *reqReader) inline(b []byte) (int, error) {
	i := bytes.IndexByte(b, '\n')
	if r.limits != nil {
		n := len(b) // the line's bytes so far, its '\n' included
		if i >= 0 {
			n = i + 1
		}
		if n > DefaultMaxInlineLen {
			return 0, errInlineTooLong
		}
	}
	if i < 0 {
		return 0, nil
	}
	line := bytes.TrimSuffix(b[:i], []byte("\r"))
	if len(bytes.Trim(line, " ")) == 0 {
		return i + 1, nil
	}
	cmd, err := redcon.Parse(b[:i+1])
	if err != nil {
		return 0, err
	}
	r.cmds = append(r.cmds, redcon.Command{Args: cmd.Args})
	return i + 1, nil
}
