package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/server"
	"github.com/crabkv/crabkv/tui"
)

const testTimeout = 10 * time.Second

// serve runs a crabkv server for a new store on a loopback port until the
// test ends, and returns the store and the address.
func serve(tb testing.TB, opts server.Options) (*kv.DB, string) {
	tb.Helper()
	db, err := kv.Open(tb.TempDir(), &kv.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := server.New(db, opts)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, server.ErrServerClosed) {
			tb.Errorf("serve: %v", err)
		}
		if err := db.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return db, ln.Addr().String()
}

func dial(tb testing.TB, url string) *Store {
	tb.Helper()
	s, err := Dial(url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// The remote store satisfies the inspector's interface.
var _ tui.Store = (*Store)(nil)

// binaryValue is every byte value, twice.
func binaryValue() []byte {
	var b []byte
	for i := range 512 {
		b = append(b, byte(i))
	}
	return b
}

func TestKeysAndValues(t *testing.T) {
	db, addr := serve(t, server.Options{})
	bin := binaryValue()
	want := []string{"a", "b\xff\x00", "empty", "user:1"}
	for i, k := range want {
		v := []byte(fmt.Sprint(i))
		switch k {
		case "b\xff\x00":
			v = bin
		case "empty":
			v = nil
		}
		if err := db.Put([]byte(k), v); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2500 {
		if err := db.Put(fmt.Appendf(nil, "bulk/%05d", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	s := dial(t, "redis://"+addr)
	s.scanCount = 1000 // three pages
	if got, want := s.Name(), "redis://"+addr; got != want {
		t.Errorf("Name = %q, want %q", got, want)
	}
	keys, err := s.Keys()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, db.Keys(nil)) {
		t.Fatalf("Keys: %d keys, store has %d (first %q)", len(keys), len(db.Keys(nil)), keys[:min(3, len(keys))])
	}
	v, err := s.Get("b\xff\x00")
	if err != nil || !bytes.Equal(v, bin) {
		t.Errorf("Get binary = %d bytes, %v", len(v), err)
	}
	if v, err := s.Get("empty"); err != nil || len(v) != 0 {
		t.Errorf("Get empty = %q, %v", v, err)
	}
	if _, err := s.Get("missing"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("Get missing: %v, want kv.ErrNotFound", err)
	}
	info, err := s.Entry("b\xff\x00")
	if err != nil || info.ValueSize != len(bin) || info.Offset != -1 {
		t.Errorf("Entry = %+v, %v", info, err)
	}
	if _, err := s.Entry("missing"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("Entry missing: %v, want kv.ErrNotFound", err)
	}
	sizes, err := s.Sizes([]string{"a", "missing", "empty", "b\xff\x00"})
	if want := []int{1, -1, 0, len(bin)}; err != nil || !slices.Equal(sizes, want) {
		t.Errorf("Sizes = %v, %v; want %v", sizes, err, want)
	}
}

// ReadValueAt reads parts of a value as kv's does: the bytes asked for,
// the whole size, and io.EOF at the end.
func TestReadValueAt(t *testing.T) {
	db, addr := serve(t, server.Options{})
	bin := binaryValue()
	if err := db.Put([]byte("v"), bin); err != nil {
		t.Fatal(err)
	}
	s := dial(t, "redis://"+addr)
	// With GETRANGE, then as with a server that lacks it: cut from GET.
	for _, cut := range []bool{false, true} {
		s.noGetRange.Store(cut)
		for _, tc := range []struct{ off, n int }{{0, 10}, {100, 256}, {500, 12}, {500, 100}, {512, 4}, {0, 512}, {3, 0}} {
			p := make([]byte, tc.n)
			n, size, err := s.ReadValueAt("v", p, int64(tc.off))
			wantN := min(tc.n, len(bin)-tc.off)
			if n != wantN || size != len(bin) || !bytes.Equal(p[:n], bin[tc.off:tc.off+n]) {
				t.Errorf("cut %v: ReadValueAt(off %d, %d bytes) = %d, size %d, %v", cut, tc.off, tc.n, n, size, err)
			}
			if (n < tc.n) != errors.Is(err, io.EOF) || (err != nil && !errors.Is(err, io.EOF)) {
				t.Errorf("cut %v: ReadValueAt(off %d, %d bytes): err %v", cut, tc.off, tc.n, err)
			}
		}
		if _, _, err := s.ReadValueAt("missing", make([]byte, 4), 0); !errors.Is(err, kv.ErrNotFound) {
			t.Errorf("cut %v: ReadValueAt missing: %v", cut, err)
		}
		if s.noGetRange.Load() != cut {
			t.Errorf("cut %v: the server's GETRANGE was taken for missing", cut)
		}
	}
}

func TestWrites(t *testing.T) {
	db, addr := serve(t, server.Options{})
	s := dial(t, "redis://"+addr)
	bin := binaryValue()
	created, err := s.Put("k\x00", bin, tui.KeepTTL)
	if err != nil || !created {
		t.Fatalf("Put new = %v, %v", created, err)
	}
	if created, err := s.Put("k\x00", []byte("v2"), tui.KeepTTL); err != nil || created {
		t.Fatalf("Put existing = %v, %v", created, err)
	}
	if err := s.Create("k\x00", []byte("v3"), 0); !errors.Is(err, tui.ErrExists) {
		t.Fatalf("Create existing: %v, want tui.ErrExists", err)
	}
	if err := s.Create("new", bin, 0); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string][]byte{"k\x00": []byte("v2"), "new": bin} {
		if v, err := db.Get([]byte(k)); err != nil || !bytes.Equal(v, want) {
			t.Errorf("stored %q = %q, %v", k, v, err)
		}
	}
	if err := s.Delete("k\x00"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get([]byte("k\x00")); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("after Delete: %v", err)
	}
	var many []string
	for i := range 2100 {
		k := fmt.Sprintf("m/%05d", i)
		many = append(many, k)
		if err := db.Put([]byte(k), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DeleteKeys(many)
	if err != nil || n != len(many) {
		t.Fatalf("DeleteKeys = %d, %v", n, err)
	}
	if keys := db.Keys(nil); !slices.Equal(keys, []string{"new"}) {
		t.Errorf("keys after DeleteKeys: %d, first %q", len(keys), keys[:min(3, len(keys))])
	}
	if _, err := s.Put("", []byte("v"), tui.KeepTTL); !errors.Is(err, kv.ErrEmptyKey) {
		t.Errorf("Put of an empty key: %v, want kv.ErrEmptyKey", err)
	}
	if err := s.Create("", []byte("v"), 0); !errors.Is(err, kv.ErrEmptyKey) {
		t.Errorf("Create of an empty key: %v, want kv.ErrEmptyKey", err)
	}
}

// Stats and compaction: the figures are the store's, and a compaction
// asked for over the network sends its events to the subscriber.
func TestStatsAndCompaction(t *testing.T) {
	db, addr := serve(t, server.Options{})
	for i := range 200 {
		if err := db.Put(fmt.Appendf(nil, "k%03d", i%50), bytes.Repeat([]byte("v"), 100)); err != nil {
			t.Fatal(err)
		}
	}
	s := dial(t, "redis://"+addr)
	st, err := s.Stats()
	kst := db.Stats()
	if err != nil || st.Keys != 50 || st.LogBytes != kst.LogBytes || st.StaleBytes != kst.StaleBytes || st.LiveBytes != kst.LiveBytes {
		t.Fatalf("Stats = %+v, %v; store %+v", st, err, kst)
	}
	if st.Threshold >= 0 {
		t.Errorf("Threshold %v: the server does not say, so it should be unknown", st.Threshold)
	}
	events, cancel := s.Subscribe()
	defer cancel()
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	var kinds []kv.EventKind
	timeout := time.After(testTimeout)
	for len(kinds) == 0 || kinds[len(kinds)-1] != kv.CompactionFinished {
		select {
		case ev := <-events:
			kinds = append(kinds, ev.Kind)
			if ev.Kind == kv.CompactionFinished && (ev.OldSize != kst.LogBytes || ev.NewSize >= ev.OldSize) {
				t.Errorf("finished event %+v; log was %d", ev, kst.LogBytes)
			}
		case <-timeout:
			t.Fatalf("events so far %v, no Finished", kinds)
		}
	}
	if kinds[0] != kv.CompactionStarted {
		t.Errorf("events %v, want Started first", kinds)
	}
	if st, err := s.Stats(); err != nil || st.Compactions != 1 || st.StaleBytes != 0 {
		t.Errorf("Stats after compaction = %+v, %v", st, err)
	}
	cancel()
	if _, ok := <-events; ok {
		t.Error("the feed is still open after cancel")
	}
}

// Dial says clearly what is wrong with a server it cannot use.
func TestDialErrors(t *testing.T) {
	_, addr := serve(t, server.Options{Password: "s3cret"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	tests := []struct{ url, want string }{
		{"redis://" + closed, "connection refused"},
		{"redis://" + addr, "the server asks for a password"},
		{"redis://:wrong@" + addr, "the server refused the password"},
		{"http://" + addr, "redis://"},
		{"redis://" + addr + "/3", "database 0"},
	}
	for _, tc := range tests {
		s, err := Dial(tc.url)
		if err == nil {
			s.Close()
			t.Errorf("Dial(%s) succeeded", tc.url)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Dial(%s): %v, want it to say %q", tc.url, err, tc.want)
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Errorf("Dial(%s): the error shows the password: %v", tc.url, err)
		}
	}
	s := dial(t, "redis://:s3cret@"+addr)
	if strings.Contains(s.Name(), "s3cret") {
		t.Errorf("Name shows the password: %q", s.Name())
	}
	if _, err := s.Keys(); err != nil {
		t.Errorf("Keys with the password: %v", err)
	}
}

// DialOptions takes the password from outside the address.
func TestDialPasswordOption(t *testing.T) {
	_, addr := serve(t, server.Options{Password: "s3cret"})
	s, err := DialOptions("redis://"+addr, Options{Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Stats(); err != nil {
		t.Error(err)
	}
}

// BenchmarkKeys is the key list of 100,000 keys over SCAN, on loopback.
func BenchmarkKeys(b *testing.B) {
	db, addr := serve(b, server.Options{})
	batch := db.NewBatch()
	for i := range 100_000 {
		if i%1000 == 0 && batch.Len() > 0 {
			if err := db.Write(batch); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
		}
		batch.Put(fmt.Appendf(nil, "user:%07d", i), []byte("v"))
	}
	if err := db.Write(batch); err != nil {
		b.Fatal(err)
	}
	s := dial(b, "redis://"+addr)
	for b.Loop() {
		keys, err := s.Keys()
		if err != nil || len(keys) != 100_000 {
			b.Fatalf("%d keys, %v", len(keys), err)
		}
	}
}

// Writes map the TTL argument onto SET PX, SET KEEPTTL and a plain SET,
// and Entry and Expiries read expiries back with PTTL.
func TestStoreTTL(t *testing.T) {
	db, addr := serve(t, server.Options{})
	s := dial(t, "redis://"+addr)
	ttlOf := func(k string) time.Duration {
		t.Helper()
		d, err := db.TTL([]byte(k))
		if err != nil {
			t.Fatalf("TTL %q: %v", k, err)
		}
		return d
	}
	if err := s.Create("c", []byte("v"), 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if d := ttlOf("c"); d <= 10*time.Minute-testTimeout || d > 10*time.Minute {
		t.Errorf("Create with 10m: TTL %v", d)
	}
	if _, err := s.Put("p", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	at, err := db.ExpiresAt([]byte("p"))
	if err != nil || at.IsZero() {
		t.Fatalf("Put with 1h: expires %v, %v", at, err)
	}
	if _, err := s.Put("p", []byte("v2"), tui.KeepTTL); err != nil {
		t.Fatal(err)
	}
	if got, err := db.ExpiresAt([]byte("p")); err != nil || !got.Equal(at) {
		t.Errorf("Put with KeepTTL: expires %v, %v; want %v", got, err, at)
	}
	if v, _ := db.Get([]byte("p")); string(v) != "v2" {
		t.Errorf("Put with KeepTTL stored %q", v)
	}
	if created, err := s.Put("p", []byte("v3"), tui.KeepExisting); err != nil || created {
		t.Errorf("Put with KeepExisting over p: created %v, %v", created, err)
	}
	if got, err := db.ExpiresAt([]byte("p")); err != nil || !got.Equal(at) {
		t.Errorf("Put with KeepExisting: expires %v, %v; want %v", got, err, at)
	}
	if _, err := s.Put("absent", []byte("v"), tui.KeepExisting); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("Put with KeepExisting of an absent key: %v, want kv.ErrNotFound", err)
	}
	if _, err := db.Get([]byte("absent")); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("Put with KeepExisting created an absent key: %v", err)
	}

	info, err := s.Entry("p")
	if err != nil || info.Expires.IsZero() || info.Expires.Sub(at).Abs() > testTimeout {
		t.Errorf("Entry: expires %v, %v; the store says %v", info.Expires, err, at)
	}
	if err := db.Put([]byte("plain"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	exp, err := s.Expiries([]string{"plain", "p", "missing"})
	if err != nil || len(exp) != 3 || !exp[0].IsZero() || exp[1].IsZero() || !exp[2].IsZero() {
		t.Errorf("Expiries: %v, %v; want none, one, none", exp, err)
	}

	if _, err := s.Put("p", []byte("v3"), tui.NoTTL); err != nil {
		t.Fatal(err)
	}
	if d := ttlOf("p"); d != kv.NoExpiry {
		t.Errorf("Put with NoTTL: TTL %v, want none", d)
	}
}
