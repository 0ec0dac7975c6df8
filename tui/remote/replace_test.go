package remote

import (
	"errors"
	"testing"
	"time"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/server"
	"github.com/crabkv/crabkv/tui"
)

// TestReplace writes over the value an edit began from, and only over it:
// a changed key is left as it is with tui.ErrChanged, a key that is gone
// is not created again, and KEEPTTL keeps the key's expiry.
func TestReplace(t *testing.T) {
	db, addr := serve(t, server.Options{})
	s := dial(t, "redis://"+addr)
	if err := db.PutTTL([]byte("k"), []byte("v1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Replace("k", []byte("v1"), []byte("v2"), tui.KeepTTL); err != nil {
		t.Fatalf("Replace over the value it began from: %v", err)
	}
	if e, err := db.Entry([]byte("k")); err != nil || e.Expires.IsZero() {
		t.Errorf("Replace with KeepTTL: expiry %v, %v; want the key's", e.Expires, err)
	}
	if err := s.Replace("k", []byte("v1"), []byte("v3"), tui.KeepTTL); !errors.Is(err, tui.ErrChanged) {
		t.Errorf("Replace over a changed value: %v, want ErrChanged", err)
	}
	if v, _ := db.Get([]byte("k")); string(v) != "v2" {
		t.Errorf("k = %q after a refused Replace, want v2", v)
	}
	if err := s.Replace("gone", nil, []byte("v"), tui.NoTTL); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("Replace of a missing key: %v, want ErrNotFound", err)
	}
	if _, err := db.Get([]byte("gone")); !errors.Is(err, kv.ErrNotFound) {
		t.Error("Replace created a missing key")
	}
	if err := s.Replace("k", []byte("v2"), []byte("v4"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if e, err := db.Entry([]byte("k")); err != nil || time.Until(e.Expires) > 2*time.Minute {
		t.Errorf("Replace with a TTL of a minute: expires %v, %v", e.Expires, err)
	}
}
