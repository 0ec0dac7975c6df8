package kv_test

import (
	"errors"
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
		if st := db.Stats(); st.TruncatedBytes != 0 || st.Keys != vr.Keys {
			t.Fatalf("after Repair: %+v, want no torn tail and %d keys", st, vr.Keys)
		}
		readState(t, db)
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
	st := db.Stats()
	if st.Keys != vr.Keys || st.TruncatedBytes != vr.TornBytes || st.LiveBytes != vr.LiveBytes || st.StaleBytes != vr.StaleBytes {
		t.Fatalf("Open: %+v; Verify: %+v", st, vr)
	}
	readState(t, db)
}
