package kv_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// FuzzOpen writes arbitrary bytes as wal.log and checks that nothing
// panics and that Open, Verify and Repair agree: Open succeeds exactly when
// Verify finds no damage beyond a torn tail, every key Open lists can be
// read, and after Repair every log that is a CrabKv log opens cleanly with
// the keys Verify counted. The seed corpus is in testdata/fuzz/FuzzOpen.
//
//	go test -run '^$' -fuzz '^FuzzOpen$' -fuzztime 10s ./kv_test
func FuzzOpen(f *testing.F) {
	f.Add(walfmt.AppendHeader(nil))
	f.Add(walfmt.AppendPut(walfmt.AppendHeader(nil), []byte("k"), []byte("v")))
	// An expiring put long expired, one that expires far in the future,
	// and values stored encoded by S2 and zstd.
	f.Add(walfmt.AppendPutExpiring(walfmt.AppendHeader(nil), []byte("k"), []byte("v"), 1))
	f.Add(walfmt.AppendPutExpiring(walfmt.AppendHeader(nil), []byte("k"), []byte("v"), 1<<62))
	doc := []byte(strings.Repeat(`{"name":"ada","role":"admin","active":true}`, 8))
	f.Add(walfmt.AppendPutCodec(walfmt.AppendHeader(nil), []byte("s"), kv.S2.Encode(nil, doc), kv.S2.ID(), 0))
	f.Add(walfmt.AppendPutCodec(walfmt.AppendHeader(nil), []byte("z"), kv.Zstd.Encode(nil, doc), kv.Zstd.ID(), 1<<62))
	f.Fuzz(func(t *testing.T, data []byte) {
		vr, verr := kv.VerifyFS(memLog(data), memDir)
		for _, ro := range []bool{true, false} {
			db, err := kv.Open(memDir, &kv.Options{FS: memLog(data), ReadOnly: ro})
			checkOpenAgrees(t, db, err, vr, verr)
		}
		mem := memLog(data)
		rr, err := kv.RepairFS(mem, memDir)
		if verr != nil {
			if err == nil {
				t.Fatalf("Repair succeeded on a log Verify rejects (%v)", verr)
			}
			return
		}
		if err != nil {
			t.Fatalf("Repair: %v", err)
		}
		if rr.Repaired() != !vr.Clean() || rr.Salvaged != vr.Records || rr.Keys != vr.Keys {
			t.Fatalf("Repair = %+v, disagrees with Verify = %+v", rr, vr)
		}
		db, err := kv.Open(memDir, &kv.Options{FS: mem})
		if err != nil {
			t.Fatalf("Open after Repair: %v", err)
		}
		defer db.Close()
		if st := db.Stats(); st.TruncatedBytes != 0 || st.Keys+st.ExpiredKeys != vr.Keys {
			t.Fatalf("after Repair: %+v, want no torn tail and %d keys", st, vr.Keys)
		}
		if len(vr.BadValues) == 0 {
			readState(t, db)
		}
	})
}

// checkOpenAgrees checks the result of Open against Verify's report.
func checkOpenAgrees(t *testing.T, db *kv.DB, err error, vr kv.VerifyReport, verr error) {
	t.Helper()
	if err != nil {
		var ce *walfmt.CorruptionError
		switch {
		case errors.As(err, &ce):
			if verr != nil || !vr.Corrupt() || ce.Offset != vr.FirstBad {
				t.Fatalf("Open: %v; Verify: %+v, %v", err, vr, verr)
			}
		case verr == nil:
			t.Fatalf("Open: %v, but Verify found nothing wrong: %+v", err, vr)
		}
		return
	}
	defer db.Close()
	if verr != nil || vr.Corrupt() {
		t.Fatalf("Open succeeded on a log Verify rejects: %+v, %v", vr, verr)
	}
	// Verify knows no clock: the records that have expired count as live
	// keys to it, and as stale bytes to Stats.
	st := db.Stats()
	if st.Keys+st.ExpiredKeys != vr.Keys || st.TruncatedBytes != vr.TornBytes ||
		st.LiveBytes+st.ExpiredBytes != vr.LiveBytes || st.StaleBytes-st.ExpiredBytes != vr.StaleBytes {
		t.Fatalf("Open: %+v; Verify: %+v", st, vr)
	}
	if len(vr.BadValues) > 0 {
		// Values that do not decode: each read of them is an error,
		// which readState does not allow; every other key must read.
		for _, k := range db.Keys(nil) {
			if _, err := db.Get([]byte(k)); err != nil && !errors.Is(err, walfmt.ErrCorrupt) && !errors.Is(err, kv.ErrUnknownCodec) {
				t.Fatalf("Get(%q): %v", k, err)
			}
		}
		return
	}
	readState(t, db)
}
