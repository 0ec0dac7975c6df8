package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crabkv/crabkv/kv"
	"github.com/hashicorp/raft"
)

func openTestFSM(t testing.TB, dir string) *fsm {
	t.Helper()
	return openTestFSMOpts(t, dir, nil)
}

func openTestFSMOpts(t testing.TB, dir string, opts *kv.Options) *fsm {
	t.Helper()
	f, err := openFSM(dir, kvOptions(opts))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func entry(index uint64, ops ...Op) *raft.Log {
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: appendCommand(nil, ops)}
}

func get(t testing.TB, f *fsm, key string) (string, bool) {
	t.Helper()
	var v []byte
	err := f.read(func(db *kv.DB) (err error) { v, err = db.Get([]byte(key)); return err })
	if errors.Is(err, kv.ErrNotFound) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(v), true
}

func mustApply(t testing.TB, f *fsm, logs ...*raft.Log) {
	t.Helper()
	for i, r := range f.ApplyBatch(logs) {
		if r != nil {
			t.Fatalf("entry %d: %v", logs[i].Index, r)
		}
	}
}

func logBytes(f *fsm) int64 {
	var n int64
	_ = f.read(func(db *kv.DB) error { n = db.Stats().LogBytes; return nil })
	return n
}

// The applied index is stored with the writes: reopened, the store skips
// the entries it holds and applies only the rest.
func TestFSMAppliedIndexSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	f := openTestFSM(t, dir)
	mustApply(t, f, entry(1, Put([]byte("a"), []byte("1"))), entry(2, Put([]byte("a"), []byte("2"))),
		&raft.Log{Index: 3, Type: raft.LogConfiguration})
	if f.durable != 3 {
		t.Fatalf("durable = %d, want 3", f.durable)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	f = openTestFSM(t, dir)
	if f.durable != 3 || f.applied.get() != 3 {
		t.Fatalf("reopened at durable %d, applied %d; want 3", f.durable, f.applied.get())
	}
	before := logBytes(f)
	// Raft replays 1..3 and then sends 4: an increment-like overwrite of
	// "a" by a replay would show as a write and a grown log.
	mustApply(t, f, entry(1, Put([]byte("a"), []byte("1"))), entry(2, Put([]byte("a"), []byte("2"))),
		&raft.Log{Index: 3, Type: raft.LogConfiguration})
	if got := logBytes(f); got != before || f.written.Load() != 0 || f.skipped.Load() != 3 {
		t.Fatalf("replay wrote: log %d -> %d bytes, written %d, skipped %d", before, got, f.written.Load(), f.skipped.Load())
	}
	mustApply(t, f, entry(4, Put([]byte("b"), []byte("x"))))
	if v, _ := get(t, f, "a"); v != "2" {
		t.Errorf("a = %q, want 2", v)
	}
	if v, _ := get(t, f, "b"); v != "x" || f.written.Load() != 1 {
		t.Errorf("b = %q, written %d; want x, 1", v, f.written.Load())
	}
}

// A refused entry writes nothing — none of a batch's operations — and
// does not stop the entries around it.
func TestFSMRefusedEntryWritesNothing(t *testing.T) {
	f := openTestFSMOpts(t, t.TempDir(), &kv.Options{MaxKeySize: 16})
	tests := []struct {
		name string
		ops  []Op
		want error
	}{
		{"reserved key", []Op{Put([]byte("x1"), []byte("v")), Put(appliedKey, []byte("12345678"))}, ErrReservedKey},
		{"key too large", []Op{Put([]byte("x2"), []byte("v")), Delete(bytes.Repeat([]byte("k"), 17))}, kv.ErrKeyTooLarge},
		{"expiry before 1970", []Op{Put([]byte("x3"), []byte("v")), {Kind: OpPutExpiry, Key: []byte("e"), Value: []byte("v"), Expiry: -5}}, kv.ErrInvalidTTL},
		{"empty key", []Op{Put([]byte("x4"), []byte("v")), Put(nil, []byte("v"))}, kv.ErrEmptyKey},
		// Version 1 commands never applied an expiry: a replay refuses
		// them as every node did when they were new.
		{"expiry in a version 1 command", []Op{Put([]byte("x6"), []byte("v")), PutExpiresAt([]byte("e"), []byte("v"), time.Now().Add(time.Hour))}, ErrUnsupported},
	}
	logs := []*raft.Log{entry(1, Put([]byte("before"), []byte("1")))}
	for i, tt := range tests {
		l := entry(uint64(i+2), tt.ops...)
		if strings.Contains(tt.name, "version 1") {
			l.Data = asVersion1(l.Data)
		}
		logs = append(logs, l)
	}
	logs = append(logs, entry(uint64(len(logs)+1), Put([]byte("after"), []byte("1"))),
		&raft.Log{Index: uint64(len(logs) + 2), Type: raft.LogCommand, Data: []byte("garbage")})
	resp := f.ApplyBatch(logs)
	for i, tt := range tests {
		err, _ := resp[i+1].(error)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: response %v, want %v", tt.name, resp[i+1], tt.want)
		}
		if _, ok := get(t, f, fmt.Sprintf("x%d", i+1)); ok {
			t.Errorf("%s: the batch's valid put was applied", tt.name)
		}
	}
	if err, _ := resp[len(resp)-1].(error); !errors.Is(err, ErrBadCommand) {
		t.Errorf("garbage entry: response %v, want ErrBadCommand", resp[len(resp)-1])
	}
	for _, k := range []string{"before", "after"} {
		if _, ok := get(t, f, k); !ok {
			t.Errorf("%s was not applied", k)
		}
	}
	if f.durable != uint64(len(logs)) {
		t.Errorf("durable = %d, want %d", f.durable, len(logs))
	}
}

// A snapshot is the store as it was when raft asked for it, whatever is
// applied while it is persisted.
func TestFSMSnapshotIsPointInTime(t *testing.T) {
	f := openTestFSM(t, t.TempDir())
	mustApply(t, f, entry(1, Put([]byte("a"), []byte("1")), Put([]byte("b"), []byte("1")), Put([]byte("c"), []byte("1"))))
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, f, entry(2, Put([]byte("a"), []byte("2")), Delete([]byte("b")), Put([]byte("d"), []byte("2"))))
	var buf bytes.Buffer
	if err := snap.(*cowSnapshot).write(&buf); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	got := readSnapshot(t, buf.Bytes())
	want := map[string]string{"a": "1", "b": "1", "c": "1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("snapshot = %v, want %v", got, want)
	}
	// Released: later writes save nothing.
	mustApply(t, f, entry(3, Put([]byte("c"), []byte("3"))))
	if f.snap != nil {
		t.Fatal("snapshot still registered after Release")
	}
}

func readSnapshot(t testing.TB, b []byte) map[string]string {
	t.Helper()
	sr, err := newSnapshotReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for {
		r, err := sr.next()
		if err == io.EOF {
			return m
		}
		if err != nil {
			t.Fatal(err)
		}
		m[string(r.key)] = string(r.value)
		if r.expiry != 0 {
			m[string(r.key)] += fmt.Sprintf(" until %d", r.expiry)
		}
	}
}

func snapshotOf(t testing.TB, f *fsm) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	var buf bytes.Buffer
	if err := snap.(*cowSnapshot).write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Restore replaces the store whole, applied index included; a truncated
// or damaged snapshot leaves the old store as it was.
func TestFSMRestore(t *testing.T) {
	src := openTestFSM(t, t.TempDir())
	mustApply(t, src, entry(1, Put([]byte("k1"), []byte("v1")), Put([]byte{0, 1}, []byte{2, 0})), entry(7, Put([]byte("k2"), nil)))
	snap := snapshotOf(t, src)

	dst := openTestFSM(t, t.TempDir())
	mustApply(t, dst, entry(1, Put([]byte("old"), []byte("x"))))
	for n := 0; n < len(snap); n += 1 + n/3 {
		if err := dst.Restore(io.NopCloser(bytes.NewReader(snap[:n]))); !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("prefix of %d bytes: err = %v, want ErrBadSnapshot", n, err)
		}
	}
	for i := range snap {
		b := bytes.Clone(snap)
		b[i] ^= 0x10
		if err := dst.Restore(io.NopCloser(bytes.NewReader(b))); err == nil {
			t.Fatalf("byte %d flipped: restored", i)
		}
	}
	if v, ok := get(t, dst, "old"); !ok || v != "x" || dst.durable != 1 {
		t.Fatalf("a failed restore changed the store: old = %q %v, durable %d", v, ok, dst.durable)
	}
	if err := dst.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatal(err)
	}
	if _, ok := get(t, dst, "old"); ok {
		t.Error("restore kept a key the snapshot does not have")
	}
	if v, _ := get(t, dst, "\x00\x01"); v != "\x02\x00" {
		t.Errorf("binary key = %q", v)
	}
	if _, ok := get(t, dst, "k2"); !ok || dst.durable != 7 || dst.applied.get() != 7 {
		t.Errorf("k2 present %v, durable %d, applied %d; want true, 7, 7", ok, dst.durable, dst.applied.get())
	}
	if _, err := os.Stat(filepath.Join(dst.dir, restoreName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("restore left %s behind: %v", restoreName, err)
	}
}

// A crash between the rebuild and the swap leaves a complete store in
// kv.ready, which Open swaps in; a crash during the rebuild leaves
// kv.restore, which Open discards.
func TestFSMOpenFinishesInterruptedSwap(t *testing.T) {
	src := openTestFSM(t, t.TempDir())
	mustApply(t, src, entry(5, Put([]byte("new"), []byte("1"))))
	snap := snapshotOf(t, src)

	dir := t.TempDir()
	f := openTestFSM(t, dir)
	mustApply(t, f, entry(1, Put([]byte("old"), []byte("1"))))
	if _, err := f.rebuild(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// Crash here, after the rebuild: the swap is finished at Open.
	f = openTestFSM(t, dir)
	if _, ok := get(t, f, "new"); !ok || f.durable != 5 {
		t.Fatalf("interrupted swap not finished: new present %v, durable %d", ok, f.durable)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// A half-built kv.restore is discarded.
	if err := os.MkdirAll(filepath.Join(dir, restoreName), 0o755); err != nil {
		t.Fatal(err)
	}
	f = openTestFSM(t, dir)
	if _, ok := get(t, f, "new"); !ok {
		t.Fatal("store lost")
	}
	for _, name := range []string{restoreName, readyName, oldName} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind: %v", name, err)
		}
	}
}
