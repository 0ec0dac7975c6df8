package server

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestUnauthenticatedLimits sends, before AUTH, requests that only an
// authenticated client may: a bulk string over 16 KiB and more than 10
// arguments, as Redis limits them. The server must refuse each at its
// header, before buffering its body, in both serving modes; after AUTH the
// same requests are served.
func TestUnauthenticatedLimits(t *testing.T) {
	for _, mode := range []string{"loop", "goroutine"} {
		t.Run(mode, func(t *testing.T) {
			opts := Options{Password: "s3cret"}
			opts.noEventLoop = mode == "goroutine"
			_, addr := serveStoreMode(t, opts)
			big := strings.Repeat("x", 64<<10)
			bigSet := fmt.Sprintf("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n", len(big))
			manyArgs := "*12\r\n$4\r\nMGET\r\n" + strings.Repeat("$1\r\na\r\n", 11)
			for _, req := range []string{bigSet, manyArgs} {
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				// The header alone, with none of the body: a server that
				// waits for the body before it looks at the limits says
				// nothing.
				if _, err := nc.Write([]byte(req)); err != nil {
					t.Fatal(err)
				}
				_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
				line, err := bufio.NewReader(nc).ReadString('\n')
				if err != nil || !strings.HasPrefix(line, "-ERR Protocol error") {
					t.Errorf("request %.30q before AUTH: reply %q, %v; want a protocol error", req, line, err)
				}
				_ = nc.Close()
			}
			c := rawConn(t, addr)
			send(t, c, "*2\r\n$4\r\nAUTH\r\n$6\r\ns3cret\r\n")
			expectLine(t, c, "+OK")
			send(t, c, bigSet+big+"\r\n")
			expectLine(t, c, "+OK")
			send(t, c, manyArgs)
			expectLine(t, c, "*11")
		})
	}
}

// serveStoreMode is startServer with opts as given, the serving mode
// included, whatever the environment says.
func serveStoreMode(tb testing.TB, opts Options) (*Server, string) {
	tb.Helper()
	if opts.noEventLoop {
		tb.Setenv("CRABKV_TEST_SERVE", "goroutine")
	} else {
		tb.Setenv("CRABKV_TEST_SERVE", "")
	}
	return startServer(tb, opts)
}
