package kv_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/internal/orphan"
	"github.com/crabkv/crabkv/kv"
)

const fastWriterEnv = "CRABKV_FAST_WRITER_DIR"

// fastWriterMax bounds the log TestFastWriterChild writes: past it the
// writer stops appending and waits to be killed, so that a slow test
// cannot fill the disk (it appends about 140 MB a second here, some 15 s
// of writing, where each test needs a few).
const fastWriterMax = 2 << 30

// TestFastWriterChild puts as fast as it can, NoSync, until killed or its
// log reaches fastWriterMax. Every 4,096 puts it writes the size of its
// log, all of it acknowledged, to dir.pos.
func TestFastWriterChild(t *testing.T) {
	dir := os.Getenv(fastWriterEnv)
	if dir == "" {
		t.Skip("child only")
	}
	orphan.ExitWithParent()
	db, err := kv.Open(dir, &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		fmt.Println(err)
		os.Exit(3)
	}
	val := make([]byte, 100)
	for i := 0; ; i++ {
		if err := db.Put(fmt.Appendf(nil, "k%05d", i%1000), val); err != nil {
			fmt.Println(err)
			os.Exit(3)
		}
		if i%4096 == 0 && db.Stats().LogBytes > fastWriterMax {
			for {
				time.Sleep(time.Hour) // until killed
			}
		}
		if i%4096 == 0 {
			pos := dir + ".pos"
			if err := os.WriteFile(pos+".tmp", fmt.Append(nil, db.Stats().LogBytes), 0o644); err != nil {
				fmt.Println(err)
				os.Exit(3)
			}
			if err := os.Rename(pos+".tmp", pos); err != nil {
				fmt.Println(err)
				os.Exit(3)
			}
		}
	}
}

// TestFollowerCloseBesideFastWriter closes a follower while another
// process appends without pause: Close stops the follow goroutine, and
// returns promptly, whatever the writer does. (`crabkv get` closes its
// follower before it exits.)
func TestFollowerCloseBesideFastWriter(t *testing.T) {
	skipWithoutChildren(t)
	dir := t.TempDir()
	seedStore(t, dir)
	f := followFastWriter(t, dir)
	var err error
	returnsWithin(t, dir, "a follower's Close", func() { err = f.Close() })
	t.Logf("Close: %v", err)
}

// followFastWriter starts TestFastWriterChild on dir in a process of its
// own, killed when the test ends, and returns a follower of dir opened
// once the writer is under way and left a second to fall behind.
func followFastWriter(t *testing.T, dir string) *kv.DB {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFastWriterChild$")
	cmd.Env = append(os.Environ(), fastWriterEnv+"="+dir)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	time.Sleep(500 * time.Millisecond)
	f, err := kv.Open(dir, &kv.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	return f
}

func logSize(dir string) int64 {
	fi, err := os.Stat(dir + "/wal.log")
	if err != nil {
		return -1
	}
	return fi.Size()
}

// TestFollowerRefreshBesideFastWriter refreshes a follower while another
// process appends without pause: Refresh reads what the log held when it
// was called and returns, though the writer leaves no zeros for it to stop
// at, and leaves the follower at least as current as the writer said its
// log was before the call. Close then returns promptly too.
func TestFollowerRefreshBesideFastWriter(t *testing.T) {
	skipWithoutChildren(t)
	dir := filepath.Join(t.TempDir(), "db")
	seedStore(t, dir)
	f := followFastWriter(t, dir)
	for range 5 {
		written := writerPosition(t, dir)
		returnsWithin(t, dir, "a follower's Refresh", f.Refresh)
		if got := f.Stats().LogBytes; got < written {
			t.Fatalf("after Refresh the follower has read %d bytes of the log; the writer had written %d before the call", got, written)
		}
	}
	var err error
	returnsWithin(t, dir, "Close", func() { err = f.Close() })
	t.Logf("Close: %v", err)
}

// returnsWithin runs fn, what, and fails the test if it has not returned
// within 30 s: a bound that finds a hang, not a measure of speed.
func returnsWithin(t *testing.T, dir, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	start := time.Now()
	go func() { fn(); close(done) }()
	select {
	case <-done:
		t.Logf("%s took %s", what, time.Since(start))
	case <-time.After(30 * time.Second):
		t.Fatalf("%s has not returned after %s beside a writer that appends without pause; log %d bytes",
			what, time.Since(start), logSize(dir))
	}
}

// writerPosition returns the size of the log TestFastWriterChild last
// wrote to dir.pos.
func writerPosition(t *testing.T, dir string) int64 {
	t.Helper()
	for range 100 {
		b, err := os.ReadFile(dir + ".pos")
		if n, perr := strconv.ParseInt(string(b), 10, 64); err == nil && perr == nil {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the writer has not written its position")
	return 0
}
