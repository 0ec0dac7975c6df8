package kv_test

import (
	"testing"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// TestTornRecordLargerThanWindow cuts short the append of a record larger
// than walfmt.SyncWindow, as a crash during that append does. Such a record
// is alone past the durable point (walfmt "Sync window"), so whatever lies
// after its start was never acknowledged and Open must cut it as a torn
// tail. Its value here holds, 1.5 MiB in, the encoding of a record (a store
// that keeps logs, or replication batches, holds such values): the bytes of
// the torn record itself must not count as valid records after the damage.
func TestTornRecordLargerThanWindow(t *testing.T) {
	data := walfmt.AppendHeader(nil)
	data = walfmt.AppendPut(data, []byte("a"), []byte("1"))
	bad := int64(len(data))
	val := make([]byte, 2<<20)
	copy(val[3<<19:], walfmt.AppendPut(nil, []byte("inner"), []byte("record")))
	data = walfmt.AppendPut(data, []byte("big"), val)
	data = data[:len(data)-4096] // the append was cut short

	for _, ro := range []bool{true, false} {
		got, st, err := openState(t, memDir, &kv.Options{FS: memLog(data), ReadOnly: ro})
		if err != nil {
			t.Fatalf("ReadOnly %v: Open: %v", ro, err)
		}
		if d := diffState(got, state{"a": "1"}); d != "" {
			t.Errorf("ReadOnly %v: content:\n%s", ro, d)
		}
		if st.TruncatedBytes != int64(len(data))-bad {
			t.Errorf("ReadOnly %v: TruncatedBytes %d, want %d", ro, st.TruncatedBytes, int64(len(data))-bad)
		}
	}
	vr, err := kv.VerifyFS(memLog(data), memDir)
	if err != nil || vr.Corrupt() || vr.TornBytes != int64(len(data))-bad {
		t.Errorf("Verify = %+v, %v; want a torn tail at %d", vr, err, bad)
	}
}
