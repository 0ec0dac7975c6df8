package kv_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// TestCloseAndARunningCompaction closes a store while its compaction is
// held at its first write to the new log. Under the default policy the log
// is small enough for Close to let the compaction finish: Compact returns
// nil and the closed store's log holds only the live records. With
// FinishOnClose negative, Close stops it: Compact reports the
// cancellation and the log is left as it was. Either way every key reads
// back after a reopen.
func TestCloseAndARunningCompaction(t *testing.T) {
	for _, tc := range []struct {
		name   string
		finish int64
		wantOK bool
	}{
		{"finished", 0, true},
		{"stopped", -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			hold := &holdFS{FS: kv.DefaultFS(), held: make(chan struct{}), release: make(chan struct{})}
			policy := compact.Policy{Disabled: true, FinishOnClose: tc.finish}
			db, err := kv.Open(dir, &kv.Options{NoSync: true, FS: hold, Compaction: policy})
			if err != nil {
				t.Fatal(err)
			}
			want := fillLog(t, db, 5000, 100)
			before := db.Stats()
			compacted := make(chan error, 1)
			go func() { compacted <- db.Compact() }()
			select {
			case <-hold.held:
			case <-time.After(time.Minute):
				t.Fatal("the compaction never wrote to its new log")
			}
			closed := make(chan error, 1)
			go func() { closed <- db.Close() }()
			// Give Close the time to decide before the compaction goes on;
			// a Close that has not decided yet finds it done, and the test
			// then proves less, never something false.
			time.Sleep(100 * time.Millisecond)
			close(hold.release)
			if err := <-closed; err != nil {
				t.Fatalf("Close: %v", err)
			}
			err = <-compacted
			fi, serr := os.Stat(filepath.Join(dir, "wal.log"))
			if serr != nil {
				t.Fatal(serr)
			}
			if tc.wantOK {
				if err != nil {
					t.Fatalf("Compact: %v, want the compaction finished by Close", err)
				}
				if want := walfmt.HeaderSize + before.LiveBytes; fi.Size() != want {
					t.Fatalf("log is %d bytes after Close, want its header and the %d live bytes", fi.Size(), before.LiveBytes)
				}
			} else {
				if !errors.Is(err, context.Canceled) && !errors.Is(err, kv.ErrClosed) {
					t.Fatalf("Compact: %v, want it stopped by Close", err)
				}
				if fi.Size() != before.LogBytes {
					t.Fatalf("log is %d bytes after Close, want the %d it had", fi.Size(), before.LogBytes)
				}
			}
			db = openDB(t, dir, &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
			wantContents(t, db, want)
		})
	}
}

// holdFS holds the first write to a compaction's new log until release
// is closed, and closes held when it does.
type holdFS struct {
	kv.FS
	once    sync.Once
	held    chan struct{}
	release chan struct{}
}

func (h *holdFS) OpenFile(name string, flag int, perm os.FileMode) (kv.File, error) {
	f, err := h.FS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, ".compact") {
		return f, err
	}
	return holdFile{File: f, h: h}, nil
}

type holdFile struct {
	kv.File
	h *holdFS
}

func (f holdFile) WriteAt(p []byte, off int64) (int, error) {
	f.h.once.Do(func() {
		close(f.h.held)
		<-f.h.release
	})
	return f.File.WriteAt(p, off)
}

// TestFollowerCloseBesideAWritersCompaction closes a follower while it
// sees a compaction of the writer's under way, one that does not end (the
// writer holds the store, and its compaction's file appears and stays):
// the follower's Close must not wait for it.
func TestFollowerCloseBesideAWritersCompaction(t *testing.T) {
	dir := t.TempDir()
	w, err := kv.Open(dir, &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	}()
	fillLog(t, w, 100, 10)
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	f, err := kv.Open(dir, &kv.Options{ReadOnly: true, FollowPoll: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	events, stop := f.Subscribe()
	defer stop()
	if err := os.WriteFile(filepath.Join(dir, "wal.log.compact"), make([]byte, 64), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		if ev.Kind != kv.CompactionStarted {
			t.Fatalf("follower's first event %v, want started", ev.Kind)
		}
	case <-time.After(time.Minute):
		t.Fatal("the follower never saw the compaction")
	}
	closed := make(chan error, 1)
	go func() { closed <- f.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the follower's Close waits for the writer's compaction")
	}
}
