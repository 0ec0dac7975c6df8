package kv_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// This file holds the test-only fault layer: memFS, an in-memory kv.FS that
// can simulate a machine crash, and faultFS, a wrapper around any kv.FS that
// counts operations and fails the ones a test picks.

// errCrashed is what every operation returns after a simulated crash.
var errCrashed = errors.New("faultfs: simulated crash")

// memFS is an in-memory kv.FS that remembers what a crash would keep. Each
// file keeps its synced content and the writes made since its last Sync; the
// directory keeps its durable entries, those as of the last SyncDir. Crash
// returns the file system a reboot would find; CrashAfter arms a crash at a
// later operation. It is safe for concurrent use.
type memFS struct {
	// mu guards every field, and is held for the whole of each operation,
	// so that an armed crash sees each operation entirely or not at all.
	mu      sync.Mutex
	dirs    map[string]bool
	files   map[string]*memNode // the names processes see now
	durable map[string]*memNode // the names a crash keeps
	locks   map[string]*memLock
	armed   *memCrash // set by CrashAfter
}

// memCrash is a crash armed by CrashAfter.
type memCrash struct {
	left  int // mutating operations still to run before the crash
	keep  crashKeep
	rng   *rand.Rand
	image *memFS // what the crash left; nil until it happens
}

// memNode is one file's content.
type memNode struct {
	data    []byte  // what reads see
	synced  []byte  // what a crash keeps for sure
	pending []memOp // changes since the last Sync, oldest first
	mode    fs.FileMode
	modTime time.Time
}

// memOp is one unsynced change: a write of data at off, or, when data is
// nil, a truncation to off.
type memOp struct {
	off  int64
	data []byte
}

func newMemFS() *memFS {
	return &memFS{
		dirs:    map[string]bool{"/": true},
		files:   map[string]*memNode{},
		durable: map[string]*memNode{},
		locks:   map[string]*memLock{},
	}
}

// CrashKeep says how much unsynced data a crash keeps.
type crashKeep int

const (
	keepNone   crashKeep = iota // only synced data survives
	keepAll                     // every write reached the disk, only directory entries may be lost
	keepPrefix                  // a random prefix of each file's writes, the last one possibly torn
	// keepSubset keeps a random subset of the 512-byte sectors of each
	// file's unsynced writes, in any order: the disk wrote some pages of
	// its cache and not others, as after a power loss.
	keepSubset
)

// sectorSize is the unit in which keepSubset keeps or loses a write.
const sectorSize = 512

// Crash returns the file system as a reboot after a crash at this moment
// would find it: directory entries as of the last SyncDir, and in each file
// its synced content plus, as keep says, some of the writes made after.
func (m *memFS) Crash(keep crashKeep, rng *rand.Rand) *memFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.crashLocked(keep, rng)
}

// CrashHalt is Crash, and fails every mutating operation after it with
// errCrashed, as the operation an armed crash strikes does. A crash that
// faultFS injects takes its image with it: an operation of another
// goroutine that faultFS let through just before may reach this file
// system only after the image was taken, and must then fail, not return
// as if it had landed.
func (m *memFS) CrashHalt(keep crashKeep, rng *rand.Rand) *memFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	image := m.crashLocked(keep, rng)
	m.armed = &memCrash{keep: keep, rng: rng, image: image}
	return image
}

// CrashAfter arms a crash: n more mutating operations run, and at the next
// one the file system takes the image Crash(keep, rng) would return, fails
// that operation and every mutating one after it with errCrashed. Unlike a
// crash injected by faultFS, it is atomic with the operations of concurrent
// callers: an operation that returned without an error is in the image.
func (m *memFS) CrashAfter(n int, keep crashKeep, rng *rand.Rand) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.armed = &memCrash{left: n, keep: keep, rng: rng}
}

// CrashImage returns what the crash armed by CrashAfter left, or nil if it
// has not happened.
func (m *memFS) CrashImage() *memFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.armed == nil {
		return nil
	}
	return m.armed.image
}

// stepLocked counts a mutating operation against an armed crash and returns
// errCrashed once the crash has happened. The caller holds mu.
func (m *memFS) stepLocked() error {
	c := m.armed
	switch {
	case c == nil:
		return nil
	case c.image != nil:
		return errCrashed
	case c.left == 0:
		c.image = m.crashLocked(c.keep, c.rng)
		return errCrashed
	}
	c.left--
	return nil
}

// crashLocked is Crash. The caller holds mu.
func (m *memFS) crashLocked(keep crashKeep, rng *rand.Rand) *memFS {
	out := newMemFS()
	for d := range m.dirs {
		out.dirs[d] = true
	}
	copies := map[*memNode]*memNode{}
	names := make([]string, 0, len(m.durable))
	for name := range m.durable {
		names = append(names, name)
	}
	sort.Strings(names) // the same seed gives the same crash
	for _, name := range names {
		n := m.durable[name]
		c, ok := copies[n]
		if !ok {
			c = n.afterCrash(keep, rng)
			copies[n] = c
		}
		out.files[name], out.durable[name] = c, c
	}
	return out
}

// afterCrash returns the node's content after a crash.
func (n *memNode) afterCrash(keep crashKeep, rng *rand.Rand) *memNode {
	data := clone(n.synced)
	ops := 0
	switch keep {
	case keepAll:
		ops = len(n.pending)
	case keepPrefix:
		ops = rng.IntN(len(n.pending) + 1)
	case keepSubset:
		for _, op := range n.pending {
			data = op.applySome(data, rng)
		}
	}
	for _, op := range n.pending[:ops] {
		data = op.apply(data)
	}
	if keep == keepPrefix && ops < len(n.pending) && n.pending[ops].data != nil && rng.IntN(2) == 0 {
		// The next write was cut short.
		op := n.pending[ops]
		op.data = op.data[:rng.IntN(len(op.data)+1)]
		data = op.apply(data)
	}
	return &memNode{data: data, synced: clone(data), mode: n.mode, modTime: n.modTime}
}

// applySome applies a random subset of the sectors op writes, and a
// truncation always: a file's size is metadata, which a journaling file
// system keeps in order.
func (op memOp) applySome(b []byte, rng *rand.Rand) []byte {
	if op.data == nil {
		return op.apply(b)
	}
	for p := int64(0); p < int64(len(op.data)); {
		// Up to the next sector boundary of the file.
		n := min(sectorSize-(op.off+p)%sectorSize, int64(len(op.data))-p)
		if rng.IntN(2) == 0 {
			b = memOp{off: op.off + p, data: op.data[p : p+n]}.apply(b)
		}
		p += n
	}
	return b
}

func (op memOp) apply(b []byte) []byte {
	if op.data == nil {
		return resize(b, op.off)
	}
	end := op.off + int64(len(op.data))
	if end > int64(len(b)) {
		b = resize(b, end)
	}
	copy(b[op.off:], op.data)
	return b
}

func resize(b []byte, n int64) []byte {
	if n <= int64(len(b)) {
		return b[:n]
	}
	return append(b, make([]byte, n-int64(len(b)))...)
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// ReadFile returns the current content of name, for checks.
func (m *memFS) ReadFile(name string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.files[filepath.Clean(name)]
	if !ok {
		return nil, false
	}
	return clone(n.data), true
}

// WriteFile creates name with data, synced and durable.
func (m *memFS) WriteFile(name string, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = filepath.Clean(name)
	n := &memNode{data: clone(data), synced: clone(data), mode: 0o644, modTime: time.Now()}
	m.files[name], m.durable[name] = n, n
}

// Names lists the files in dir, sorted.
func (m *memFS) Names(dir string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for name := range m.files {
		if filepath.Dir(name) == filepath.Clean(dir) {
			out = append(out, filepath.Base(name))
		}
	}
	sort.Strings(out)
	return out
}

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

func (m *memFS) OpenFile(name string, flag int, perm os.FileMode) (kv.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = filepath.Clean(name)
	if err := m.stepLocked(); err != nil {
		return nil, pathErr("open", name, err)
	}
	if !m.dirs[filepath.Dir(name)] {
		return nil, pathErr("open", name, fs.ErrNotExist)
	}
	if m.dirs[name] {
		if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
			return nil, pathErr("open", name, errors.New("is a directory"))
		}
		return nil, pathErr("open", name, errors.New("memfs: reading a directory is not supported"))
	}
	n, ok := m.files[name]
	switch {
	case ok && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, pathErr("open", name, fs.ErrExist)
	case !ok && flag&os.O_CREATE == 0:
		return nil, pathErr("open", name, fs.ErrNotExist)
	case !ok:
		n = &memNode{mode: perm, modTime: time.Now()}
		m.files[name] = n
	}
	f := &memFile{fs: m, node: n, name: name, writable: flag&(os.O_WRONLY|os.O_RDWR) != 0}
	if flag&os.O_TRUNC != 0 && f.writable {
		n.truncate(0)
	}
	return f, nil
}

func (m *memFS) Stat(name string) (os.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = filepath.Clean(name)
	if m.dirs[name] {
		return memInfo{name: filepath.Base(name), dir: true}, nil
	}
	n, ok := m.files[name]
	if !ok {
		return nil, pathErr("stat", name, fs.ErrNotExist)
	}
	return memInfo{name: filepath.Base(name), size: int64(len(n.data)), mode: n.mode, mod: n.modTime}, nil
}

// MkdirAll creates directories. Directories are durable at once: the tests
// are about the files in one data directory, not about its creation.
func (m *memFS) MkdirAll(path string, perm os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		if _, ok := m.files[p]; ok {
			return pathErr("mkdir", p, errors.New("not a directory"))
		}
		m.dirs[p] = true
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

func (m *memFS) Rename(oldpath, newpath string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	oldpath, newpath = filepath.Clean(oldpath), filepath.Clean(newpath)
	if err := m.stepLocked(); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	n, ok := m.files[oldpath]
	if !ok {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrNotExist}
	}
	delete(m.files, oldpath)
	m.files[newpath] = n
	return nil
}

func (m *memFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = filepath.Clean(name)
	if err := m.stepLocked(); err != nil {
		return pathErr("remove", name, err)
	}
	if _, ok := m.files[name]; !ok {
		return pathErr("remove", name, fs.ErrNotExist)
	}
	delete(m.files, name)
	return nil
}

// SyncDir makes the current entries of dir the ones a crash keeps.
func (m *memFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir = filepath.Clean(dir)
	if err := m.stepLocked(); err != nil {
		return pathErr("sync", dir, err)
	}
	if !m.dirs[dir] {
		return pathErr("open", dir, fs.ErrNotExist)
	}
	for name := range m.durable {
		if filepath.Dir(name) == dir {
			delete(m.durable, name)
		}
	}
	for name, n := range m.files {
		if filepath.Dir(name) == dir {
			m.durable[name] = n
		}
	}
	return nil
}

// memLock is the state of one lock file: an exclusive holder or a count of
// shared ones.
type memLock struct {
	exclusive bool
	shared    int
}

// Lock takes an in-memory lock named name. Like an OS file lock, it needs no
// file and disappears with the process (here, with the memFS).
func (m *memFS) Lock(name string, shared bool) (io.Closer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = filepath.Clean(name)
	if !m.dirs[filepath.Dir(name)] {
		return nil, pathErr("open", name, fs.ErrNotExist)
	}
	l := m.locks[name]
	if l == nil {
		l = &memLock{}
		m.locks[name] = l
	}
	if l.exclusive || !shared && l.shared > 0 {
		return nil, kv.ErrLocked
	}
	if shared {
		l.shared++
	} else {
		l.exclusive = true
	}
	return &memUnlock{fs: m, l: l, shared: shared}, nil
}

type memUnlock struct {
	fs     *memFS
	l      *memLock
	shared bool
	once   sync.Once
}

func (u *memUnlock) Close() error {
	u.once.Do(func() {
		u.fs.mu.Lock()
		defer u.fs.mu.Unlock()
		if u.shared {
			u.l.shared--
		} else {
			u.l.exclusive = false
		}
	})
	return nil
}

// memFile is an open file of a memFS.
type memFile struct {
	fs       *memFS
	node     *memNode
	name     string
	writable bool
	closed   bool
}

func (f *memFile) check(op string, write bool) error {
	switch {
	case f.closed:
		return pathErr(op, f.name, fs.ErrClosed)
	case write && !f.writable:
		return pathErr(op, f.name, errors.New("bad file descriptor"))
	}
	return nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("read", f.name, errors.New("negative offset"))
	}
	if off >= int64(len(f.node.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.node.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("write", true); err != nil {
		return 0, err
	}
	if err := f.fs.stepLocked(); err != nil {
		return 0, pathErr("write", f.name, err)
	}
	op := memOp{off: off, data: clone(p)}
	if op.data == nil {
		op.data = []byte{}
	}
	f.node.data = op.apply(f.node.data)
	f.node.pending = append(f.node.pending, op)
	f.node.modTime = time.Now()
	return len(p), nil
}

func (n *memNode) truncate(size int64) {
	op := memOp{off: size}
	n.data = op.apply(n.data)
	n.pending = append(n.pending, op)
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("truncate", true); err != nil {
		return err
	}
	if err := f.fs.stepLocked(); err != nil {
		return pathErr("truncate", f.name, err)
	}
	f.node.truncate(size)
	return nil
}

// Sync makes the file's content the one a crash keeps. Like fdatasync, it
// does not make the file's name durable.
func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("sync", false); err != nil {
		return err
	}
	if err := f.fs.stepLocked(); err != nil {
		return pathErr("sync", f.name, err)
	}
	// Replaying the changes costs what they wrote, not the file's size.
	for _, op := range f.node.pending {
		f.node.synced = op.apply(f.node.synced)
	}
	f.node.pending = nil
	return nil
}

func (f *memFile) Stat() (os.FileInfo, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("stat", false); err != nil {
		return nil, err
	}
	n := f.node
	return memInfo{name: filepath.Base(f.name), size: int64(len(n.data)), mode: n.mode, mod: n.modTime}, nil
}

func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return pathErr("close", f.name, fs.ErrClosed)
	}
	f.closed = true
	return nil
}

// memInfo is the os.FileInfo of a memFS entry.
type memInfo struct {
	name string
	size int64
	mode fs.FileMode
	mod  time.Time
	dir  bool
}

func (i memInfo) Name() string { return i.name }
func (i memInfo) Size() int64  { return i.size }
func (i memInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return i.mode
}
func (i memInfo) ModTime() time.Time { return i.mod }
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return nil }

// fsOp names the kinds of operation faultFS can fail.
type fsOp string

const (
	opOpen     fsOp = "open"
	opStat     fsOp = "stat"
	opMkdir    fsOp = "mkdir"
	opRename   fsOp = "rename"
	opRemove   fsOp = "remove"
	opSyncDir  fsOp = "syncdir"
	opLock     fsOp = "lock"
	opRead     fsOp = "read"
	opWrite    fsOp = "write"
	opSync     fsOp = "sync"
	opTruncate fsOp = "truncate"
	opClose    fsOp = "close"
	opFStat    fsOp = "fstat"
)

// mutates reports whether an operation can change what is on disk: the
// operations a crash test interrupts.
func (o fsOp) mutates() bool {
	switch o {
	case opOpen, opRename, opRemove, opSyncDir, opWrite, opSync, opTruncate:
		return true
	}
	return false
}

// faultFS wraps a kv.FS and asks inject before each operation; a non-nil
// answer fails the operation with that error instead of running it. For
// writes, inject may return errShortWrite wrapping the real error to have
// half of the bytes written first, as a full disk does.
type faultFS struct {
	kv.FS
	mu     sync.Mutex
	inject func(op fsOp, name string, flag int) error
	ops    int // operations seen
	log    []string
}

// shortWrite makes a failed WriteAt write the first half of its bytes
// before returning Err, the way a disk that fills up mid-write does.
type shortWrite struct{ Err error }

func (e shortWrite) Error() string { return e.Err.Error() }
func (e shortWrite) Unwrap() error { return e.Err }

func newFaultFS(inner kv.FS) *faultFS { return &faultFS{FS: inner} }

// SetInject replaces the injection function; nil injects nothing.
func (f *faultFS) SetInject(fn func(op fsOp, name string, flag int) error) {
	f.mu.Lock()
	f.inject = fn
	f.mu.Unlock()
}

// Ops returns the operations seen so far, as "op name" strings.
func (f *faultFS) Ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func (f *faultFS) before(op fsOp, name string, flag int) error {
	f.mu.Lock()
	f.ops++
	f.log = append(f.log, fmt.Sprintf("%s %s", op, filepath.Base(name)))
	inject := f.inject
	f.mu.Unlock()
	if inject == nil {
		return nil
	}
	return inject(op, name, flag)
}

func (f *faultFS) OpenFile(name string, flag int, perm os.FileMode) (kv.File, error) {
	if err := f.before(opOpen, name, flag); err != nil {
		return nil, pathErr("open", name, err)
	}
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, name: name}, nil
}

func (f *faultFS) Stat(name string) (os.FileInfo, error) {
	if err := f.before(opStat, name, 0); err != nil {
		return nil, pathErr("stat", name, err)
	}
	return f.FS.Stat(name)
}

func (f *faultFS) MkdirAll(path string, perm os.FileMode) error {
	if err := f.before(opMkdir, path, 0); err != nil {
		return pathErr("mkdir", path, err)
	}
	return f.FS.MkdirAll(path, perm)
}

func (f *faultFS) Rename(oldpath, newpath string) error {
	if err := f.before(opRename, newpath, 0); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return f.FS.Rename(oldpath, newpath)
}

func (f *faultFS) Remove(name string) error {
	if err := f.before(opRemove, name, 0); err != nil {
		return pathErr("remove", name, err)
	}
	return f.FS.Remove(name)
}

func (f *faultFS) SyncDir(dir string) error {
	if err := f.before(opSyncDir, dir, 0); err != nil {
		return pathErr("sync", dir, err)
	}
	return f.FS.SyncDir(dir)
}

func (f *faultFS) Lock(name string, shared bool) (io.Closer, error) {
	if err := f.before(opLock, name, 0); err != nil {
		return nil, pathErr("lock", name, err)
	}
	return f.FS.Lock(name, shared)
}

// faultFile is a file opened through a faultFS.
type faultFile struct {
	kv.File
	fs   *faultFS
	name string
}

func (f *faultFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.fs.before(opRead, f.name, 0); err != nil {
		return 0, pathErr("read", f.name, err)
	}
	return f.File.ReadAt(p, off)
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	err := f.fs.before(opWrite, f.name, 0)
	var sw shortWrite
	if errors.As(err, &sw) {
		n, werr := f.File.WriteAt(p[:len(p)/2], off)
		if werr != nil {
			return n, werr
		}
		return n, pathErr("write", f.name, sw.Err)
	}
	if err != nil {
		return 0, pathErr("write", f.name, err)
	}
	return f.File.WriteAt(p, off)
}

func (f *faultFile) Sync() error {
	if err := f.fs.before(opSync, f.name, 0); err != nil {
		return pathErr("sync", f.name, err)
	}
	return f.File.Sync()
}

func (f *faultFile) Truncate(size int64) error {
	if err := f.fs.before(opTruncate, f.name, 0); err != nil {
		return pathErr("truncate", f.name, err)
	}
	return f.File.Truncate(size)
}

func (f *faultFile) Stat() (os.FileInfo, error) {
	if err := f.fs.before(opFStat, f.name, 0); err != nil {
		return nil, pathErr("stat", f.name, err)
	}
	return f.File.Stat()
}

func (f *faultFile) Close() error {
	if err := f.fs.before(opClose, f.name, 0); err != nil {
		// The handle is released whatever the error, as with close(2).
		return errors.Join(pathErr("close", f.name, err), f.File.Close())
	}
	return f.File.Close()
}

// crashAfter returns an inject function that lets n mutating operations
// run, then at the next one calls crash once and fails it and every
// operation after it with errCrashed: the process is gone.
func crashAfter(n int, crash func()) func(fsOp, string, int) error {
	var mu sync.Mutex
	seen, crashed := 0, false
	return func(op fsOp, name string, flag int) error {
		mu.Lock()
		defer mu.Unlock()
		if crashed {
			return errCrashed
		}
		if !op.mutates() {
			return nil
		}
		if seen == n {
			crashed = true
			crash()
			return errCrashed
		}
		seen++
		return nil
	}
}

// hasSuffix reports whether name ends in one of the suffixes.
func hasSuffix(name string, suffixes ...string) bool {
	for _, s := range suffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}
