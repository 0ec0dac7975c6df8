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

// FuzzDispatch runs arbitrary argument arrays, split from the input at
// zero bytes, through the command layer: none may panic, and every one
// gets a reply.
func FuzzDispatch(f *testing.F) {
	for _, seed := range []string{
		"GET\x00k", "SET\x00k\x00v\x00NX\x00GET", "SET\x00k\x00v\x00EX\x0010", "MSET\x00a\x00b\x00c",
		"SCAN\x000\x00MATCH\x00[a-\x00COUNT\x00-1", "KEYS\x00\\", "HELLO\x002\x00AUTH\x00default",
		"CLIENT\x00SETNAME\x00a b", "SUBSCRIBE\x00crabkv:compaction", "UNSUBSCRIBE", "COMMAND\x00INFO\x00get\x00nope",
		"INFO\x00crabkv", "DEL\x00\x00", "FLUSHDB\x00ASYNC", "PING\x00x",
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
		var out bytes.Buffer
		c.w = redcon.NewWriter(&out)
		c.wmu.Lock()
		c.dispatch(bytes.Split(in, []byte{0}))
		c.w.Flush()
		n := out.Len()
		c.wmu.Unlock()
		if len(in) > 0 && n == 0 && !bytes.HasPrefix(in, []byte{0}) {
			t.Fatalf("no reply to %q", in)
		}
	})
}
