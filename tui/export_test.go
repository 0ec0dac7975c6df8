package tui

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/crabkv/crabkv/internal/ndjson"
	"github.com/crabkv/crabkv/kv"
)

// rewritingStore rewrites key, value and expiry both, right after the
// first Expiries call returns: between the export's read of the expiry
// and its read of the value.
type rewritingStore struct {
	Store
	db    *kv.DB
	key   string
	value []byte
	ttl   time.Duration
	done  bool
}

func (s *rewritingStore) Expiries(keys []string) ([]time.Time, error) {
	at, err := s.Store.Expiries(keys)
	if !s.done {
		s.done = true
		if perr := s.db.PutTTL([]byte(s.key), s.value, s.ttl); perr != nil {
			return nil, perr
		}
	}
	return at, err
}

// An export pairs each value with its own expiry. It read the expiries of
// a thousand keys first and their values after, so a key rewritten in
// between (SET … EX) was exported with its new value and its old expiry.
func TestExportPairsValueWithItsExpiry(t *testing.T) {
	now := time.Now()
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
	st := &rewritingStore{Store: NewDBStore(db, nil), db: db, key: "k", value: []byte("new"), ttl: 48 * time.Hour}
	dir := t.TempDir()
	tmp, n, err := writeExport(st, []string{"k", "empty"}, dir)
	if err != nil || n != 2 {
		t.Fatalf("export: %d keys, %v; want 2, the empty value too", n, err)
	}
	out, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(out, []byte("\n"))
	if string(lines[1]) != `{"key":"empty","value":""}`+"\n" {
		t.Fatalf("second line %q, want the empty value", lines[1])
	}
	_, value, at, err := ndjson.ParsePair(bytes.TrimSpace(lines[0]))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := db.ExpiresAt([]byte("k"))
	if string(value) != "new" || at.Sub(want).Abs() > time.Millisecond || at.Before(now.Add(47*time.Hour)) {
		t.Fatalf("exported %q expiring at %s; want \"new\" expiring at %s", value, at, want)
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
