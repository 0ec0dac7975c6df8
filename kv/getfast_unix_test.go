//go:build unix

package kv

import (
	"fmt"
	"testing"
)

// TestGetFastRecoversFromAFault unmaps the log's map under a lock-free
// read, as a compaction or a remap does to a map a reader still holds:
// the read faults, and must come back as a retry, not kill the process.
func TestGetFastRecoversFromAFault(t *testing.T) {
	db := openFastTest(t)
	for i := range 1000 {
		if err := db.Put(fmt.Appendf(nil, "k%04d", i), []byte("value")); err != nil {
			t.Fatal(err)
		}
	}
	m := db.mu.view.m
	if m == nil {
		t.Skip("no map on this system")
	}
	unmapped := false
	db.testHookFast = func() {
		if !unmapped {
			unmapped = true
			if err := m.unmap(); err != nil {
				t.Fatal(err)
			}
		}
	}
	val, found, ok, again := db.getFast([]byte("k0500"))
	db.testHookFast = nil
	// Map the log again, as a remap would have, for the reads below and
	// for Close.
	db.lockMu()
	db.mu.view.m = mapLog(db.mu.view.f, db.mu.view.end, true)
	db.unlockMu()
	if !unmapped {
		t.Fatal("the hook did not run")
	}
	if ok || !again {
		t.Fatalf("read through an unmapped map: %q found %v ok %v again %v; want a retry", val, found, ok, again)
	}
	if got, err := db.Get([]byte("k0500")); err != nil || string(got) != "value" {
		t.Fatalf("Get after the map came back: %q, %v", got, err)
	}
}
