package main

import (
	"net"
	"sync"
	"testing"
	"time"
)

// linkProxy carries the raft connections one node opens to one peer (the
// link from → to, given to the node with --raft-dial), and can cut them.
// A cut either drops the link's bytes (connections stay open and hang,
// as behind a firewall that drops packets) or resets it (connections
// close and new ones are refused). Cutting a link stops the RPCs its
// node sends to the peer and their answers; the peer's own RPCs to the
// node take the reverse link, another proxy.
type linkProxy struct {
	from, to string
	target   string // the peer's raft address
	ln       net.Listener
	wg       sync.WaitGroup // accept loop and pumps

	mu       sync.Mutex // guards the fields below
	cut      bool
	drop     bool                    // a cut drops bytes rather than resetting
	conns    map[*proxyConn]struct{} // open connections
	closed   bool
	accepted int // connections accepted, carried or not
}

// proxyConn is one connection through a linkProxy: the node's side and the
// peer's (nil while the link drops).
type proxyConn struct {
	node, peer net.Conn
	// tainted is set when a cut dropped bytes of the connection: it is
	// closed at the heal, as its stream has a hole.
	tainted bool
}

// newLinkProxy listens on a free loopback port for the link from → to;
// Close stops it at the test's end.
func newLinkProxy(t testing.TB, from, to, target string) *linkProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &linkProxy{from: from, to: to, target: target, ln: ln, conns: map[*proxyConn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *linkProxy) addr() string { return p.ln.Addr().String() }

func (p *linkProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		p.accepted++
		cut, drop, closed := p.cut, p.drop, p.closed
		p.mu.Unlock()
		switch {
		case closed, cut && !drop:
			_ = c.Close() // refused
		case cut:
			p.hold(c)
		default:
			p.carry(c)
		}
	}
}

// hold keeps a connection made while the link drops, reading and dropping
// what the node sends until the heal closes it.
func (p *linkProxy) hold(c net.Conn) {
	pc := &proxyConn{node: c, tainted: true}
	if !p.add(pc) {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 32<<10)
		for {
			if _, err := c.Read(buf); err != nil {
				p.remove(pc)
				return
			}
		}
	}()
}

// carry connects c to the peer and pumps bytes both ways.
func (p *linkProxy) carry(c net.Conn) {
	peer, err := net.DialTimeout("tcp", p.target, time.Second)
	if err != nil {
		_ = c.Close() // the peer is down: so is the connection
		return
	}
	pc := &proxyConn{node: c, peer: peer}
	if !p.add(pc) {
		return
	}
	p.wg.Add(2)
	go p.pump(pc, c, peer)
	go p.pump(pc, peer, c)
}

// pump copies src to dst while the link is up; while it is cut, it drops
// what it reads.
func (p *linkProxy) pump(pc *proxyConn, src, dst net.Conn) {
	defer p.wg.Done()
	defer p.remove(pc)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			cut := p.cut
			if cut {
				pc.tainted = true
			}
			p.mu.Unlock()
			if !cut {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// add registers pc, or closes it if the proxy is closed.
func (p *linkProxy) add(pc *proxyConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		pc.close()
		return false
	}
	p.conns[pc] = struct{}{}
	return true
}

func (p *linkProxy) remove(pc *proxyConn) {
	p.mu.Lock()
	delete(p.conns, pc)
	p.mu.Unlock()
	pc.close()
}

func (pc *proxyConn) close() {
	_ = pc.node.Close() // both ends go; errors say only that one went first
	if pc.peer != nil {
		_ = pc.peer.Close()
	}
}

// setCut cuts the link (drop: bytes are dropped; else connections reset).
func (p *linkProxy) setCut(drop bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut, p.drop = true, drop
	if !drop {
		for pc := range p.conns {
			pc.close()
		}
	}
}

// heal restores the link; connections that lost bytes to the cut are
// closed, and the node dials anew.
func (p *linkProxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	for pc := range p.conns {
		if pc.tainted {
			pc.close()
		}
	}
}

func (p *linkProxy) acceptedConns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

func (p *linkProxy) close() {
	p.mu.Lock()
	p.closed = true
	for pc := range p.conns {
		pc.close()
	}
	p.mu.Unlock()
	_ = p.ln.Close() // ends the accept loop
	p.wg.Wait()
}
