package kv

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// TestNoSyncWriterReleasesWrittenPages fills a NoSync store with 64 MiB of
// values copied into its map, keeping 8 MiB written behind the tail
// mapped: the map's resident pages stay within that and the quarter more
// that builds up between releases, where they were all 64 MiB. Every value
// reads back, before and after a reopen.
func TestNoSyncWriterReleasesWrittenPages(t *testing.T) {
	const keep, total, size = 8 << 20, 64 << 20, 4 << 10
	dir := t.TempDir()
	opts := &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}}
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if db.mu.view.m == nil {
		t.Skip("the log is not mapped here")
	}
	db.wmu.Lock()
	db.keepWritten = keep
	db.wmu.Unlock()
	value := func(i int) []byte { return bytes.Repeat([]byte{byte(i), byte(i >> 8), byte(i >> 16), 7}, size/4) }
	for i := range total / size {
		if err := db.Put(fmt.Appendf(nil, "key%08d", i), value(i)); err != nil {
			t.Fatal(err)
		}
	}
	path, err := filepath.EvalSymlinks(filepath.Join(dir, "wal.log"))
	if err != nil {
		t.Fatal(err)
	}
	if rss := mappedRss(t, path); rss > keep+keep/4+(1<<20) {
		t.Errorf("%d MiB of the log's map resident after writing %d MiB, want at most %d MiB", rss>>20, total>>20, (keep+keep/4)>>20+1)
	}
	check := func(db *DB) {
		t.Helper()
		for i := range total / size {
			got, err := db.Get(fmt.Appendf(nil, "key%08d", i))
			if err != nil || !bytes.Equal(got, value(i)) {
				t.Fatalf("value %d: %v, equal %v", i, err, bytes.Equal(got, value(i)))
			}
		}
	}
	check(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	check(db)
}
