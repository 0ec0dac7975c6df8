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
