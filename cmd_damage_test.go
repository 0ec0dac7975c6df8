package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPutExitsZeroWhenOnlyTheHintCannotBeWritten checks the exit status
// of a put whose value is stored and synced, when the optional index hint
// cannot be written at close (here: a file size limit under the hint's
// size, as on a nearly full disk).
func TestPutExitsZeroWhenOnlyTheHintCannotBeWritten(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("needs prlimit")
	}
	bin := filepath.Join(t.TempDir(), "crabkv")
	if err := os.Symlink(os.Args[0], bin); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	var stderr bytes.Buffer
	cmd := exec.Command(prlimit, "--fsize=20000", bin, "--dir", dir, "put", "k", "v")
	cmd.Stderr = &stderr
	err = cmd.Run()
	// The value is in the store, durably.
	te := newTestEnv(t)
	te.vars[dataDirEnv] = dir
	te.mustRun(t, exitOK, "get", "k")
	if te.out.String() != "v" {
		t.Fatalf("get k = %q after the put", te.out.String())
	}
	if err != nil {
		t.Errorf("put stored and synced the value, yet failed: %v\nstderr: %s", err, stderr.String())
	}
}

// TestRepairSalvagesAfterHeaderDamage checks that repair salvages the
// records of a log whose file header has one flipped bit past its magic
// and version (in the log's ID), every record after it being valid.
func TestRepairSalvagesAfterHeaderDamage(t *testing.T) {
	te := newTestEnv(t)
	te.stdin = strings.NewReader("a\t1\nb\t2\nc\t3\n")
	te.mustRun(t, exitOK, "put", "-")
	log := filepath.Join(te.vars[dataDirEnv], "wal.log")
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	b[20] ^= 0x10 // a bit of the log's random ID
	if err := os.WriteFile(log, b, 0o644); err != nil {
		t.Fatal(err)
	}
	te.run("verify")
	verifyErr := strings.TrimSpace(te.errOut.String())
	if code := te.run("repair"); code != exitOK {
		t.Errorf("repair exited %d: %s\n(verify said: %s)", code, strings.TrimSpace(te.errOut.String()), verifyErr)
	}
	if code := te.run("get", "b"); code != exitOK || te.out.String() != "2" {
		t.Errorf("get b after repair: exit %d, %q, %s", code, te.out.String(), strings.TrimSpace(te.errOut.String()))
	}
}

// TestDamagedHeaderAlone: a log that is a damaged header and nothing else
// (a store emptied and compacted) is corrupt, not a torn tail, as Open
// finds it; verify ends and says so, and repair gives it a new header.
func TestDamagedHeaderAlone(t *testing.T) {
	te := newTestEnv(t)
	te.mustRun(t, exitOK, "put", "a", "1")
	te.mustRun(t, exitOK, "delete", "a")
	te.mustRun(t, exitOK, "compact")
	log := filepath.Join(te.vars[dataDirEnv], "wal.log")
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	b = b[:64]
	b[40] ^= 0x10 // a bit of the hash key
	if err := os.WriteFile(log, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := te.run("verify"); code != exitDamaged || !strings.Contains(te.out.String(), "damaged file header") {
		t.Errorf("verify exited %d:\n%s%s", code, te.out.String(), te.errOut.String())
	}
	te.mustRun(t, exitOK, "repair")
	te.mustRun(t, exitOK, "put", "b", "2")
	te.mustRun(t, exitOK, "verify")
}
