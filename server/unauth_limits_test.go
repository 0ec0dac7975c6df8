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
			// Worded as redis-server words them (checked against 7.0).
			for req, want := range map[string]string{
				bigSet:   "-ERR Protocol error: unauthenticated bulk length",
				manyArgs: "-ERR Protocol error: unauthenticated multibulk length",
			} {
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
				if err != nil || line != want+"\r\n" {
					t.Errorf("request %.30q before AUTH: reply %q, %v; want %q", req, line, err, want)
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

// respRequest encodes args as one RESP request.
func respRequest(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// TestAuthPipelinedWithLargeRequest sends AUTH (or HELLO … AUTH) and a
// request over the limits before AUTH in one write, as Redis takes them:
// the AUTH runs first and lifts the limits, so both are served. With a
// wrong password the AUTH is answered, and the request stays refused.
func TestAuthPipelinedWithLargeRequest(t *testing.T) {
	big := strings.Repeat("x", 64<<10)
	cases := []struct {
		name, req string
		want      []string // the replies' first lines, in order
	}{
		{"auth", respRequest("AUTH", "s3cret") + respRequest("SET", "k", big), []string{"+OK", "+OK"}},
		{"hello", respRequest("HELLO", "2", "AUTH", "default", "s3cret") + respRequest("SET", "k", big), []string{"*14", "+OK"}},
		{"failed then good", respRequest("AUTH", "bad") + respRequest("AUTH", "s3cret") + respRequest("SET", "k", big), []string{"-WRONGPASS", "+OK", "+OK"}},
		{"many arguments", respRequest("AUTH", "s3cret") + respRequest("MSET", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "f", "6"), []string{"+OK", "+OK"}},
		// The AUTH runs and is answered before the request it did not
		// lift the limits for is refused, as redis-server answers.
		{"wrong password", respRequest("AUTH", "bad") + respRequest("SET", "k", big), []string{"-WRONGPASS", "-ERR Protocol error: unauthenticated bulk length"}},
	}
	for _, mode := range []string{"loop", "goroutine"} {
		for _, tc := range cases {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				opts := Options{Password: "s3cret"}
				opts.noEventLoop = mode == "goroutine"
				_, addr := serveStoreMode(t, opts)
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				if _, err := nc.Write([]byte(tc.req)); err != nil {
					t.Fatal(err)
				}
				_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
				rd := bufio.NewReader(nc)
				for _, want := range tc.want {
					line, err := rd.ReadString('\n')
					if err != nil || !strings.HasPrefix(line, want) {
						t.Fatalf("reply %q, %v; want one starting %q", line, err, want)
					}
					if strings.HasPrefix(line, "*") { // HELLO's 14 elements: skip them
						for range 14 {
							l, err := rd.ReadString('\n')
							if err != nil {
								t.Fatal(err)
							}
							if strings.HasPrefix(l, "$") {
								if _, err := rd.ReadString('\n'); err != nil {
									t.Fatal(err)
								}
							}
						}
					}
				}
			})
		}
	}
}
