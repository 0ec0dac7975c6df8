//go:build linux

package kv_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
)

// A real child process fills a NoSync store with values of one size,
// reads every value back with Get, View and ReadValueAt, and reports its
// resident memory before the fill, after it and after the reads; it then
// kills itself with SIGKILL, without Sync or Close, and the parent reopens
// the store and reads every value back. The child runs nothing else, so
// its peak resident memory (VmHWM) is the fill's and the reads'.
//
// The bound: a writer has one value in flight at a time, and the engine
// keeps its encode buffer and its index; a reader holds the record it
// reads. The growth of the peak may be at most fillRSSBound, three
// quarters of the bytes filled (the race detector's own memory takes up
// to half of it; without it, a fifth), and the growth of the resident file
// pages (RssFile), after the fill and again after the reads, at most
// fillRSSFileBound, a quarter. A store that kept every page it wrote
// mapped, or read its large records through its map of the log, would
// hold all fillRSSBytes resident.

const (
	fillRSSDirEnv    = "CRABKV_FILL_RSS_DIR"
	fillRSSSizeEnv   = "CRABKV_FILL_RSS_VALUE"
	fillRSSBytes     = 64 << 20
	fillRSSBound     = fillRSSBytes * 3 / 4
	fillRSSFileBound = fillRSSBytes / 4
)

// procMem is what the child reads from /proc/self/status, in bytes.
type procMem struct{ HWM, RSS, Anon, File int64 }

func readProcMem(tb testing.TB) procMem {
	tb.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	var m procMem
	fields := map[string]*int64{"VmHWM": &m.HWM, "VmRSS": &m.RSS, "RssAnon": &m.Anon, "RssFile": &m.File}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, rest, _ := strings.Cut(sc.Text(), ":")
		if p, ok := fields[name]; ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				tb.Fatalf("%s: %v", name, err)
			}
			*p = kb << 10
		}
	}
	return m
}

// fillRSSValue fills buf, whose length is a multiple of 8, with value
// number i: bytes that differ from every other value's.
func fillRSSValue(buf []byte, i int) []byte {
	x := uint64(i)*0x9e3779b97f4a7c15 + 1
	for j := 0; j < len(buf); j += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(buf[j:], x)
	}
	return buf
}

// TestFillRSSChild is the child process of TestFillLargeValuesRSS. It does
// nothing unless started by it.
func TestFillRSSChild(t *testing.T) {
	dir := os.Getenv(fillRSSDirEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestFillLargeValuesRSS")
	}
	size, err := strconv.Atoi(os.Getenv(fillRSSSizeEnv))
	if err != nil {
		t.Fatal(err)
	}
	db, err := kv.Open(dir, &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, size)
	var mem [3]procMem
	mem[0] = readProcMem(t)
	for i := range fillRSSBytes / size {
		if err := db.Put([]byte(key(i)), fillRSSValue(buf, i)); err != nil {
			t.Fatal(err)
		}
	}
	mem[1] = readProcMem(t)
	readRSSValues(t, db, size)
	mem[2] = readProcMem(t)
	line, err := json.Marshal(mem)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("mem %s\n", line)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal ends the process
}

// readRSSValues reads every value of the fill back, with Get, View and
// ReadValueAt in pieces, and checks it.
func readRSSValues(t *testing.T, db *kv.DB, size int) {
	want, piece := make([]byte, size), make([]byte, 1000)
	for i := range fillRSSBytes / size {
		k := []byte(key(i))
		fillRSSValue(want, i)
		got, err := db.Get(k)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Get of value %d: %v, equal %v", i, err, bytes.Equal(got, want))
		}
		err = db.View(k, func(v []byte) error {
			if !bytes.Equal(v, want) {
				return fmt.Errorf("View of value %d differs", i)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		off := int64(i*7919) % int64(size)
		n, vs, err := db.ReadValueAt(k, piece, off)
		if (err != nil && err != io.EOF) || vs != size || !bytes.Equal(piece[:n], want[off:off+int64(n)]) {
			t.Fatalf("ReadValueAt of value %d at %d: %d bytes, size %d, %v", i, off, n, vs, err)
		}
	}
}

// TestFillLargeValuesRSS fills with values of 64 KiB and of 32 KiB, which
// the engine writes with pwrite and reads with pread, neither through its
// map of the log.
func TestFillLargeValuesRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 64 MiB twice")
	}
	for _, size := range []int{64 << 10, 32 << 10} {
		t.Run(fmt.Sprintf("value=%d", size), func(t *testing.T) { fillRSS(t, size) })
	}
}

func fillRSS(t *testing.T, size int) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFillRSSChild$")
	cmd.Env = append(os.Environ(), fillRSSDirEnv+"="+dir, fmt.Sprintf("%s=%d", fillRSSSizeEnv, size))
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child: want killed by SIGKILL, got %v\n%s", err, out)
	}
	_, line, ok := strings.Cut(string(out), "mem ")
	if !ok {
		t.Fatalf("child reported no memory:\n%s", out)
	}
	var mem [3]procMem
	if err := json.Unmarshal([]byte(strings.TrimSpace(line)), &mem); err != nil {
		t.Fatalf("child's report %q: %v", line, err)
	}
	before := mem[0]
	for i, after := range mem[1:] {
		what := [2]string{"filling", "filling and reading back"}[i]
		t.Logf("%s %d MiB: VmHWM %d -> %d MiB, RssAnon %d -> %d MiB, RssFile %d -> %d MiB", what, fillRSSBytes>>20,
			before.HWM>>20, after.HWM>>20, before.Anon>>20, after.Anon>>20, before.File>>20, after.File>>20)
		if grew := after.HWM - before.HWM; grew > fillRSSBound {
			t.Errorf("peak resident memory grew %d MiB %s %d MiB of values, want at most %d MiB", grew>>20, what, fillRSSBytes>>20, fillRSSBound>>20)
		}
		if grew := after.File - before.File; grew > fillRSSFileBound {
			t.Errorf("file pages resident grew %d MiB %s %d MiB of values, want at most %d MiB", grew>>20, what, fillRSSBytes>>20, fillRSSFileBound>>20)
		}
	}

	// What the writer wrote with pwrite reached the file before the kill.
	db := openDB(t, dir, nil)
	buf := make([]byte, size)
	for i := range fillRSSBytes / size {
		got, err := db.Get([]byte(key(i)))
		if err != nil {
			t.Fatalf("value %d after the kill: %v", i, err)
		}
		if !bytes.Equal(got, fillRSSValue(buf, i)) {
			t.Fatalf("value %d after the kill differs", i)
		}
	}
}
