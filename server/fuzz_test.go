package server

import (
	"bytes"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/tidwall/redcon"

	"github.com/crabkv/crabkv/kv"
)

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// discardConn is a net.Conn whose writes vanish, for running commands
// without a network.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (discardConn) Close() error                     { return nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }

// countConn is a discardConn that counts the bytes written.
type countConn struct {
	discardConn
	n int
}

func (c *countConn) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

// FuzzDispatch runs arbitrary pipelines of argument arrays through the
// command layer: the input is split into requests at 0x01 bytes, and each
// into arguments at zero bytes. None may panic, and every pipeline with a
// request gets a reply.
func FuzzDispatch(f *testing.F) {
	for _, seed := range []string{
		"GET\x00k", "SET\x00k\x00v\x00NX\x00GET", "SET\x00k\x00v\x00EX\x0010", "MSET\x00a\x00b\x00c",
		"SCAN\x000\x00MATCH\x00[a-\x00COUNT\x00-1", "KEYS\x00\\", "HELLO\x002\x00AUTH\x00default",
		"CLIENT\x00SETNAME\x00a b", "SUBSCRIBE\x00crabkv:compaction", "UNSUBSCRIBE", "COMMAND\x00INFO\x00get\x00nope",
		"INFO\x00crabkv", "DEL\x00\x00", "FLUSHDB\x00ASYNC", "PING\x00x", "GETRANGE\x00k\x00-3\x00-1",
		"MSETNX\x00a\x001\x00b", "MSETNX\x00a\x001\x00a\x002", "EXPIRE\x00k\x0010\x00NX\x00GT",
		"PEXPIREAT\x00k\x00-1\x00XX\x00LT", "DEL\x00a\x00b\x00a",
		"SET\x00a\x001\x01GET\x00a\x01DEL\x00a\x00a\x01MSET\x00a\x002\x00b\x003\x01DEL\x00b\x01SET\x00\x00v",
	} {
		f.Add([]byte(seed))
	}
	db, err := kv.Open(f.TempDir(), &kv.Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	s := New(db, Options{AllowFlush: true})
	f.Fuzz(func(t *testing.T, in []byte) {
		c := newClient(s, discardConn{})
		defer c.close()
		var out countConn
		c.nc = &out
		var cmds []redcon.Command
		asked := false
		for _, req := range bytes.Split(in, []byte{1}) {
			args := bytes.Split(req, []byte{0})
			asked = asked || len(req) > 0 && req[0] != 0
			cmds = append(cmds, redcon.Command{Args: args})
		}
		c.wmu.Lock()
		err := c.runPipeline(cmds)
		c.wmu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if asked && out.n == 0 {
			t.Fatalf("no reply to %q", in)
		}
	})
}
