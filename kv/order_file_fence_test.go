package kv

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/crabkv/crabkv/walfmt"
)

// TestOrderFileKeepsTheFence checks that wal.order carries the run's fence,
// so that loading the order reads no keys to build it; that a damaged fence
// is built again from the log, the run still loaded; and that a file of
// version 1, which has none, still loads, and is written again with the
// fence by the next writable store's Close.
func TestOrderFileKeepsTheFence(t *testing.T) {
	dir := t.TempDir()
	scannedStore(t, dir, "user:%05d", 5000)
	// load returns the snapshot wal.order gives, and the fence the log
	// gives its run.
	load := func() (*orderSnap, *fence) {
		s, want := loadedOrder(t, dir)
		if s == nil || len(s.run) != 5000 {
			t.Fatalf("order file not loaded whole: %+v", s)
		}
		return s, want
	}
	s, want := load()
	if want == nil {
		t.Fatal("setup: the run has no fence")
	}
	if s.fence == nil || s.fence.common != want.common || !slices.Equal(s.fence.pfx, want.pfx) {
		t.Fatalf("fence loaded from wal.order = %+v, want %d numbers after %q", s.fence, len(want.pfx), want.common)
	}

	path := filepath.Join(dir, orderName)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	entriesEnd := orderHeader + 8*5000
	if len(orig) <= entriesEnd {
		t.Fatalf("wal.order is %d bytes: no fence after its %d bytes of entries", len(orig), entriesEnd)
	}
	for _, at := range []int{entriesEnd, entriesEnd + 9, len(orig) - 20, len(orig) - 1} {
		b := slices.Clone(orig)
		b[at] ^= 0x10
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if s, _ := load(); s.fence != nil {
			t.Errorf("a fence damaged at byte %d was loaded", at)
		}
	}

	// Numbers that fall, under a checksum that holds: refused too.
	forged := slices.Clone(orig)
	nums := entriesEnd + 8 + len(want.common)
	binary.LittleEndian.PutUint64(forged[nums:], binary.LittleEndian.Uint64(forged[nums+8:])+1)
	binary.LittleEndian.PutUint32(forged[len(forged)-4:], checksumChunked(forged[entriesEnd:len(forged)-4]))
	if err := os.WriteFile(path, forged, 0o644); err != nil {
		t.Fatal(err)
	}
	if s, _ := load(); s.fence != nil {
		t.Error("a fence whose numbers fall was loaded")
	}

	// Cut short inside the fence: the entries still load.
	if err := os.WriteFile(path, orig[:entriesEnd+5], 0o644); err != nil {
		t.Fatal(err)
	}
	if s, _ := load(); s.fence != nil {
		t.Error("a fence cut short was loaded")
	}

	// Version 1: the entries alone.
	v1 := slices.Clone(orig[:entriesEnd])
	binary.LittleEndian.PutUint16(v1[8:], 1)
	binary.LittleEndian.PutUint32(v1[56:], walfmt.Checksum(v1[:56]))
	if err := os.WriteFile(path, v1, 0o644); err != nil {
		t.Fatal(err)
	}
	if s, _ := load(); s.fence != nil {
		t.Error("a version 1 file gave a fence")
	}

	// A writable store that loads it writes it again, with the fence.
	db, err := Open(dir, &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Scan(nil, nil, func(k, v []byte) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if s, want := load(); s.fence == nil || !slices.Equal(s.fence.pfx, want.pfx) {
		t.Error("the Close after a version 1 file was loaded did not write the fence")
	}
}
