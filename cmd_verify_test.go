package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
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

// TestVerifyJSONReportsUndecodableValues checks that verify's report
// says so when values do not decode (here: a zstd-dict store copied
// without its wal.zdict), in --json as well as in its exit status, and
// that the advice given for such a value is one that helps.
func TestVerifyJSONReportsUndecodableValues(t *testing.T) {
	te := newTestEnv(t)
	var in strings.Builder
	for i := range 400 {
		in.WriteString(`{"key":"doc` + strings.Repeat("0", 4-len(itoa(i))) + itoa(i) + `","value":"{\"name\":\"user ` + itoa(i) +
			`\",\"email\":\"user` + itoa(i) + `@example.com\",\"roles\":[\"reader\",\"writer\"],\"active\":true,\"score\":` + itoa(i*7) + `}"}` + "\n")
	}
	te.stdin = strings.NewReader(in.String())
	te.mustRun(t, exitOK, "import", "--codec", "zstd-dict")
	dir := te.vars[dataDirEnv]
	if err := os.Remove(filepath.Join(dir, "wal.zdict")); err != nil {
		t.Fatalf("the store trained no dictionary: %v", err)
	}

	code := te.run("verify", "--json")
	var rep struct {
		Status      string `json:"status"`
		Damage      []any  `json:"damage"`
		Undecodable []struct {
			Offset int64  `json:"offset"`
			Reason string `json:"reason"`
		} `json:"undecodable_values"`
	}
	if err := json.Unmarshal(te.out.Bytes(), &rep); err != nil {
		t.Fatalf("verify --json printed %q: %v", te.out.String(), err)
	}
	if code != exitDamaged {
		t.Fatalf("verify exited %d, want %d", code, exitDamaged)
	}
	if rep.Status == "ok" && len(rep.Damage) == 0 {
		t.Errorf("verify exited %d (damage found) but its --json report says %s\nstderr: %s",
			code, strings.TrimSpace(te.out.String()), strings.TrimSpace(te.errOut.String()))
	}
	if rep.Status != "undecodable values" || len(rep.Undecodable) == 0 || !strings.Contains(rep.Undecodable[0].Reason, "wal.zdict") {
		t.Errorf("verify --json printed %s; want status \"undecodable values\" and each value in undecodable_values", strings.TrimSpace(te.out.String()))
	}
	// New fields come at the end: the object's last is the new one.
	if !strings.Contains(te.out.String(), `"damage":[],"undecodable_values":[{`) || !strings.HasSuffix(te.out.String(), "}]}\n") {
		t.Errorf("verify --json printed %s; want undecodable_values after damage, last", strings.TrimSpace(te.out.String()))
	}
	if !strings.Contains(te.errOut.String(), filepath.Join(dir, "wal.zdict")+" is missing") {
		t.Errorf("verify's diagnosis %q does not name the missing wal.zdict", te.errOut.String())
	}
	te.run("verify")
	if first, _, _ := strings.Cut(te.out.String(), "\n"); !strings.HasSuffix(first, ": undecodable values") {
		t.Errorf("verify's status line is %q; want it to say the values do not decode", first)
	}

	// export names repair as the remedy; repair finds nothing to do.
	te.run("export")
	exportErr := strings.TrimSpace(te.errOut.String())
	te.mustRun(t, exitOK, "repair")
	repairOut := strings.TrimSpace(te.out.String())
	if strings.Contains(exportErr, "crabkv repair") && strings.Contains(repairOut, "nothing to repair") {
		t.Errorf("export says %q, but repair says %q", exportErr, repairOut)
	}
	if !strings.Contains(exportErr, filepath.Join(dir, "wal.zdict")+" is missing") {
		t.Errorf("export says %q: it does not name the missing wal.zdict", exportErr)
	}
	te.run("get", "doc0399")
	if getErr := te.errOut.String(); strings.Contains(getErr, "crabkv repair") || !strings.Contains(getErr, "wal.zdict") {
		t.Errorf("get of a value that does not decode says %q; want the missing wal.zdict named, not repair", getErr)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
