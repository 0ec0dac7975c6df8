package kv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Holder describes the process that holds a data directory's write lock,
// as it wrote itself into the lock file, LOCK, when it took the lock.
type Holder struct {
	// PID is the holder's process ID.
	PID int
	// Host is the name of the machine it runs on.
	Host string
	// Program is the name of its executable.
	Program string
	// Since is when it took the lock.
	Since time.Time
}

// String describes the holder for an error message or a status line:
// "pid 4242 (myapp) on host, since 15:04:05".
func (h Holder) String() string {
	s := "pid " + strconv.Itoa(h.PID)
	if h.Program != "" {
		s += " (" + h.Program + ")"
	}
	if h.Host != "" {
		s += " on " + h.Host
	}
	if !h.Since.IsZero() {
		s += ", since " + h.Since.Local().Format(time.DateTime)
	}
	return s
}

// LockHolder returns the process that holds dir's write lock, read from
// the lock file without taking the lock. held is false when no writer has
// the store open: the file is missing or empty (a writer empties it when
// it closes the store), or names a process of this machine that is no
// longer running (a writer that was killed). Where the lock file cannot be
// read while it is locked (Windows), held is false.
func LockHolder(dir string) (h Holder, held bool, err error) {
	h, held, _, err = lockHolder(dir)
	return h, held, err
}

// lockHolder is LockHolder, and reports besides whether the lock file
// could not be read because it is locked: a writer holds the store, whose
// name the file cannot give (Windows).
func lockHolder(dir string) (h Holder, held, locked bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, lockName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Holder{}, false, false, nil
	case err != nil && isLockViolation(err):
		return Holder{}, false, true, nil
	case err != nil:
		return Holder{}, false, false, fmt.Errorf("kv: read lock file: %w", err)
	}
	h, ok := parseHolder(b)
	if !ok {
		return Holder{}, false, false, nil
	}
	if host, _ := os.Hostname(); h.Host == host && !processAlive(h.PID) {
		return h, false, false, nil
	}
	return h, true, false, nil
}

// The lock file's contents: one "name: value" line per field.
//
//	pid: 4242
//	host: build-01
//	program: myapp
//	since: 2026-01-02T15:04:05.999999999Z
func appendHolder(b []byte, h Holder) []byte {
	b = fmt.Appendf(b, "pid: %d\nhost: %s\nprogram: %s\n", h.PID, h.Host, h.Program)
	return fmt.Appendf(b, "since: %s\n", h.Since.UTC().Format(time.RFC3339Nano))
}

func parseHolder(b []byte) (Holder, bool) {
	var h Holder
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			continue
		}
		switch name {
		case "pid":
			h.PID, _ = strconv.Atoi(value)
		case "host":
			h.Host = value
		case "program":
			h.Program = value
		case "since":
			h.Since, _ = time.Parse(time.RFC3339Nano, value)
		}
	}
	return h, h.PID > 0
}

// thisProcess describes the calling process as a lock holder.
func thisProcess() Holder {
	host, _ := os.Hostname()
	prog := filepath.Base(os.Args[0])
	if exe, err := os.Executable(); err == nil {
		prog = filepath.Base(exe)
	}
	return Holder{PID: os.Getpid(), Host: host, Program: prog, Since: time.Now()}
}

// openLock takes what an Open needs of the directory: a writer takes the
// exclusive lock and records itself in the lock file; a read-only open (a
// follower) takes no lock at all, and only checks that dir is a directory.
func openLock(fsys FS, dir string, readOnly bool) (io.Closer, error) {
	if readOnly {
		if err := checkDir(fsys, dir); err != nil {
			return nil, err
		}
		return nopCloser{}, nil
	}
	lock, err := lockDir(fsys, dir, false)
	if err != nil {
		return nil, err
	}
	return recordHolder(fsys, dir, lock), nil
}

// recordHolder writes this process into the lock file it holds. The
// record is for people and error messages only — the lock is the OS lock,
// never the file's contents — so a failure to write it is not an error.
func recordHolder(fsys FS, dir string, lock io.Closer) io.Closer {
	path := filepath.Join(dir, lockName)
	f, err := fsys.OpenFile(path, os.O_WRONLY, 0o644)
	if err != nil {
		return lock
	}
	b := appendHolder(nil, thisProcess())
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(b, 0) // informational only, as said above
	}
	return &heldLock{lock: lock, f: f}
}

// heldLock is a writer's lock and its lock file, which it empties before it
// lets the lock go, so that the file names no holder once nobody holds it.
type heldLock struct {
	lock io.Closer
	f    File
}

func (l *heldLock) Close() error {
	// Best effort: LockHolder also checks that the pid lives, so a stale
	// record names nobody.
	_ = l.f.Truncate(0)
	_ = l.f.Close()
	return l.lock.Close()
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// checkDir checks that dir exists and is a directory.
func checkDir(fsys FS, dir string) error {
	fi, err := fsys.Stat(dir)
	if err != nil {
		return fmt.Errorf("kv: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("kv: %s: not a directory", dir)
	}
	return nil
}

// newLockedError describes the lock on dir, naming its holder when the
// lock file does.
func newLockedError(dir string) error {
	e := &lockedError{dir: dir}
	if h, held, err := LockHolder(dir); err == nil && held {
		e.holder = &h
	}
	return e
}
