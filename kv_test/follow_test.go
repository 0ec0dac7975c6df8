package kv_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/internal/orphan"
	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
)

// visibleWithin is the bound the tests hold a follower to: generous, so a
// loaded machine does not fail them. BenchmarkFollowLag measures the lag.
const visibleWithin = 5 * time.Second

const (
	followChildEnv = "CRABKV_FOLLOW_CHILD" // the writer's mode
	followStartEnv = "CRABKV_FOLLOW_START" // the number of its first write
)

// TestFollowWriterChild is the writer process of the follower tests. It
// does nothing unless started by one of them. It writes until killed or
// until it has written CRABKV_FOLLOW_COUNT records, printing "< i op key"
// after each write returns, and "> i D key" before each delete. In
// lockstep mode it stops every 250 writes, prints "= i" and waits for a
// line on its standard input.
func TestFollowWriterChild(t *testing.T) {
	mode := os.Getenv(followChildEnv)
	if mode == "" {
		t.Skip("runs only as the child of a follower test")
	}
	orphan.ExitWithParent()
	start, _ := strconv.Atoi(os.Getenv(followStartEnv))
	count, _ := strconv.Atoi(os.Getenv("CRABKV_FOLLOW_COUNT"))
	opts := &kv.Options{NoSync: strings.Contains(mode, "nosync"), Compaction: compact.Policy{Disabled: true}}
	if strings.Contains(mode, "checkpoints") {
		// A hint written beside the writes every 2 KiB of log: a
		// follower and every fresh open meet new hints all the time.
		opts.CheckpointBytes = 2 << 10
	}
	db, err := kv.Open(os.Getenv(dirEnv), opts)
	if err != nil {
		fmt.Printf("! open: %v\n", err)
		os.Exit(3)
	}
	if strings.Contains(mode, "compaction") {
		go func() {
			for db.Compact() == nil {
				time.Sleep(time.Millisecond)
			}
		}()
	}
	out := bufio.NewWriter(os.Stdout)
	rng := rand.New(rand.NewPCG(uint64(start), 1))
	for i := start; count == 0 || i < start+count; i++ {
		k := fmt.Sprintf("k%03d", rng.IntN(150))
		op := byte('P')
		if rng.IntN(6) == 0 {
			op = 'D'
			// A follower may see a delete before it is acknowledged.
			fmt.Fprintf(out, "> %d D %s\n", i, k)
			out.Flush()
			err = db.Delete([]byte(k))
		} else {
			err = db.Put([]byte(k), followValue(i, k))
		}
		if err != nil {
			fmt.Fprintf(out, "! %d %v\n", i, err)
			out.Flush()
			os.Exit(3)
		}
		fmt.Fprintf(out, "< %d %c %s\n", i, op, k)
		out.Flush()
		if strings.Contains(mode, "lockstep") && (i-start)%250 == 249 {
			// Wait while the parent compares the follower with all the
			// writes so far.
			fmt.Fprintf(out, "= %d\n", i)
			out.Flush()
			if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
				os.Exit(3)
			}
		}
		if strings.Contains(mode, "slow") {
			time.Sleep(time.Millisecond)
		}
	}
	if err := db.Close(); err != nil {
		fmt.Printf("! close: %v\n", err)
		os.Exit(3)
	}
	fmt.Println("done")
}

// followValue is the value write i gives key k: it names both, so a reader
// can tell a value nobody wrote, or one from another key.
func followValue(i int, k string) []byte {
	return fmt.Appendf(nil, "%d|%s|%s", i, k, strings.Repeat("x", i%700))
}

// parseFollowValue returns the write a value came from, or an error if no
// write of key k could have produced it.
func parseFollowValue(k string, v []byte) (int, error) {
	parts := strings.SplitN(string(v), "|", 3)
	if len(parts) != 3 {
		return 0, fmt.Errorf("value %.40q was never written", v)
	}
	i, err := strconv.Atoi(parts[0])
	if err != nil || parts[1] != k || parts[2] != strings.Repeat("x", i%700) {
		return 0, fmt.Errorf("value %.40q was never written to %s", v, k)
	}
	return i, nil
}

// writerChild is a running writer process and the writes it acknowledged.
type writerChild struct {
	cmd  *exec.Cmd
	in   io.Writer // the child's standard input
	acks chan ack
	done chan struct{} // closed when its output ends
	dels *deletes
}

// deletes is the latest delete of each key a writer has begun.
type deletes struct {
	mu     sync.Mutex // guards latest
	latest map[string]int
}

func (d *deletes) begun(k string, i int) {
	d.mu.Lock()
	d.latest[k] = max(d.latest[k], i)
	d.mu.Unlock()
}

// after reports whether a delete of k later than write i has begun.
func (d *deletes) after(k string, i int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.latest[k] > i
}

// ack is a write the child acknowledged.
type ack struct {
	i   int
	op  byte
	key string
}

func startWriter(t *testing.T, dir, mode string, start, count int, dels *deletes) *writerChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFollowWriterChild$")
	cmd.Env = append(os.Environ(), followChildEnv+"="+mode, dirEnv+"="+dir,
		followStartEnv+"="+strconv.Itoa(start), "CRABKV_FOLLOW_COUNT="+strconv.Itoa(count))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &writerChild{cmd: cmd, acks: make(chan ack, 1<<16), done: make(chan struct{}), dels: dels, in: stdin}
	go func() {
		defer close(w.done)
		defer close(w.acks)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			var a ack
			if _, err := fmt.Sscanf(line, "= %d", &a.i); err == nil {
				a.op = '='
				w.acks <- a
			} else if _, err := fmt.Sscanf(line, "> %d D %s", &a.i, &a.key); err == nil {
				dels.begun(a.key, a.i)
			} else if _, err := fmt.Sscanf(line, "< %d %c %s", &a.i, &a.op, &a.key); err == nil {
				w.acks <- a
			} else if strings.HasPrefix(line, "!") {
				t.Errorf("writer: %s", line)
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return w
}

// followChecker holds a follower to what the writer acknowledged.
type followChecker struct {
	t    *testing.T
	db   *kv.DB
	dels *deletes
	mu   sync.Mutex     // guards seen
	seen map[string]int // the latest write of each key the follower served
	want state          // the acknowledged writes, in a lockstep run
	// paused, if set, runs while a lockstep writer waits after write i,
	// once the follower has shown exactly want.
	paused func(i int)
	lags   []time.Duration
}

// observe reads k from the follower and checks that the value is one the
// writer wrote to k, no older than one already served. It returns the
// write the value came from, or -1 when k is absent.
func (c *followChecker) observe(k string) int {
	// The read and the comparison go together: two checkers' reads must
	// not be compared in another order than they were made.
	c.mu.Lock()
	defer c.mu.Unlock()
	v, err := c.db.Get([]byte(k))
	if errors.Is(err, kv.ErrNotFound) {
		return -1
	}
	if err != nil {
		c.t.Errorf("follower Get(%s): %v", k, err)
		return -1
	}
	i, err := parseFollowValue(k, v)
	if err != nil {
		c.t.Error(err)
		return -1
	}
	if i < c.seen[k] {
		c.t.Errorf("follower went back in time on %s: write %d after write %d", k, i, c.seen[k])
	}
	c.seen[k] = max(c.seen[k], i)
	return i
}

// await waits until the follower shows a's write, or a later one of the
// same key, and records how long that took.
func (c *followChecker) await(a ack, acked time.Time) {
	for {
		i := c.observe(a.key)
		if a.op == 'P' && i >= a.i || a.op == 'D' && i > a.i {
			break
		}
		if a.op == 'P' && i == -1 && c.dels.after(a.key, a.i) {
			break // deleted since
		}
		if a.op == 'D' && i == -1 {
			break
		}
		if time.Since(acked) > visibleWithin {
			c.t.Fatalf("write %d (%c %s) not visible to the follower after %s (it shows write %d); follower: %+v",
				a.i, a.op, a.key, visibleWithin, i, c.db.Stats())
		}
		time.Sleep(200 * time.Microsecond)
	}
	c.lags = append(c.lags, time.Since(acked))
}

// follow checks every acknowledged write of w against the follower until
// w's output ends, while a second goroutine reads random keys and lists
// all of them. It returns how many writes it checked.
func (c *followChecker) follow(w *writerChild) int {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(7, 7))
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, k := range c.db.Keys([]byte("k")) {
				if rng.IntN(10) == 0 {
					c.observe(k)
				}
			}
		}
	})
	n := 0
	for a := range w.acks {
		switch a.op {
		case '=':
			c.wantExactly(a.i)
			if c.paused != nil {
				c.paused(a.i)
			}
			if _, err := io.WriteString(w.in, "go on\n"); err != nil {
				c.t.Fatal(err)
			}
			continue
		case 'P':
			c.want[a.key] = string(followValue(a.i, a.key))
		case 'D':
			delete(c.want, a.key)
		}
		c.await(a, time.Now())
		n++
	}
	return n
}

// wantExactly checks, while the writer waits after write i, that the
// follower shows exactly the writes acknowledged so far: every value,
// no deleted key.
func (c *followChecker) wantExactly(i int) {
	deadline := time.Now().Add(visibleWithin)
	for {
		got := state{}
		for _, k := range c.db.Keys([]byte("k")) {
			v, err := c.db.Get([]byte(k))
			if err == nil {
				got[k] = string(v)
			}
		}
		d := diffState(got, c.want)
		if d == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("after write %d the follower differs from the writes acknowledged:\n%s", i, d)
		}
		time.Sleep(time.Millisecond)
	}
}

func newChecker(t *testing.T, db *kv.DB) *followChecker {
	return &followChecker{t: t, db: db, seen: map[string]int{}, want: state{}, dels: &deletes{latest: map[string]int{}}}
}

func (c *followChecker) logLag() {
	if len(c.lags) == 0 {
		return
	}
	slices.Sort(c.lags)
	// Measured from when the checker reads the acknowledgement, which
	// may be late: BenchmarkFollowLag measures the lag itself.
	c.t.Logf("%d writes followed; wait p50 %s p99 %s max %s", len(c.lags),
		c.lags[len(c.lags)/2], c.lags[len(c.lags)*99/100], c.lags[len(c.lags)-1])
}

func skipWithoutChildren(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("re-executes the test binary with Unix conventions")
	}
	if os.Getenv(followChildEnv) != "" {
		t.Skip("in the child")
	}
}

// TestFollowWriterProcess follows a writer in another process: every
// acknowledged write becomes visible, no value is one the writer did not
// write, no key goes back to an older value, and a deleted key stays
// deleted — through constant compactions, and through hints the writer
// checkpoints beside its writes, with and without NoSync. With
// checkpoints, a fresh read-only open at each pause of the writer must
// also show exactly the writes acknowledged, from a hint that covers most
// of the log; and the first of them stays open to the end, reading every
// key at each pause, while the writer replaces (and frees) the hint it
// maps: a writer that cut it under the map would fault its reads.
func TestFollowWriterProcess(t *testing.T) {
	skipWithoutChildren(t)
	for _, mode := range []string{"sync", "nosync-compaction", "sync-compaction", "sync-checkpoints", "nosync-checkpoints"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			seedStore(t, dir)
			f := openDB(t, dir, &kv.Options{ReadOnly: true})
			events, cancel := f.Subscribe()
			defer cancel()
			c := newChecker(t, f)
			hinted := 0     // pauses at which a fresh open found most of the log in its hint
			var kept *kv.DB // the first fresh open, kept open
			if strings.Contains(mode, "checkpoints") {
				c.paused = func(i int) {
					if kept == nil {
						kept = openDB(t, dir, &kv.Options{ReadOnly: true})
					}
					readNoFault(t, kept, fmt.Sprintf("the store opened at the first pause, after write %d", i))
					ro, err := kv.Open(dir, &kv.Options{ReadOnly: true})
					if err != nil {
						t.Fatalf("fresh open after write %d: %v", i, err)
					}
					defer ro.Close()
					got := readState(t, ro)
					delete(got, "seed")
					if d := diffState(got, c.want); d != "" {
						t.Fatalf("after write %d a fresh open differs from the writes acknowledged:\n%s", i, d)
					}
					if st := ro.Stats(); st.ReplayedBytes < st.LogBytes/2 {
						hinted++
					}
				}
			}
			w := startWriter(t, dir, mode+"-lockstep", 1, 3000, c.dels)
			n := c.follow(w)
			if err := w.cmd.Wait(); err != nil {
				t.Fatalf("writer: %v", err)
			}
			if n != 3000 {
				t.Fatalf("checked %d writes, want 3000", n)
			}
			if c.paused != nil && hinted == 0 {
				t.Error("no fresh open found a checkpoint's hint covering most of the log")
			}
			if kept != nil {
				wantSameState(t, kept, dir)
			}
			c.logLag()
			if strings.Contains(mode, "compaction") {
				st := f.Stats()
				if st.Compactions == 0 {
					t.Errorf("follower saw no compaction of the writer: %+v", st)
				}
				t.Logf("follower saw %d compactions", st.Compactions)
				if !drainFinished(events) {
					t.Error("no CompactionFinished event reached the follower's subscriber")
				}
			}
			// The writer has closed the store: the follower serves the
			// state it left.
			wantSameState(t, f, dir)
		})
	}
}

// readNoFault reads every key db lists, turning a fault in a mapped table
// (a file cut under its map) into a test failure.
func readNoFault(t *testing.T, db *kv.DB, what string) {
	t.Helper()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s: reading the keys faulted: %v", what, r)
		}
	}()
	for _, k := range db.Keys(nil) {
		if _, err := db.Get([]byte(k)); err != nil && !errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("%s: Get(%s): %v", what, k, err)
		}
	}
}

// seedStore creates the store with a record, so that the follower has a
// log to open.
func seedStore(t *testing.T, dir string) {
	db := openDB(t, dir, nil)
	mustPut(t, db, "seed", "0")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func drainFinished(events <-chan kv.CompactionEvent) bool {
	for {
		select {
		case ev := <-events:
			if ev.Kind == kv.CompactionFinished {
				return true
			}
		case <-time.After(100 * time.Millisecond):
			return false
		}
	}
}

// wantSameState checks that the follower f shows what a fresh open of dir
// shows, within the bound.
func wantSameState(t *testing.T, f *kv.DB, dir string) {
	t.Helper()
	ro := openDB(t, dir, &kv.Options{ReadOnly: true})
	want := readState(t, ro)
	deadline := time.Now().Add(visibleWithin)
	for {
		got := readState(t, f)
		d := diffState(got, want)
		if d == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("follower differs from the store:\n%s", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFollowWriterKilled follows writers that are killed with SIGKILL,
// some in the middle of a compaction, and new writers that reopen the store
// after them (cutting any torn tail): the follower keeps serving the last
// state across each death and follows the next writer.
func TestFollowWriterKilled(t *testing.T) {
	skipWithoutChildren(t)
	dir := t.TempDir()
	seedStore(t, dir)
	f := openDB(t, dir, &kv.Options{ReadOnly: true})
	c := newChecker(t, f)
	start := 1
	for round := range rounds(3, 6) {
		mode := []string{"sync-compaction", "nosync-compaction", "nosync"}[round%3]
		w := startWriter(t, dir, mode, start, 0, c.dels)
		var wg sync.WaitGroup
		wg.Go(func() { c.follow(w) })
		time.Sleep(time.Duration(100+rand.IntN(300)) * time.Millisecond)
		if err := w.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		wg.Wait() // every acknowledged write checked
		w.cmd.Wait()
		wantSameState(t, f, dir)
		before := readState(t, f)
		time.Sleep(100 * time.Millisecond)
		if d := diffState(readState(t, f), before); d != "" {
			t.Fatalf("round %d: the follower's state changed after the writer died:\n%s", round, d)
		}
		start += 1_000_000
	}
	// A last writer reopens the store after the last kill and ends cleanly.
	w := startWriter(t, dir, "sync", start, 200, c.dels)
	c.follow(w)
	if err := w.cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	wantSameState(t, f, dir)
}

// TestFollowTornTail has the follower meet a record that is still being
// written: it waits for the rest, neither reporting damage nor serving
// the half, and a writer that cuts the torn tail on reopen continues where
// the follower waits.
func TestFollowTornTail(t *testing.T) {
	dir := t.TempDir()
	seedStore(t, dir)
	path := filepath.Join(dir, "wal.log")
	f := openDB(t, dir, &kv.Options{ReadOnly: true})
	rec := walfmt.AppendPut(nil, []byte("half"), []byte("a value written in two steps"))
	appendBytes(t, path, rec[:10])
	time.Sleep(200 * time.Millisecond)
	wantMissing(t, f, "half")
	wantValue(t, f, "seed", "0")
	appendBytes(t, path, rec[10:])
	waitValue(t, f, "half", "a value written in two steps")

	// A torn record that is never finished: a writer that opens the store
	// cuts it and appends after the last whole record.
	appendBytes(t, path, walfmt.AppendPut(nil, []byte("torn"), []byte("never finished"))[:20])
	time.Sleep(100 * time.Millisecond)
	w := openDB(t, dir, nil)
	mustPut(t, w, "after", "the cut")
	waitValue(t, f, "after", "the cut")
	wantMissing(t, f, "torn")
	if st := f.Stats(); st.Keys != 3 {
		t.Fatalf("follower has %d keys, want 3", st.Keys)
	}
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
}

// waitValue waits, up to the bound, until db shows value for key.
func waitValue(t *testing.T, db *kv.DB, key, value string) {
	t.Helper()
	deadline := time.Now().Add(visibleWithin)
	for {
		v, err := db.Get([]byte(key))
		if err == nil && string(v) == value {
			return
		}
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("Get(%s): %v", key, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get(%s) = %q, %v after %s; want %q", key, v, err, visibleWithin, value)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFollowInProcessCompaction follows a writer in the same process
// through compactions: the follower switches logs, reports the
// compactions in Stats and on its event channel, and takes no lock the
// writer needs.
func TestFollowInProcessCompaction(t *testing.T) {
	dir := t.TempDir()
	w := openDB(t, dir, &kv.Options{Compaction: compact.Policy{Disabled: true}})
	for i := range 2000 {
		mustPut(t, w, key(i%300), value(i))
	}
	f := openDB(t, dir, &kv.Options{ReadOnly: true})
	events, cancel := f.Subscribe()
	defer cancel()
	for round := range 5 {
		if err := w.Compact(); err != nil {
			t.Fatal(err)
		}
		mustPut(t, w, "round", strconv.Itoa(round))
		waitValue(t, f, "round", strconv.Itoa(round))
		wantContents(t, f, contents(t, w))
	}
	// The follower swaps the new log in, which makes the last write
	// readable, a moment before it marks the compaction over: its Stats
	// may lag the value by one look at the directory.
	st := f.Stats()
	for deadline := time.Now().Add(visibleWithin); st.Compacting && time.Now().Before(deadline); st = f.Stats() {
		time.Sleep(time.Millisecond)
	}
	if st.Compactions < 1 || st.Compacting {
		t.Fatalf("follower stats after compactions: %+v", st)
	}
	var kinds []kv.EventKind
	timeout := time.After(visibleWithin)
	for !slices.Contains(kinds, kv.CompactionFinished) {
		select {
		case ev := <-events:
			kinds = append(kinds, ev.Kind)
		case <-timeout:
			t.Fatalf("events %v: no CompactionFinished", kinds)
		}
	}
	if kinds[0] != kv.CompactionStarted {
		t.Fatalf("events %v: the first is not CompactionStarted", kinds)
	}
	checkAccounting(t, f)
}

// contents returns every key and value of db.
func contents(t *testing.T, db *kv.DB) map[string]string {
	m := map[string]string{}
	for k, v := range readState(t, db) {
		m[k] = v
	}
	return m
}

// TestLockHolder checks that a writer's lock names its holder in the error
// a second writer gets, and that the lock file is readable by others.
func TestLockHolder(t *testing.T) {
	dir := t.TempDir()
	w := openDB(t, dir, nil)
	_, err := kv.Open(dir, nil)
	if !errors.Is(err, kv.ErrLocked) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second writer: %v, want ErrLocked naming pid %d", err, os.Getpid())
	}
	h, ok, err := kv.LockHolder(dir)
	if err != nil || !ok || h.PID != os.Getpid() || h.Program == "" || h.Since.IsZero() {
		t.Fatalf("LockHolder = %+v, %v, %v", h, ok, err)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(filepath.Join(dir, "LOCK"))
		if err != nil || fi.Mode().Perm() != 0o644 {
			t.Fatalf("LOCK mode %v, %v; want 0644", fi.Mode().Perm(), err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := kv.LockHolder(dir); ok || err != nil {
		t.Fatalf("LockHolder after Close: held=%v, %v", ok, err)
	}
}

// TestFollowFromAnEmptyDirectory opens a follower before any log exists:
// it serves an empty store, and follows the log a writer then creates.
func TestFollowFromAnEmptyDirectory(t *testing.T) {
	dir := t.TempDir()
	f := openDB(t, dir, &kv.Options{ReadOnly: true})
	if st := f.Stats(); st.Keys != 0 {
		t.Fatalf("empty store: %+v", st)
	}
	w := openDB(t, dir, nil)
	mustPut(t, w, "first", "1")
	waitValue(t, f, "first", "1")
}

// TestFollowerWritesNothing checks that a follower leaves every file of
// the directory as it was, and creates none, even beside a torn tail.
func TestFollowerWritesNothing(t *testing.T) {
	dir := t.TempDir()
	seedStore(t, dir)
	appendBytes(t, filepath.Join(dir, "wal.log"), walfmt.AppendPut(nil, []byte("torn"), []byte("tail"))[:9])
	before := snapshotDir(t, dir)
	f := openDB(t, dir, &kv.Options{ReadOnly: true})
	wantValue(t, f, "seed", "0")
	f.Refresh()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if after := snapshotDir(t, dir); after != before {
		t.Fatalf("the follower changed the directory:\nbefore %s\nafter  %s", before, after)
	}
}

// snapshotDir describes every file of dir: name, mode and contents.
func snapshotDir(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %v %x; ", e.Name(), fi.Mode(), data)
	}
	return b.String()
}
