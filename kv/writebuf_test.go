package kv

import (
	"bytes"
	"testing"
)

// TestLargePutKeepsNoBuffer checks that the encode buffer a large value
// was copied into is not kept after its Put: one 16 MiB value must not
// leave 16 MiB of heap to the store for as long as it is open.
func TestLargePutKeepsNoBuffer(t *testing.T) {
	for _, noSync := range []bool{true, false} {
		db, err := Open(t.TempDir(), &Options{NoSync: noSync})
		if err != nil {
			t.Fatal(err)
		}
		big := bytes.Repeat([]byte{7}, DefaultMaxValueSize)
		if err := db.Put([]byte("big"), big); err != nil {
			t.Fatal(err)
		}
		if err := db.Put([]byte("small"), []byte("v")); err != nil {
			t.Fatal(err)
		}
		db.wmu.Lock()
		kept := cap(db.buf)
		db.wmu.Unlock()
		if kept > maxKeptBuf {
			t.Errorf("NoSync=%v: the store keeps a %d-byte encode buffer after a large Put, want at most %d", noSync, kept, maxKeptBuf)
		}
		got, err := db.Get([]byte("big"))
		if err != nil || !bytes.Equal(got, big) {
			t.Errorf("NoSync=%v: the large value reads back wrong (%v)", noSync, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
