package kv

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The hint is used with its expiry sidecar; a sidecar that is damaged,
// missing, or of another state of the log costs a full replay, and the
// expiries are right either way.
func TestExpirySidecar(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	opts := *manualPolicy
	opts.Clock = func() time.Time { return now }
	side := func(dir string) string { return filepath.Join(dir, hintName+expHintSuffix) }
	setup := func(t *testing.T) string {
		dir := t.TempDir()
		db, err := Open(dir, &opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.PutTTL([]byte("k"), []byte("v"), time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := db.Put([]byte("p"), []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	cases := []struct {
		name   string
		spoil  func(t *testing.T, dir string)
		hinted bool
	}{
		{"sound", func(*testing.T, string) {}, true},
		{"missing", func(t *testing.T, dir string) {
			if err := os.Remove(side(dir)); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"damaged entry", func(t *testing.T, dir string) {
			b, err := os.ReadFile(side(dir))
			if err != nil {
				t.Fatal(err)
			}
			b[expHintHeader+9] ^= 1
			if err := os.WriteFile(side(dir), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"of an earlier state", func(t *testing.T, dir string) {
			old, err := os.ReadFile(side(dir))
			if err != nil {
				t.Fatal(err)
			}
			db, err := Open(dir, &opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Persist([]byte("k")); err != nil {
				t.Fatal(err)
			}
			if err := db.PutTTL([]byte("p"), []byte("v"), time.Hour); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(side(dir), old, 0o644); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := setup(t)
			tc.spoil(t, dir)
			db, err := Open(dir, &opts)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if got := db.hintCovered != 0; got != tc.hinted {
				t.Fatalf("hint used: %v, want %v", got, tc.hinted)
			}
			want := map[string]time.Duration{"k": time.Hour, "p": NoExpiry}
			if tc.name == "of an earlier state" {
				want = map[string]time.Duration{"k": NoExpiry, "p": time.Hour}
			}
			for k, d := range want {
				if got, err := db.TTL([]byte(k)); err != nil || got != d {
					t.Fatalf("TTL(%s) = %v, %v; want %v", k, got, err, d)
				}
			}
		})
	}
}
