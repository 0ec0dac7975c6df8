package server

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestShutdownBesideNonReader shuts the server down while a client that
// does not read its replies has a pipeline of large ones pending: its
// commands are done, and Shutdown must not wait out its whole grace for
// the client to take the replies, in either serving mode.
func TestShutdownBesideNonReader(t *testing.T) {
	for _, mode := range []string{"loop", "goroutine"} {
		t.Run(mode, func(t *testing.T) {
			s, nc, _ := serveBig(t, mode, 4<<20, 4096)
			if _, err := nc.Write([]byte(strings.Repeat("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n", 20))); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond) // the replies fill the socket's buffers
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			if err := s.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown returned %v after %v: it waited for a client that does not read its replies",
					err, time.Since(start).Round(time.Millisecond))
			}
		})
	}
}

// TestShutdownBesideSlowReader shuts the server down, with a grace of 10
// s, while a client reads a reply of 8 MiB at about 3 MB/s: it must get
// the whole reply, and the shutdown return without error.
func TestShutdownBesideSlowReader(t *testing.T) {
	for _, mode := range []string{"loop", "goroutine"} {
		t.Run(mode, func(t *testing.T) {
			s, nc, reply := serveBig(t, mode, 8<<20, 64<<10)
			if _, err := nc.Write([]byte("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n")); err != nil {
				t.Fatal(err)
			}
			got := make(chan int, 1)
			go func() {
				n := 0
				buf := make([]byte, 64<<10)
				for {
					_ = nc.SetReadDeadline(time.Now().Add(testTimeout))
					k, err := nc.Read(buf)
					n += k
					if err != nil || n >= reply {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				got <- n
			}()
			time.Sleep(100 * time.Millisecond)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			if n := <-got; n < reply {
				t.Errorf("a client reading its reply was cut off after %d of %d bytes", n, reply)
			}
		})
	}
}

// serveBig serves a store, in the given mode, whose key "big" holds size
// bytes, and returns the server, a client connection with a receive buffer
// of rbuf bytes (closed when the test ends), and the length of the reply
// to a GET of big.
func serveBig(t *testing.T, mode string, size, rbuf int) (*Server, net.Conn, int) {
	t.Helper()
	opts := Options{NoSync: true}
	opts.noEventLoop = mode == "goroutine"
	s, addr := serveStoreMode(t, opts)
	c := rawConn(t, addr)
	big := strings.Repeat("b", size)
	send(t, c, fmt.Sprintf("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n%s\r\n", len(big), big))
	expectLine(t, c, "+OK")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	if err := nc.(*net.TCPConn).SetReadBuffer(rbuf); err != nil {
		t.Fatal(err)
	}
	return s, nc, len(fmt.Sprintf("$%d\r\n", size)) + size + 2
}
