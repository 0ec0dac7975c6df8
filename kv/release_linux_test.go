package kv

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/crabkv/crabkv/compact"
)

// mappedRss returns how much of the process's maps of path is resident,
// from /proc/self/smaps.
func mappedRss(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	defer f.Close()
	var rss int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if fields := strings.Fields(line); len(fields) >= 5 && strings.Contains(fields[0], "-") {
			in = len(fields) == 6 && fields[5] == path
			continue
		}
		if v, ok := strings.CutPrefix(line, "Rss:"); ok && in {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			rss += kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rss
}

// The test's fill: 64 MiB of 4 KiB values, with the last 8 MiB written
// kept mapped.
const (
	releaseKeep  = 8 << 20
	releaseTotal = 64 << 20
	releaseSize  = 4 << 10
	releaseDir   = "CRABKV_RELEASE_CHILD_DIR"
)

func releaseValue(i int) []byte {
	return bytes.Repeat([]byte{byte(i), byte(i >> 8), byte(i >> 16), 7}, releaseSize/4)
}

// releaseFill opens dir NoSync, keeping releaseKeep bytes written mapped,
// and fills it.
func releaseFill(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(dir, &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	if db.mu.view.m == nil {
		_ = db.Close()
		t.Skip("the log is not mapped here")
	}
	db.wmu.Lock()
	db.keepWritten = releaseKeep
	db.wmu.Unlock()
	for i := range releaseTotal / releaseSize {
		if err := db.Put(fmt.Appendf(nil, "key%08d", i), releaseValue(i)); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// releaseCheck reads every value of the fill back.
func releaseCheck(t *testing.T, db *DB) {
	t.Helper()
	for i := range releaseTotal / releaseSize {
		got, err := db.Get(fmt.Appendf(nil, "key%08d", i))
		if err != nil || !bytes.Equal(got, releaseValue(i)) {
			t.Fatalf("value %d: %v, equal %v", i, err, bytes.Equal(got, releaseValue(i)))
		}
	}
}

// TestNoSyncWriterReleasesWrittenPages fills a NoSync store with 64 MiB of
// values copied into its map, keeping 8 MiB written behind the tail
// mapped: the map's resident pages stay within that and the quarter more
// that builds up between releases, where they were all 64 MiB. Every value
// reads back, before and after a reopen.
func TestNoSyncWriterReleasesWrittenPages(t *testing.T) {
	dir := t.TempDir()
	db := releaseFill(t, dir)
	path, err := filepath.EvalSymlinks(filepath.Join(dir, "wal.log"))
	if err != nil {
		t.Fatal(err)
	}
	db.wmu.Lock()
	db.mu.view.m.bg.Wait() // the last release, and the last populate ahead, on goroutines
	db.unmaps.Wait()       // a map a remap replaced, torn down on a goroutine
	// The pages populated ahead of the tail are resident too: the file's
	// zeros the next records will be copied over.
	ahead := max(db.mu.view.m.populated-db.tail, 0)
	db.wmu.Unlock()
	bound := releaseKeep + releaseKeep/4 + ahead + 1<<20
	if rss := mappedRss(t, path); rss > bound {
		t.Errorf("%d MiB of the log's map resident after writing %d MiB, want at most %d MiB", rss>>20, releaseTotal>>20, bound>>20)
	}
	releaseCheck(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	releaseCheck(t, db)
}

// TestReleasedPagesSurviveAKill has a child process fill a store as
// TestNoSyncWriterReleasesWrittenPages does and kill itself with SIGKILL,
// without Sync or Close: what it wrote through pages it had released
// reached the file all the same, and every value reads back.
func TestReleasedPagesSurviveAKill(t *testing.T) {
	if dir := os.Getenv(releaseDir); dir != "" {
		releaseFill(t, dir)
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal ends the process
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestReleasedPagesSurviveAKill$")
	cmd.Env = append(os.Environ(), releaseDir+"="+dir)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child: want killed by SIGKILL, got %v\n%s", err, out)
	}
	db, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	releaseCheck(t, db)
}
