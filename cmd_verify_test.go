package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// TestVerifyAndRepairExitCodes damages a log by hand and checks the status
// and output of verify and repair at each stage.
func TestVerifyAndRepairExitCodes(t *testing.T) {
	te := newTestEnv(t)
	for _, k := range []string{"a", "b", "c", "d"} {
		te.mustRun(t, exitOK, "put", k, "value-"+k)
	}
	te.mustRun(t, exitOK, "verify")
	if !strings.Contains(te.out.String(), ": ok\n") || te.errOut.Len() != 0 {
		t.Errorf("verify of a clean log: stdout %q, stderr %q", te.out.String(), te.errOut.String())
	}

	// A byte of the first record, with more valid data after it than a
	// crash can leave: corruption, not a torn tail.
	db, err := kv.Open(te.vars[dataDirEnv], nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Put([]byte("pad"), make([]byte, walfmt.SyncWindow+1)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(te.vars[dataDirEnv], "wal.log")
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	b[walfmt.HeaderSize+20] ^= 0xff
	if err := os.WriteFile(log, b, 0o644); err != nil {
		t.Fatal(err)
	}
	te.mustRun(t, exitDamaged, "verify")
	if !strings.Contains(te.out.String(), "corrupt: offset ") || !strings.Contains(te.errOut.String(), "crabkv repair") {
		t.Errorf("verify of a corrupt log: stdout %q, stderr %q", te.out.String(), te.errOut.String())
	}
	te.mustRun(t, exitOK, "repair")
	if !strings.Contains(te.out.String(), "lost 1 span") || !strings.Contains(te.out.String(), "wal.log.broken-") {
		t.Errorf("repair: stdout %q", te.out.String())
	}
	te.mustRun(t, exitOK, "verify")
	te.mustRun(t, exitOK, "repair")
	if !strings.Contains(te.out.String(), "nothing to repair") {
		t.Errorf("repair of a repaired log: stdout %q", te.out.String())
	}
	te.mustRun(t, exitError, "verify", "--dir", filepath.Join(t.TempDir(), "missing"))
	te.mustRun(t, exitError, "repair", "x")
}
