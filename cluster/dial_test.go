package cluster

import (
	"io"
	"maps"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// forwarder relays TCP connections to target and counts them.
type forwarder struct {
	ln       net.Listener
	target   string
	accepted atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex // guards conns
	conns    []net.Conn // to close at the end: raft leaves its pooled ones open
}

func newForwarder(t *testing.T, target string) *forwarder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{ln: ln, target: target}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.accepted.Add(1)
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			f.mu.Lock()
			f.conns = append(f.conns, c, up)
			f.mu.Unlock()
			f.wg.Add(2)
			go func() { defer f.wg.Done(); io.Copy(up, c); up.Close() }()
			go func() { defer f.wg.Done(); io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

// A node reaches a member listed in Config.Dial at the address given
// there, and the others at their raft addresses.
func TestDialReachesMembersThroughOtherAddresses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n2Addr := ln.Addr().String()
	ln.Close()
	fwd := newForwarder(t, n2Addr)
	tc := startCluster(t, 3, func(c *Config) {
		switch c.ID {
		case "n1":
			c.Dial = map[string]string{"n2": fwd.ln.Addr().String()}
		case "n2":
			c.RaftAddr = n2Addr
		}
	})
	if fwd.accepted.Load() == 0 {
		t.Fatal("n1 never dialed n2 through the address Config.Dial gives")
	}
	want := map[string]string{}
	for _, k := range []string{"a", "b", "c"} {
		tc.retry("put "+k, func(l *Node) error { return l.Put(ctx(t), []byte(k), []byte("v"+k)) })
		want[k] = "v" + k
	}
	tc.waitConverged()
	for id, n := range tc.nodes {
		if got := contents(t, n); !maps.Equal(got, want) {
			t.Errorf("%s holds %v, want %v", id, got, want)
		}
	}
}
