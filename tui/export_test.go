package tui

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/crabkv/crabkv/internal/ndjson"
	"github.com/crabkv/crabkv/kv"
)

// rewritingStore runs rewrites of a key as another program would, between
// the export's reads: before[i] just before the i-th read of a value, and
// after[i] just after it.
type rewritingStore struct {
	Store
	before, after []func() error
	gets          int
}

func (s *rewritingStore) Get(key string) ([]byte, error) {
	i := s.gets
	s.gets++
	if i < len(s.before) && s.before[i] != nil {
		if err := s.before[i](); err != nil {
			return nil, err
		}
	}
	v, err := s.Store.Get(key)
	if i < len(s.after) && s.after[i] != nil {
		if err := s.after[i](); err != nil {
			return nil, err
		}
	}
	return v, err
}

// exported runs the export of keys from st and returns its lines' keys,
// values and expiries.
func exported(t *testing.T, st Store, keys ...string) (got []string, values [][]byte, expires []time.Time) {
	t.Helper()
	tmp, _, err := writeExport(st, keys, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.SplitAfter(out, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		k, v, at, err := ndjson.ParsePair(line)
		if err != nil {
			t.Fatal(err)
		}
		got, values, expires = append(got, string(k)), append(values, v), append(expires, at)
	}
	return got, values, expires
}

// An export pairs each value with its own expiry. It read the expiries of
// a thousand keys first and their values after, so a key rewritten in
// between (SET … EX) was exported with its new value and its old expiry;
// and, comparing expiries alone, a key rewritten there and back again
// (no expiry, then a TTL, then none) with a value that only ever had the
// TTL. An empty value is exported as one.
func TestExportPairsValueWithItsExpiry(t *testing.T) {
	db, err := kv.Open(t.TempDir(), &kv.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PutTTL([]byte("k"), []byte("old"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := db.Put([]byte("empty"), nil); err != nil {
		t.Fatal(err)
	}
	st := &rewritingStore{Store: NewDBStore(db, nil), before: []func() error{
		func() error { return db.PutTTL([]byte("k"), []byte("new"), 48*time.Hour) },
	}}
	keys, values, expires := exported(t, st, "k", "empty")
	want, _ := db.ExpiresAt([]byte("k"))
	if len(keys) != 2 || string(values[0]) != "new" || expires[0].Sub(want).Abs() > time.Millisecond {
		t.Fatalf("exported %q %q %v; want k \"new\" expiring at %s, and the empty value", keys, values, expires, want)
	}
	if keys[1] != "empty" || len(values[1]) != 0 || !expires[1].IsZero() {
		t.Fatalf("exported %q %q %v for the empty value", keys[1], values[1], expires[1])
	}

	if err := db.Put([]byte("aba"), []byte("v1")); err != nil {
		t.Fatal(err)
	}
	st = &rewritingStore{Store: NewDBStore(db, nil),
		before: []func() error{func() error { return db.PutTTL([]byte("aba"), []byte("v2"), time.Hour) }},
		after:  []func() error{func() error { return db.Put([]byte("aba"), []byte("v3")) }},
	}
	// v2, read with its hour, is gone by the look after: the expiry read
	// then is v3's, none, as it was v1's before.
	_, values, expires = exported(t, st, "aba")
	if len(values) != 1 || (string(values[0]) == "v2") == expires[0].IsZero() {
		t.Fatalf("exported %q expiring at %v: a pair no moment had", values, expires)
	}
}

// Overwriting an export keeps the file's permissions, and a symbolic
// link stays a link, to a target that now holds the export: the export
// took the temporary file's 0600 and replaced the link with a file.
func TestExportOverwriteKeepsModeAndLink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes and symbolic links")
	}
	db, err := kv.Open(t.TempDir(), &kv.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Put([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "target.ndjson")
	if err := os.WriteFile(target, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(target, 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.ndjson")
	if err := os.Symlink("target.ndjson", link); err != nil {
		t.Fatal(err)
	}
	msg := exportCmd(NewDBStore(db, nil), []string{"k"}, link, true)().(exportDoneMsg)
	if msg.err != nil || msg.n != 1 {
		t.Fatalf("export: %+v", msg)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link: %v, %v; want it still a symbolic link", fi.Mode(), err)
	}
	got, err := os.ReadFile(target)
	if err != nil || !bytes.Contains(got, []byte(`"key":"k"`)) {
		t.Fatalf("target holds %q, %v; want the export", got, err)
	}
	if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("target mode %v, %v; want 0640 as it was", fi.Mode().Perm(), err)
	}
	// A new file gets the mode a new file gets (0666 less the umask), not
	// 0600.
	fresh := filepath.Join(dir, "fresh.ndjson")
	if msg := exportCmd(NewDBStore(db, nil), []string{"k"}, fresh, false)().(exportDoneMsg); msg.err != nil {
		t.Fatal(msg.err)
	}
	probe := filepath.Join(dir, "probe")
	if err := os.WriteFile(probe, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	pi, _ := os.Stat(probe)
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != pi.Mode().Perm() {
		t.Fatalf("new export mode %v, %v; want %v, as any new file", fi.Mode().Perm(), err, pi.Mode().Perm())
	}
}

// The first key listed is gone by the export: the export still reads the
// others record by record. It asked the first key only, found nothing,
// and compared expiries instead, where a rewrite there and back passes.
func TestExportFirstKeyGone(t *testing.T) {
	db, err := kv.Open(t.TempDir(), &kv.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Put([]byte("aba"), []byte("v1")); err != nil {
		t.Fatal(err)
	}
	aba := func(i int) []func() error {
		f := make([]func() error, 2)
		f[i] = func() error { return db.PutTTL([]byte("aba"), []byte("v2"), time.Hour) }
		return f
	}
	// The value's first read is the first Get when the export goes record
	// by record, the second when it reads the gone key's value too.
	for _, i := range []int{0, 1} {
		st := &rewritingStore{Store: NewDBStore(db, nil), before: aba(i),
			after: []func() error{nil, nil}}
		st.after[i] = func() error { return db.Put([]byte("aba"), []byte("v3")) }
		_, values, expires := exported(t, st, "a-deleted-key", "aba")
		if len(values) != 1 || (string(values[0]) == "v2") == expires[0].IsZero() {
			t.Fatalf("exported %q expiring at %v: a pair no moment had", values, expires)
		}
		if err := db.Put([]byte("aba"), []byte("v1")); err != nil {
			t.Fatal(err)
		}
	}
}

// A key rewritten at every read is an error, not a line that pairs its
// value with another record's expiry.
func TestExportRewrittenAtEveryRead(t *testing.T) {
	db, err := kv.Open(t.TempDir(), &kv.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Put([]byte("k"), []byte("v0")); err != nil {
		t.Fatal(err)
	}
	st := &rewritingStore{Store: NewDBStore(db, nil)}
	for range exportTries {
		st.before = append(st.before, func() error { return db.PutTTL([]byte("k"), []byte("ttl"), time.Hour) })
		st.after = append(st.after, func() error { return db.Put([]byte("k"), []byte("none")) })
	}
	if _, _, err := writeExport(st, []string{"k"}, t.TempDir()); err == nil || !strings.Contains(err.Error(), "rewritten") {
		t.Fatalf("export of a key rewritten at every read: %v, want an error", err)
	}
}

// failingStore fails every call, as a server that stopped answering does,
// and counts the calls to Entry.
type failingStore struct {
	Store
	entries int
}

func (s *failingStore) Entry(string) (ValueInfo, error) {
	s.entries++
	return ValueInfo{}, errors.New("i/o timeout")
}

func (s *failingStore) Expiries([]string) ([]time.Time, error) {
	return nil, errors.New("i/o timeout")
}

func (s *failingStore) Get(string) ([]byte, error) { return nil, errors.New("i/o timeout") }

// An export from a store that fails asks it once, not once a key (each
// call to a server that stopped answering waits out its timeout).
func TestExportFailingStoreAskedOnce(t *testing.T) {
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	st := &failingStore{}
	if _, _, err := writeExport(st, keys, t.TempDir()); err == nil {
		t.Fatal("export from a failing store: no error")
	}
	if st.entries > 1 {
		t.Fatalf("the failing store was asked %d times where a key is, want once", st.entries)
	}
}
