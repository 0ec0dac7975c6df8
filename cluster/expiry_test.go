package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/crabkv/crabkv/kv"
)

// asVersion1 returns a command re-encoded as version 1, as a binary that
// did not apply expiries wrote it.
func asVersion1(cmd []byte) []byte {
	b := bytes.Clone(cmd[:len(cmd)-4])
	b[0] = commandVersionPlain
	return appendChecksum(b)
}

// A command is version 1 unless it holds an expiring put, so nodes that
// know only version 1 still read plain writes; a version 1 command with
// an expiring put is refused, as it was when it was written.
func TestCommandVersions(t *testing.T) {
	at := time.Unix(1_900_000_000, 0)
	plain := appendCommand(nil, []Op{Put([]byte("k"), []byte("v")), Delete([]byte("d"))})
	expiring := appendCommand(nil, []Op{Put([]byte("k"), []byte("v")), PutExpiresAt([]byte("e"), []byte("v"), at)})
	if plain[0] != commandVersionPlain || expiring[0] != commandVersionExpiry {
		t.Fatalf("versions %d and %d, want %d and %d", plain[0], expiring[0], commandVersionPlain, commandVersionExpiry)
	}
	ops, err := decodeCommand(expiring)
	if err != nil || len(ops) != 2 || ops[1].Kind != OpPutExpiry || ops[1].Expiry != at.UnixNano() {
		t.Fatalf("decode version 2: %+v, %v", ops, err)
	}
	if _, err := decodeCommand(asVersion1(expiring)); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("version 1 with an expiry: %v, want ErrUnsupported", err)
	}
	if ops, err := decodeCommand(asVersion1(plain)); err != nil || len(ops) != 2 {
		t.Fatalf("version 1 plain: %+v, %v", ops, err)
	}
}

// testClock is a clock a test moves by hand.
type testClock struct{ ns atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *testClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// expiries returns the node-independent state of f: each present key's
// value and expiry.
func expiries(t testing.TB, f *fsm) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := f.read(func(db *kv.DB) error {
		keys, err := db.CheckedKeys(nil)
		for _, k := range keys {
			if isReserved([]byte(k)) {
				continue
			}
			v, err := getExpiring(db, []byte(k))
			if err != nil {
				return err
			}
			if v.value != nil {
				m[k] = fmt.Sprintf("%s until %d", v.value, v.expiry)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Expiring puts apply with the expiry the entry carries, whenever they
// are applied: a restart skips them, a replay on a new store writes the
// same records, a snapshot carries them, and one applied after its
// expiry leaves the key absent.
func TestFSMExpiringEntries(t *testing.T) {
	t0 := time.Unix(1_900_000_000, 0)
	clock := newTestClock(t0)
	opts := &kv.Options{Clock: clock.now}
	logs := []*raft.Log{
		entry(1, PutExpiresAt([]byte("a"), []byte("1"), t0.Add(10*time.Second)), Put([]byte("b"), []byte("2"))),
		entry(2, PutExpiresAt([]byte("gone"), []byte("x"), t0.Add(-time.Second))),
		entry(3, Put([]byte("b"), []byte("3")), PutExpiresAt([]byte("c"), []byte("4"), t0.Add(time.Hour))),
	}
	want := map[string]string{
		"a": fmt.Sprintf("1 until %d", t0.Add(10*time.Second).UnixNano()),
		"b": "3 until 0",
		"c": fmt.Sprintf("4 until %d", t0.Add(time.Hour).UnixNano()),
	}
	dir := t.TempDir()
	f := openTestFSMOpts(t, dir, opts)
	mustApply(t, f, logs...)
	if got := expiries(t, f); !maps.Equal(got, want) {
		t.Fatalf("applied: %v, want %v", got, want)
	}

	// The snapshot holds the expiries, and a restore brings them back.
	snap := snapshotOf(t, f)
	if got := readSnapshot(t, snap); !maps.Equal(got, map[string]string{"a": "1 until 1900000010000000000", "b": "3", "c": "4 until 1900003600000000000"}) {
		t.Fatalf("snapshot: %v", got)
	}
	r := openTestFSMOpts(t, t.TempDir(), opts)
	if err := r.Restore(readCloser(snap)); err != nil {
		t.Fatal(err)
	}
	if got := expiries(t, r); !maps.Equal(got, want) {
		t.Errorf("restored: %v, want %v", got, want)
	}

	// A restart replays the log from the start: nothing is written again.
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	f = openTestFSMOpts(t, dir, opts)
	mustApply(t, f, logs...)
	if f.written.Load() != 0 || f.skipped.Load() != 3 {
		t.Errorf("restart replay: written %d, skipped %d; want 0, 3", f.written.Load(), f.skipped.Load())
	}
	if got := expiries(t, f); !maps.Equal(got, want) {
		t.Errorf("restarted: %v, want %v", got, want)
	}

	// A node that applies the log after a has expired agrees with the
	// others once their clocks pass it too.
	clock.advance(time.Minute)
	late := openTestFSMOpts(t, t.TempDir(), opts)
	mustApply(t, late, logs...)
	delete(want, "a")
	for name, g := range map[string]*fsm{"late replay": late, "restarted": f, "restored": r} {
		if got := expiries(t, g); !maps.Equal(got, want) {
			t.Errorf("%s, a minute on: %v, want %v", name, got, want)
		}
	}
}

// Every truncated prefix of a snapshot with an expiring record is
// refused, and a record with an expiry at or before 1970 too.
func TestSnapshotExpiringRecordDamage(t *testing.T) {
	var buf bytes.Buffer
	sw := newSnapshotWriter(&buf, 7)
	sw.record([]byte("k"), []byte("v"), 1_900_000_000_000_000_000)
	if err := sw.close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	for n := range len(b) {
		if err := drain(b[:n]); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("prefix of %d bytes: %v, want ErrBadSnapshot", n, err)
		}
	}
	if err := drain(b); err != nil {
		t.Fatalf("whole snapshot: %v", err)
	}
	buf.Reset()
	sw = newSnapshotWriter(&buf, 7)
	sw.record([]byte("k"), []byte("v"), -1)
	if err := sw.close(); err != nil {
		t.Fatal(err)
	}
	if err := drain(buf.Bytes()); !errors.Is(err, ErrBadSnapshot) {
		t.Errorf("expiry before 1970: %v, want ErrBadSnapshot", err)
	}
}

func drain(b []byte) error {
	sr, err := newSnapshotReader(bytes.NewReader(b))
	for err == nil {
		_, err = sr.next()
	}
	if err == io.EOF {
		return nil
	}
	return err
}

// Through the RESP front-end of a three-node cluster, every way of
// making a key expire reaches every node as the same absolute expiry.
func TestStoreExpiringKeys(t *testing.T) {
	tc := startCluster(t, 3, nil)
	nodes := serveCluster(t, tc)
	l := tc.leader()
	c := ctx(t)
	lc := redisClient(t, nodes[l.ID()].addr)

	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	exat := time.Now().Add(time.Hour).Truncate(time.Second)
	must("SET EX", lc.Set(c, "ex", "1", time.Hour).Err())
	must("SET PXAT", lc.Do(c, "SET", "pxat", "2", "PXAT", exat.UnixMilli()).Err())
	must("SETEX", lc.Do(c, "SETEX", "setex", 3600, "3").Err())
	must("SET", lc.Set(c, "plain", "4", 0).Err())
	must("SET persist", lc.Set(c, "persist", "5", time.Hour).Err())
	must("SET keep", lc.Set(c, "keep", "6", 0).Err())
	must("SET del", lc.Set(c, "del", "7", 0).Err())
	must("SET short", lc.Set(c, "short", "8", 0).Err())
	wantInt := func(what string, got int64, err error, want int64) {
		t.Helper()
		if err != nil || got != want {
			t.Fatalf("%s: %d, %v; want %d", what, got, err, want)
		}
	}
	ok, err := lc.ExpireAt(c, "plain", exat).Result()
	wantInt("EXPIREAT plain", b2i(ok), err, 1)
	ok, err = lc.Persist(c, "persist").Result()
	wantInt("PERSIST", b2i(ok), err, 1)
	ok, err = lc.Persist(c, "plain-absent").Result()
	wantInt("PERSIST absent", b2i(ok), err, 0)
	ok, err = lc.Expire(c, "absent", time.Hour).Result()
	wantInt("EXPIRE absent", b2i(ok), err, 0)
	ok, err = lc.PExpire(c, "keep", time.Hour).Result()
	wantInt("PEXPIRE keep", b2i(ok), err, 1)
	must("SET KEEPTTL", lc.Do(c, "SET", "keep", "6b", "KEEPTTL").Err())
	ok, err = lc.Expire(c, "del", -time.Second).Result()
	wantInt("EXPIRE negative", b2i(ok), err, 1)
	must("SET PX", lc.Set(c, "short", "8", time.Millisecond).Err())

	d, err := lc.TTL(c, "ex").Result()
	if err != nil || d <= 0 || d > time.Hour {
		t.Fatalf("TTL ex on the leader: %v, %v", d, err)
	}
	if got, err := lc.TTL(c, "persist").Result(); err != nil || got != -1 {
		t.Fatalf("TTL persist: %v, %v; want -1", got, err)
	}
	if v, err := lc.Get(c, "keep").Result(); err != nil || v != "6b" {
		t.Fatalf("GET keep: %q, %v", v, err)
	}
	waitFor(t, "short to expire on the leader", func() bool {
		n, err := lc.Exists(c, "short").Result()
		return err == nil && n == 0
	})

	tc.waitConverged()
	leaderState := expiries(t, l.fsm)
	for _, k := range []string{"del", "short"} {
		if _, ok := leaderState[k]; ok {
			t.Errorf("%s is still on the leader: %v", k, leaderState)
		}
	}
	for _, k := range []string{"ex", "pxat", "setex", "plain", "keep"} {
		if s := leaderState[k]; s == "" || s[len(s)-8:] == "until 0" {
			t.Errorf("%s has no expiry on the leader: %q", k, s)
		}
	}
	if s := leaderState["pxat"]; s != fmt.Sprintf("2 until %d", exat.UnixNano()) {
		t.Errorf("pxat = %q, want expiry %d", s, exat.UnixNano())
	}
	for id, n := range tc.nodes {
		if got := expiries(t, n.fsm); !maps.Equal(got, leaderState) {
			t.Errorf("node %s: %v, leader %v", id, got, leaderState)
		}
	}
	// A follower answers TTL from its own copy after READONLY.
	for id, s := range nodes {
		if id == l.ID() {
			continue
		}
		conn := redisClient(t, s.addr).Conn()
		defer conn.Close()
		must("READONLY", conn.ReadOnly(c).Err())
		if d, err := conn.PTTL(c, "setex").Result(); err != nil || d <= 0 {
			t.Errorf("PTTL on follower %s: %v, %v", id, d, err)
		}
		wantMoved := conn.Expire(c, "ex", time.Minute).Err()
		if wantMoved == nil || wantMoved.Error()[:5] != "MOVED" {
			t.Errorf("EXPIRE on follower %s: %v, want MOVED", id, wantMoved)
		}
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func readCloser(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }
