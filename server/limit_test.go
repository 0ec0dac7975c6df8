package server

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/tidwall/redcon"
)

// dripConn delivers its input one byte per Read, as a slow client would.
type dripConn struct {
	net.Conn
	in    string
	reads int
}

func (d *dripConn) Read(p []byte) (int, error) {
	if d.in == "" {
		return 0, io.EOF
	}
	p[0] = d.in[0]
	d.in = d.in[1:]
	d.reads++
	return 1, nil
}

// TestGuardDrip checks that requests arriving a byte at a time pass the
// guard intact, and that each reaches the reader in one Read: redcon's
// reader recurses once per Read of an incomplete request.
func TestGuardDrip(t *testing.T) {
	reqs := []string{
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n",
		"PING\r\n",
		"*2\r\n$4\r\nECHO\r\n$10\r\n\r\n\r\n*1\r\n$1\r\n\r\n",
		"*1\r\n$4\r\nPING\r\n",
	}
	d := &dripConn{in: strings.Join(reqs, "")}
	g := &guardConn{Conn: d, opts: &Options{MaxBulkLen: 100, MaxArgs: 10, MaxRequestBytes: 1000}}
	cr := &countingReader{r: g}
	rd := redcon.NewReader(cr)
	var got []string
	for range 10 {
		cmd, err := rd.ReadCommand()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%q", cmd.Args))
	}
	want := `["SET" "k" ""] ["PING"] ["ECHO" "\r\n\r\n*1\r\n$1"] ["PING"]`
	if strings.Join(got, " ") != want {
		t.Fatalf("commands %s, want %s", strings.Join(got, " "), want)
	}
	// One Read per request (the empty line after ECHO is one), one for EOF.
	if cr.n > len(reqs)+2 {
		t.Errorf("the reader read %d times for %d requests", cr.n, len(reqs))
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.n++
	return c.r.Read(p)
}

func TestGuardRequestTooLarge(t *testing.T) {
	big := strings.Repeat("x", 60)
	d := &dripConn{in: fmt.Sprintf("*3\r\n$3\r\nSET\r\n$60\r\n%s\r\n$60\r\n%s\r\n", big, big)}
	g := &guardConn{Conn: d, opts: &Options{MaxBulkLen: 100, MaxArgs: 10, MaxRequestBytes: 100}}
	_, err := io.ReadAll(g)
	if msg := limitMessage(err); msg != "ERR Protocol error: request too large" {
		t.Fatalf("error %v", err)
	}
}

// TestParseLimitsMatchGuard checks that a reader that checks the limits as
// it parses (the event loop's) accepts and refuses what guardConn does,
// with the same reply, whether the bytes arrive at once or a few at a
// time; and that it never buffers more than a limit allows before it
// refuses.
func TestParseLimitsMatchGuard(t *testing.T) {
	opts := &Options{MaxBulkLen: 100, MaxArgs: 4, MaxRequestBytes: 150}
	big := strings.Repeat("x", 60)
	streams := map[string]string{
		"good":                "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$5\r\n\r\n\r\n\r\n",
		"too many args":       "*5\r\n$1\r\na\r\n",
		"args at the limit":   "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n",
		"bulk too long":       "*2\r\n$3\r\nGET\r\n$101\r\n",
		"bulk at the limit":   "*2\r\n$4\r\nECHO\r\n$100\r\n" + strings.Repeat("y", 100) + "\r\n",
		"request too large":   "*3\r\n$3\r\nSET\r\n$60\r\n" + big + "\r\n$60\r\n" + big + "\r\n",
		"4 GB bulk":           "*2\r\n$3\r\nGET\r\n$4294967296\r\n",
		"endless count":       "*" + strings.Repeat("1", 40),
		"endless bulk len":    "*1\r\n$" + strings.Repeat("9", 40),
		"long count line":     "*" + strings.Repeat("0", 33) + "1\r\n",
		"negative bulk":       "*1\r\n$-5\r\n",
		"garbage count":       "*x\r\n",
		"endless inline":      strings.Repeat("a", DefaultMaxInlineLen+1),
		"inline at the limit": strings.Repeat("a", DefaultMaxInlineLen-1) + "\n",
	}
	for name, in := range streams {
		t.Run(name, func(t *testing.T) {
			wantCmds, wantErr := parseAll(newReqReader(&guardConn{Conn: &dripConn{in: in}, opts: opts}).read)
			for _, chunk := range []int{1, 7, len(in)} {
				rd := newReqReader(nil)
				rd.limits = opts
				src := in
				feedOnce := func(p []byte) (int, error) {
					if src == "" {
						return 0, io.EOF
					}
					n := copy(p, src[:min(chunk, len(src))])
					src = src[n:]
					return n, nil
				}
				var cmds []string
				var err error
				for err == nil {
					var got []redcon.Command
					got, err = rd.feed(feedOnce)
					for _, c := range got {
						cmds = append(cmds, fmt.Sprintf("%q", c.Args))
					}
					// While no limit is broken, the incomplete request
					// held is within the limit of its kind.
					limit := opts.MaxRequestBytes
					if rd.start < rd.end && rd.buf[rd.start] != '*' {
						limit = DefaultMaxInlineLen
					}
					if held := rd.end - rd.start; err == nil && held > limit {
						t.Fatalf("chunks of %d: %d bytes held, over the limit of %d", chunk, held, limit)
					}
				}
				if strings.Join(cmds, " ") != strings.Join(wantCmds, " ") || limitMessage(err) != limitMessage(wantErr) {
					t.Fatalf("chunks of %d: %v then %q; guardConn: %v then %q", chunk, cmds, limitMessage(err), wantCmds, limitMessage(wantErr))
				}
			}
		})
	}
}

// parseAll reads pipelines with read until it fails, and returns the
// requests and the error.
func parseAll(read func() ([]redcon.Command, error)) ([]string, error) {
	var cmds []string
	for {
		got, err := read()
		for _, c := range got {
			cmds = append(cmds, fmt.Sprintf("%q", c.Args))
		}
		if err != nil {
			return cmds, err
		}
	}
}

// TestRequestsBeforeABrokenLimit sends, in one write, two SETs and then a
// request that breaks the protocol or a limit: a bulk length over
// MaxBulkLen, an argument count over MaxArgs, a malformed length, an
// inline request too long. As Redis does, the SETs run and are answered,
// then the error is, and the connection closes; both modes, and with the
// bad request's header in the same packet as the SETs or in the next.
func TestRequestsBeforeABrokenLimit(t *testing.T) {
	sets := respRequest("SET", "a", "1") + respRequest("SET", "b", "2")
	for _, mode := range []string{"loop", "goroutine"} {
		for _, bad := range []struct{ name, req string }{
			{"bulk too long", "*2\r\n$3\r\nGET\r\n$2000\r\n"},
			{"too many arguments", "*20\r\n$4\r\nMGET\r\n"},
			{"malformed length", "*2\r\n$3\r\nGET\r\n$x\r\n"},
			{"inline too long", strings.Repeat("x", 70<<10)},
		} {
			for _, split := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/split=%v", mode, bad.name, split), func(t *testing.T) {
					opts := Options{MaxBulkLen: 1000, MaxArgs: 10}
					opts.noEventLoop = mode == "goroutine"
					s, addr := serveStoreMode(t, opts)
					c := rawConn(t, addr)
					if split {
						send(t, c, sets)
						expectLine(t, c, "+OK")
						expectLine(t, c, "+OK")
						send(t, c, sets+bad.req)
					} else {
						send(t, c, sets+bad.req)
					}
					expectLine(t, c, "+OK")
					expectLine(t, c, "+OK")
					expectLine(t, c, "-ERR Protocol error")
					expectClosed(t, c)
					for k, want := range map[string]string{"a": "1", "b": "2"} {
						if got, err := s.db.Get(Read{}, []byte(k)); err != nil || string(got) != want {
							t.Errorf("%s = %q, %v; want %q", k, got, err, want)
						}
					}
				})
			}
		}
	}
}

// TestHandedOffBeforeBrokenLimit is TestRequestsBeforeABrokenLimit with a
// request the event loop hands to a goroutine before the bad one (a GET
// after a SET, which waits for the write): that goroutine must answer the
// error, and the connection close, not wait for more bytes.
func TestHandedOffBeforeBrokenLimit(t *testing.T) {
	for _, mode := range []string{"loop", "goroutine"} {
		t.Run(mode, func(t *testing.T) {
			_, addr := serveStoreMode(t, Options{MaxBulkLen: 1000, noEventLoop: mode == "goroutine"})
			c := rawConn(t, addr)
			send(t, c, respRequest("SET", "a", "1")+respRequest("GET", "a")+"*2\r\n$3\r\nGET\r\n$2000\r\n")
			expectLine(t, c, "+OK")
			expectLine(t, c, "$1")
			expectLine(t, c, "1")
			expectLine(t, c, "-ERR Protocol error: invalid bulk length")
			expectClosed(t, c)
		})
	}
}

// TestTooLongInlineDoesNotRun sends an inline request over
// DefaultMaxInlineLen whose end arrives with it: it is refused, not run.
func TestTooLongInlineDoesNotRun(t *testing.T) {
	for _, mode := range []string{"loop", "goroutine"} {
		t.Run(mode, func(t *testing.T) {
			s, addr := serveStoreMode(t, Options{noEventLoop: mode == "goroutine"})
			c := rawConn(t, addr)
			send(t, c, "SET big "+strings.Repeat("x", 70<<10)+"\r\n")
			expectLine(t, c, "-ERR Protocol error: too big inline request")
			expectClosed(t, c)
			if v, err := s.db.Get(Read{}, []byte("big")); err == nil {
				t.Errorf("the refused request ran: big is %d bytes", len(v))
			}
		})
	}
}

// chunkConn delivers its chunks, one (or what p takes of it) per Read.
type chunkConn struct {
	net.Conn
	chunks [][]byte
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	if c.chunks[0] = c.chunks[0][n:]; len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	return n, nil
}

// TestGuardTooLongInline feeds the goroutine mode's guard and reader an
// inline request over the limit in one read, after a good one: the good
// one is returned to run, the long one never, and the error follows.
func TestGuardTooLongInline(t *testing.T) {
	line := "SET big " + strings.Repeat("x", 70<<10) + "\r\n"
	opts := Options{}.withDefaults()
	r := newReqReader(&guardConn{Conn: &chunkConn{chunks: [][]byte{[]byte("PING\r\n" + line)}}, opts: &opts})
	var got []string
	var err error
	for range 3 {
		var cmds []redcon.Command
		if cmds, err = r.read(); err != nil {
			break
		}
		for _, cmd := range cmds {
			got = append(got, string(cmd.Args[0]))
		}
	}
	if strings.Join(got, " ") != "PING" {
		t.Fatalf("requests returned to run: %q, want PING alone", got)
	}
	if msg := limitMessage(err); msg != "ERR Protocol error: too big inline request" {
		t.Fatalf("error %v, want the inline request refused", err)
	}
}

// TestHeadersAsRedis sends request headers that redis-server reads one way
// or the other (checked against redis-server 7.0): a count of zero or less
// is skipped, and the PING after it answered; a number with a plus sign, a
// leading zero or "-0", a negative bulk length, and an argument that is not
// a bulk string, are protocol errors that close the connection, each in
// Redis's words. Each is sent whole, and a byte at a time.
func TestHeadersAsRedis(t *testing.T) {
	const ping = "*1\r\n$4\r\nPING\r\n"
	for _, mode := range []string{"loop", "goroutine"} {
		for _, tc := range []struct{ name, req, reply string }{
			{"count 0", "*0\r\n" + ping, "+PONG"},
			{"count -1", "*-1\r\n" + ping, "+PONG"},
			{"count -5", "*-5\r\n" + ping, "+PONG"},
			{"count -0", "*-0\r\n" + ping, "-ERR Protocol error: invalid multibulk length"},
			{"count +1", "*+1\r\n$4\r\nPING\r\n", "-ERR Protocol error: invalid multibulk length"},
			{"count 01", "*01\r\n$4\r\nPING\r\n", "-ERR Protocol error: invalid multibulk length"},
			{"count 00", "*00\r\n" + ping, "-ERR Protocol error: invalid multibulk length"},
			{"bulk 04", "*1\r\n$04\r\nPING\r\n", "-ERR Protocol error: invalid bulk length"},
			{"bulk +4", "*1\r\n$+4\r\nPING\r\n", "-ERR Protocol error: invalid bulk length"},
			{"bulk -0", "*1\r\n$-0\r\n\r\n", "-ERR Protocol error: invalid bulk length"},
			{"bulk -1", "*1\r\n$-1\r\n" + ping, "-ERR Protocol error: invalid bulk length"},
			{"not a bulk", "*1\r\n:1\r\n", "-ERR Protocol error: expected '$', got ':'"},
			{"not a bulk, later", "*2\r\n$1\r\na\r\n+x\r\n", "-ERR Protocol error: expected '$', got '+'"},
			{"blank bulk header", "*1\r\n\r\n", "-ERR Protocol error: expected '$', got ' '"},
		} {
			for _, split := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/split=%v", mode, tc.name, split), func(t *testing.T) {
					_, addr := serveStoreMode(t, Options{noEventLoop: mode == "goroutine"})
					c := rawConn(t, addr)
					if split {
						// The server may close on a bad header before the
						// rest is sent: a failed write is its reply's to judge.
						for i := range len(tc.req) {
							if _, err := c.WriteString(tc.req[i : i+1]); err != nil || c.Flush() != nil {
								break
							}
						}
					} else {
						send(t, c, tc.req)
					}
					expectLine(t, c, tc.reply)
					if strings.HasPrefix(tc.reply, "-") {
						expectClosed(t, c)
						return
					}
					send(t, c, ping) // still open, and in step
					expectLine(t, c, "+PONG")
				})
			}
		}
	}
}
