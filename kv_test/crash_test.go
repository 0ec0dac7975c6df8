package kv_test

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/internal/orphan"
	"github.com/crabkv/crabkv/kv"
)

var (
	crashRounds = flag.Int("crash.rounds", 0, "rounds of each randomized crash test (0: a quick default)")
	crashSeed   = flag.Uint64("crash.seed", 0, "base seed of the randomized crash tests (0: from the clock)")
)

// rounds returns how many rounds a randomized crash test runs: the flag if
// set, else quick for -short and normal otherwise.
func rounds(quick, normal int) int {
	switch {
	case *crashRounds > 0:
		return *crashRounds
	case testing.Short():
		return quick
	}
	return normal
}

// baseSeed returns the seed the rounds of a randomized test derive from.
func baseSeed(tb testing.TB) uint64 {
	s := *crashSeed
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	tb.Logf("base seed %d (rerun with -crash.seed=%d)", s, s)
	return s
}

// absent stands for a key with no value in the expected states.
const absent = "\x00<absent>"

// op is one step of a generated workload.
type op struct {
	kind  byte // 'P' put, 'D' delete, 'C' compact, 'B' batch
	key   string
	value string
	ttl   time.Duration // a put's TTL, 0 for none (see ttl_crash_test.go)
	batch []op          // a batch's puts and deletes
}

// genOps returns n random operations over a few keys, with values of
// varied sizes and an occasional compaction.
func genOps(rng *rand.Rand, n int) []op {
	ops := make([]op, n)
	for i := range ops {
		key := fmt.Sprintf("key-%02d", rng.IntN(12))
		switch r := rng.IntN(20); {
		case r == 0:
			ops[i] = op{kind: 'C'}
		case r < 4:
			ops[i] = op{kind: 'D', key: key}
		default:
			ops[i] = op{kind: 'P', key: key, value: fmt.Sprintf("v%d-%s", i, strings.Repeat("x", rng.IntN(300)))}
		}
	}
	return ops
}

// state is the value of every key, absent ones missing.
type state map[string]string

func (s state) apply(o op) state {
	next := cloneState(s)
	switch o.kind {
	case 'P':
		next[o.key] = o.value + expirySuffix(o.ttl)
	case 'D':
		delete(next, o.key)
	case 'B':
		for _, b := range o.batch {
			next = next.apply(b)
		}
	}
	return next
}

func cloneState(s state) state {
	out := make(state, len(s))
	for k, v := range s {
		out[k] = v
	}
	return out
}

func (s state) get(k string) string {
	if v, ok := s[k]; ok {
		return v
	}
	return absent
}

// readState returns every key and value of db, failing on any read error.
func readState(tb testing.TB, db *kv.DB) state {
	tb.Helper()
	got := state{}
	for _, k := range db.Keys(nil) {
		v, err := db.Get([]byte(k))
		if err != nil {
			tb.Fatalf("Get(%q) of a listed key: %v", k, err)
		}
		got[k] = string(v) + storedExpiry(tb, db, k)
	}
	return got
}

// run applies o to db.
func (o op) run(db *kv.DB) error {
	switch o.kind {
	case 'P':
		if o.ttl != 0 {
			return db.PutTTL([]byte(o.key), []byte(o.value), o.ttl)
		}
		return db.Put([]byte(o.key), []byte(o.value))
	case 'D':
		return db.Delete([]byte(o.key))
	case 'B':
		b := db.NewBatch()
		for _, x := range o.batch {
			switch {
			case x.kind == 'P' && x.ttl != 0:
				b.PutTTL([]byte(x.key), []byte(x.value), x.ttl)
			case x.kind == 'P':
				b.Put([]byte(x.key), []byte(x.value))
			default:
				b.Delete([]byte(x.key))
			}
		}
		return db.Write(b)
	}
	return db.Compact()
}

// diffState describes how got differs from want, or "" when it does not.
func diffState(got, want state) string {
	var b strings.Builder
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.Sort(sorted)
	for _, k := range sorted {
		if g, w := got.get(k), want.get(k); g != w {
			fmt.Fprintf(&b, "  %s: got %.20q, want %.20q\n", k, g, w)
		}
	}
	return b.String()
}

// memOptions are the options of a store on a memFS, with automatic
// compaction off so that a seed replays the same operations.
func memOptions(fsys kv.FS, noSync bool) *kv.Options {
	return &kv.Options{FS: fsys, NoSync: noSync, Compaction: compact.Policy{Disabled: true}, Clock: workloadClock}
}

const memDir = "/data"

// TestCrashKeepsSyncedWrites runs random workloads on a memFS, crashes the
// machine at a random file-system operation, and checks what a reboot finds.
// With sync on, every acknowledged write is there with its latest value,
// except that the one write in flight may or may not have landed. With
// NoSync, the store holds exactly the state after some prefix of the
// workload, at least up to the last completed compaction (which syncs).
func TestCrashKeepsSyncedWrites(t *testing.T) {
	seed := baseSeed(t)
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoSync=%v", noSync), func(t *testing.T) {
			for round := range rounds(50, 300) {
				s := seed + uint64(round)
				crashWorkload(t, s, noSync)
				if t.Failed() {
					t.Fatalf("failed with seed %d (rerun with -crash.seed=%d -crash.rounds=1)", s, s)
				}
			}
		})
	}
}

func crashWorkload(t *testing.T, seed uint64, noSync bool) {
	crashWorkloadOf(t, seed, noSync, genOps)
}

// crashWorkloadOf is crashWorkload with the operations gen makes.
func crashWorkloadOf(t *testing.T, seed uint64, noSync bool, gen func(*rand.Rand, int) []op) {
	crashWorkloadWith(t, seed, noSync, gen, nil)
}

// crashWorkloadWith is crashWorkloadOf with the store's options changed by
// tweak, if not nil.
func crashWorkloadWith(t *testing.T, seed uint64, noSync bool, gen func(*rand.Rand, int) []op, tweak func(*kv.Options)) {
	rng := rand.New(rand.NewPCG(seed, 1))
	ops := gen(rng, 60)
	mem := newMemFS()
	ffs := newFaultFS(mem)
	keep := crashKeep(rng.IntN(3))
	if !noSync && rng.IntN(4) == 0 {
		// Synced writes keep the sync window, so any subset of what
		// was in flight may survive; NoSync writes make no such promise.
		keep = keepSubset
	}
	var crashed *memFS
	ffs.SetInject(crashAfter(rng.IntN(200), func() { crashed = mem.CrashHalt(keep, rng) }))

	// states[i] is the state after the first i operations.
	states := []state{{}}
	acked, durable := 0, 0 // operations acknowledged; prefix known durable
	opts := memOptions(ffs, noSync)
	if tweak != nil {
		tweak(opts)
	}
	db, err := kv.Open(memDir, opts)
	if err == nil {
		for _, o := range ops {
			if err = o.run(db); err != nil {
				break
			}
			states = append(states, states[len(states)-1].apply(o))
			acked++
			if !noSync || o.kind == 'C' {
				durable = acked
			}
		}
		db.Close() // the process is gone; its close may fail
	}
	if crashed == nil {
		crashed = mem.Crash(keep, rng) // the workload and Close ended first: crash now
	} else if err != nil && !errors.Is(err, errCrashed) {
		t.Fatalf("seed %d: operation failed with %v, want the simulated crash", seed, err)
	}
	// The one operation in flight at the crash may have landed.
	if acked < len(ops) {
		states = append(states, states[len(states)-1].apply(ops[acked]))
	}
	got := reopenState(t, crashed, seed)
	if got == nil {
		return
	}
	for i := len(states) - 1; i >= durable; i-- {
		if diffState(got, states[i].at(reopenClock())) == "" {
			return
		}
	}
	t.Errorf("seed %d (keep %d, NoSync %v): state after the crash matches no allowed prefix [%d, %d] of the workload; against the last acknowledged:\n%s",
		seed, keep, noSync, durable, len(states)-1, diffState(got, states[acked]))
}

// reopenState opens the store a crash left on fsys and returns its content,
// or nil after reporting why it cannot.
func reopenState(t *testing.T, fsys *memFS, seed uint64) state {
	t.Helper()
	opts := memOptions(fsys, false)
	opts.Clock = reopenClock // some of the workload's TTLs have run out
	db, err := kv.Open(memDir, opts)
	if err != nil {
		t.Errorf("seed %d: Open after the crash: %v", seed, err)
		return nil
	}
	defer db.Close()
	if left := leftovers(fsys.Names(memDir)); len(left) > 0 {
		t.Errorf("seed %d: Open left temporary files: %v", seed, left)
	}
	return readState(t, db)
}

// TestCrashDuringCompactionEveryStep crashes a compaction at each of its
// file-system operations in turn — creating the temporary file, writing it,
// syncing it, renaming it, syncing the directory — with none, all or some of
// the unsynced writes kept, and checks that the store always opens with
// exactly the acknowledged data, including a write that arrived while the
// compaction was copying.
func TestCrashDuringCompactionEveryStep(t *testing.T) {
	seed := baseSeed(t)
	c := compactionCrash{
		late: op{kind: 'P', key: "late", value: "written during the compaction"},
	}
	c.base, c.want = crashBase(t, func(db *kv.DB) state {
		want := state{}
		for i := range 40 {
			o := op{kind: 'P', key: fmt.Sprintf("k%02d", i%15), value: fmt.Sprintf("v%d", i)}
			if i%7 == 6 {
				o = op{kind: 'D', key: fmt.Sprintf("k%02d", i%15)}
			}
			if err := o.run(db); err != nil {
				t.Fatal(err)
			}
			want = want.apply(o)
		}
		return want
	})
	for k := 0; ; k++ {
		finished := true
		for _, keep := range []crashKeep{keepNone, keepAll, keepPrefix, keepSubset} {
			rng := rand.New(rand.NewPCG(seed, uint64(k)))
			if c.at(t, k, keep, rng) {
				finished = false
			}
		}
		if finished || t.Failed() {
			t.Logf("crashed the compaction at each of its %d mutating operations", k)
			return
		}
		if k > 500 {
			t.Fatal("compaction never finished")
		}
	}
}

// crashBase returns the file system a store filled by fill leaves once
// closed, all of it synced, and the state fill returns: the start of
// every run of a crash test, each on a copy.
func crashBase(t *testing.T, fill func(*kv.DB) state) (*memFS, state) {
	t.Helper()
	mem := newMemFS()
	db, err := kv.Open(memDir, memOptions(mem, false))
	if err != nil {
		t.Fatal(err)
	}
	want := fill(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return mem, want
}

// compactionCrash is a crash test of a compaction: a store to compact,
// what it holds, and a write that arrives while the compaction copies.
type compactionCrash struct {
	base *memFS // copied for each run (crashBase)
	want state
	late op
}

// at runs a compaction of a copy of the base store that crashes at its
// k-th mutating operation, and checks the reboot: Verify finds no damage,
// and the store opens with the acknowledged data, twice (the second Open
// reads the hint the first Close wrote, or the compaction's). It returns
// false when the compaction finished before its k-th operation.
func (c compactionCrash) at(t *testing.T, k int, keep crashKeep, rng *rand.Rand) bool {
	mem := c.base.Crash(keepNone, rng) // a copy: everything in the base is synced
	ffs := newFaultFS(mem)
	db, err := kv.Open(memDir, memOptions(ffs, false))
	if err != nil {
		t.Fatal(err)
	}
	opsBefore := len(ffs.Ops())
	var crashed *memFS
	crash := crashAfter(k, func() { crashed = mem.CrashHalt(keep, rng) })
	var lateOnce sync.Once
	lateAcked := false
	ffs.SetInject(func(o fsOp, name string, flag int) error {
		if o == opWrite && strings.HasSuffix(name, ".compact") {
			// A writer arrives while the compaction copies: the swap
			// must carry its record over.
			lateOnce.Do(func() { lateAcked = c.late.run(db) == nil })
		}
		return crash(o, name, flag)
	})
	cerr := db.Compact()
	db.Close()
	if crashed == nil {
		if cerr != nil {
			t.Fatalf("compaction without a crash: %v", cerr)
		}
		if keep == keepNone {
			t.Logf("operations of the compaction and the late write: %q", ffs.Ops()[opsBefore:])
		}
		return false
	}
	// A torn tail can only be the late write, in flight at the crash.
	if rep, err := kv.VerifyFS(crashed, memDir); err != nil || rep.Corrupt() {
		t.Errorf("crash at operation %d (keep %d): Verify = %+v, %v; want no corruption", k, keep, rep, err)
	}
	for pass := range 2 {
		got := reopenState(t, crashed, uint64(k))
		if got == nil {
			return true
		}
		want, withLate := c.want, c.want.apply(c.late)
		if lateAcked {
			want = withLate // acknowledged: it must be there
		} else if diffState(got, withLate) == "" {
			continue // in flight at the crash: it may be there
		}
		if d := diffState(got, want); d != "" {
			t.Errorf("crash at operation %d of the compaction (keep %d), open %d (ops %v):\n%.2000s", k, keep, pass, ffs.Ops()[opsBefore:], d)
		}
	}
	return true
}

// The kill -9 test: the test binary runs itself as a child that writes with
// sync on and reports each write before it starts and after it is
// acknowledged; the parent kills it at a random moment and checks the store.

const (
	childEnv = "CRABKV_CRASH_CHILD" // the child's mode: "writes" or "compaction"
	dirEnv   = "CRABKV_CRASH_DIR"
	seedEnv  = "CRABKV_CRASH_SEED"
)

// childWriters is how many goroutines write in the child, each on its own
// keys so that each key has at most one write in flight.
const childWriters = 2

// TestCrashChild is the child process of TestKill9. It does nothing unless
// started by it.
func TestCrashChild(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		t.Skip("runs only as the child of TestKill9")
	}
	orphan.ExitWithParent()
	seed, err := strconv.ParseUint(os.Getenv(seedEnv), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	// With NoSync an acknowledged write must still survive the death of
	// the process: it is in the kernel's page cache, written or mapped.
	opts := &kv.Options{NoSync: strings.HasPrefix(mode, "nosync"), Compaction: compact.Policy{Disabled: true}}
	compacting := strings.HasSuffix(mode, "compaction")
	if strings.HasSuffix(mode, "checkpoints") {
		// A checkpoint every 64 KiB of log: a kill lands in the middle
		// of one, or just after, in most rounds.
		opts.CheckpointBytes = 64 << 10
	}
	ttl := strings.Contains(mode, "ttl")
	if ttl {
		opts.Clock = workloadClock // the expiries it writes are known
	}
	if compacting {
		// Compact whenever a fifth of a log of any size is stale, on top
		// of the explicit loop below.
		opts.Compaction = compact.Policy{StaleRatio: 0.2, MinLogBytes: -1}
	}
	db, err := kv.Open(os.Getenv(dirEnv), opts)
	if err != nil {
		fmt.Printf("! open: %v\n", err)
		os.Exit(3)
	}
	if compacting {
		go func() {
			for db.Compact() == nil {
			}
		}()
	}
	if compacting && seed%2 == 1 {
		// Scans give the store a key order, which its compactions then
		// write their new logs in: half the rounds kill those.
		go func() {
			for {
				if err := db.Scan(nil, nil, func(k, v []byte) bool { return true }); err != nil {
					fmt.Printf("! scan: %v\n", err)
					os.Exit(3)
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	var wg sync.WaitGroup
	for w := range childWriters {
		wg.Go(func() { childWrite(db, w, seed, ttl) })
	}
	wg.Wait() // never returns: the writers run until killed
}

// childWrite writes forever. Before each write it prints "> w i op key n"
// and after the write returns "< w i"; a value is "s<seed>-w<w>-<i>"
// followed by n x's. Each line is one write(2), so lines never interleave.
// With ttl, a third of the puts are PutTTL with childTTL (op T).
func childWrite(db *kv.DB, w int, seed uint64, ttl bool) {
	rng := rand.New(rand.NewPCG(seed, uint64(w)))
	for i := 0; ; i++ {
		key := fmt.Sprintf("w%d-k%02d", w, rng.IntN(40))
		n := rng.IntN(3000)
		kind := byte('P')
		if rng.IntN(8) == 0 {
			kind = 'D'
		} else if ttl && rng.IntN(3) == 0 {
			kind = 'T'
		}
		fmt.Fprintf(os.Stdout, "> %d %d %c %s %d\n", w, i, kind, key, n)
		var err error
		switch kind {
		case 'P':
			err = db.Put([]byte(key), childValue(seed, w, i, n))
		case 'T':
			err = db.PutTTL([]byte(key), childValue(seed, w, i, n), childTTL)
		default:
			err = db.Delete([]byte(key))
		}
		if err != nil {
			fmt.Fprintf(os.Stdout, "! %d %d %v\n", w, i, err)
			os.Exit(3)
		}
		fmt.Fprintf(os.Stdout, "< %d %d\n", w, i)
	}
}

// childTTL is the TTL of the child's expiring puts: with its clock
// stopped at workloadTime, they expire long after any test reads them.
const childTTL = 2 * time.Hour

func childValue(seed uint64, w, i, n int) []byte {
	return append(fmt.Appendf(nil, "s%d-w%d-%d", seed%1000, w, i), bytes.Repeat([]byte("x"), n)...)
}

// TestKill9 kills a writing child with SIGKILL at random moments, during
// plain writes and during constant compaction, and checks that the store
// opens and holds every acknowledged write.
func TestKill9(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	if os.Getenv(childEnv) != "" {
		t.Skip("in the child")
	}
	seed := baseSeed(t)
	for _, mode := range []string{"writes", "compaction", "nosync-writes", "nosync-compaction", "ttl-compaction", "nosync-ttl-compaction", "nosync-checkpoints", "ttl-checkpoints"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			// The same directory across rounds: each child starts from
			// what the previous kill left.
			expect := map[string][]string{}
			n, midCompaction := rounds(3, 12), 0
			if mode == "nosync-compaction" {
				// The mode whose catch-up copying races the writers
				// hardest: kill it more often.
				n = rounds(5, 24)
			}
			for round := range n {
				s := seed + uint64(round)
				var mid bool
				expect, mid = killRound(t, dir, mode, s, expect)
				if t.Failed() {
					t.Fatalf("failed in round %d, seed %d (rerun with -crash.seed=%d)", round, s, seed)
				}
				if mid {
					midCompaction++
				}
			}
			t.Logf("%d kills, %d of them in the middle of a compaction", n, midCompaction)
		})
	}
}

// killRound runs one child on dir, kills it, and checks the store against
// prev, the values each key may hold from earlier rounds. It returns the
// values each key may hold now, and whether the kill interrupted a
// compaction (its temporary file was there).
func killRound(t *testing.T, dir, mode string, seed uint64, prev map[string][]string) (map[string][]string, bool) {
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, dirEnv+"="+dir, seedEnv+"="+strconv.FormatUint(seed, 10))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForAcks(t, out.Name(), 5)
	time.Sleep(time.Duration(rand.New(rand.NewPCG(seed, 9)).IntN(150)) * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		b, _ := os.ReadFile(out.Name())
		t.Fatalf("seed %d: child ended with %v before it was killed; output:\n%s", seed, err, tail(b))
	}
	b, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	allowed, err := allowedValues(b, prev, seed)
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	_, err = os.Stat(filepath.Join(dir, "wal.log.compact"))
	checkKilled(t, dir, seed, allowed)
	return settle(t, dir, allowed), err == nil
}

// waitForAcks waits until the child has acknowledged n writes.
func waitForAcks(t *testing.T, name string, n int) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Count(b, []byte("\n< ")) >= n {
			return
		}
		if bytes.Contains(b, []byte("\n! ")) || bytes.HasPrefix(b, []byte("! ")) {
			t.Fatalf("child failed:\n%s", tail(b))
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("child acknowledged no writes in 30s")
}

func tail(b []byte) []byte {
	if len(b) > 2000 {
		return b[len(b)-2000:]
	}
	return b
}

// allowedValues reads the child's report and returns, for every key, the
// values it may hold after the kill: its last acknowledged value (or, never
// written in this round, any value prev allows), plus the value of a write
// in flight on it. absent stands for no value.
func allowedValues(out []byte, prev map[string][]string, seed uint64) (map[string][]string, error) {
	allowed := map[string][]string{}
	for k, v := range prev {
		allowed[k] = v
	}
	if bytes.Contains(out, []byte("DATA RACE")) {
		return nil, fmt.Errorf("the race detector fired in the child:\n%s", tail(out))
	}
	// A last line without its newline was cut short by the kill: its write
	// had not started.
	out = out[:bytes.LastIndexByte(out, '\n')+1]
	var inflight [childWriters]*op
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 6 && f[0] == ">":
			w, _ := strconv.Atoi(f[1])
			i, _ := strconv.Atoi(f[2])
			n, err := strconv.Atoi(f[5])
			if err != nil || w < 0 || w >= childWriters {
				return nil, fmt.Errorf("bad line %q", sc.Text())
			}
			o := &op{kind: f[3][0], key: f[4], value: absent}
			switch o.kind {
			case 'P':
				o.value = string(childValue(seed, w, i, n))
			case 'T':
				o.value = string(childValue(seed, w, i, n)) + expirySuffix(childTTL)
			}
			inflight[w] = o
		case len(f) == 3 && f[0] == "<":
			w, _ := strconv.Atoi(f[1])
			if w < 0 || w >= childWriters || inflight[w] == nil {
				return nil, fmt.Errorf("acknowledgement without a write: %q", sc.Text())
			}
			allowed[inflight[w].key] = []string{inflight[w].value}
			inflight[w] = nil
		case len(f) > 0 && f[0] == "!":
			return nil, fmt.Errorf("child failed: %s", sc.Text())
		}
	}
	for _, o := range inflight {
		if o == nil {
			continue
		}
		before, ok := allowed[o.key]
		if !ok {
			before = []string{absent} // never written
		}
		allowed[o.key] = append(slices.Clone(before), o.value)
	}
	return allowed, nil
}

// checkKilled verifies and opens the store a kill left and checks every key
// against the allowed values.
func checkKilled(t *testing.T, dir string, seed uint64, allowed map[string][]string) {
	rep, err := kv.Verify(dir)
	if err != nil || rep.Corrupt() {
		t.Fatalf("seed %d: Verify after kill -9: %v, damage %+v", seed, err, rep.Damage)
	}
	db, err := kv.Open(dir, nil)
	if err != nil {
		t.Fatalf("seed %d: Open after kill -9: %v", seed, err)
	}
	defer db.Close()
	if _, err := os.Stat(filepath.Join(dir, "wal.log.compact")); err == nil {
		t.Errorf("seed %d: the compaction's temporary file is still there after Open", seed)
	}
	got := readState(t, db)
	for k, vals := range allowed {
		if g := got.get(k); !slices.Contains(vals, g) {
			t.Errorf("seed %d: key %s = %.24q, want one of %.24q", seed, k, g, vals)
		}
	}
	for k := range got {
		if _, ok := allowed[k]; !ok {
			t.Errorf("seed %d: key %s was never written", seed, k)
		}
	}
	if err := db.Put([]byte("after-kill"), []byte("ok")); err != nil {
		t.Errorf("seed %d: the reopened store takes no write: %v", seed, err)
	}
}

// settle returns the values the store holds now, each key's only allowed
// value for the next round.
func settle(t *testing.T, dir string, allowed map[string][]string) map[string][]string {
	db, err := kv.Open(dir, &kv.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := readState(t, db)
	next := map[string][]string{}
	for k := range allowed {
		next[k] = []string{got.get(k)}
	}
	next["after-kill"] = []string{"ok"}
	return next
}

// TestCrashDuringRepairEveryStep crashes Repair at each of its file-system
// operations, keeping none, all or some of the unsynced writes, and checks
// that the log is then either the damaged original (Open refuses it, and a
// second Repair succeeds) or the repaired one, and that once wal.log is
// replaced the backup holds the original byte for byte.
func TestCrashDuringRepairEveryStep(t *testing.T) {
	img := buildPaddedLog(t, 10) // the damage is corruption, not a torn tail
	bad := img.recs[len(img.recs)/2]
	data := bytes.Clone(img.data)
	data[bad.off+20] ^= 0xff
	kept := append(append([]imageRec(nil), img.recs[:len(img.recs)/2]...), img.recs[len(img.recs)/2+1:]...)
	want := stateOf(kept)
	for k := 0; ; k++ {
		finished := false
		for _, keep := range []crashKeep{keepNone, keepAll, keepPrefix} {
			rng := rand.New(rand.NewPCG(uint64(k), uint64(keep)))
			mem := memLog(data)
			ffs := newFaultFS(mem)
			var crashed *memFS
			ffs.SetInject(crashAfter(k, func() { crashed = mem.CrashHalt(keep, rng) }))
			_, err := kv.RepairFS(ffs, memDir)
			if crashed == nil {
				if err != nil {
					t.Fatalf("Repair without a crash: %v", err)
				}
				finished = true
				continue
			}
			what := fmt.Sprintf("crash at operation %d of Repair (keep %d)", k, keep)
			checkAfterRepairCrash(t, crashed, data, want, what)
		}
		if finished {
			t.Logf("crashed Repair at each of its %d mutating operations", k)
			return
		}
	}
}

// checkAfterRepairCrash checks the state a crash during Repair left.
func checkAfterRepairCrash(t *testing.T, mem *memFS, damaged []byte, want state, what string) {
	t.Helper()
	log, _ := mem.ReadFile(memLogPath)
	if bytes.Equal(log, damaged) {
		if _, err := kv.Open(memDir, &kv.Options{FS: mem}); err == nil {
			t.Errorf("%s: the damaged log opens", what)
		}
		if _, err := kv.RepairFS(mem, memDir); err != nil {
			t.Errorf("%s: second Repair: %v", what, err)
			return
		}
	} else {
		var backup []byte
		for _, name := range mem.Names(memDir) {
			if strings.HasPrefix(name, "wal.log.broken-") {
				backup, _ = mem.ReadFile(memDir + "/" + name)
			}
		}
		if !bytes.Equal(backup, damaged) {
			t.Errorf("%s: wal.log was replaced but no backup holds the damaged log (files %v)", what, mem.Names(memDir))
		}
	}
	got, st, err := openState(t, memDir, &kv.Options{FS: mem})
	if err != nil || st.TruncatedBytes != 0 {
		t.Fatalf("%s: Open: %v, TruncatedBytes %d", what, err, st.TruncatedBytes)
	}
	if d := diffState(got, want); d != "" {
		t.Errorf("%s:\n%s", what, d)
	}
}

// TestWritesDuringConstantCompaction runs two synced writers against a
// compaction loop and checks that every Put returns, without error, within
// a bound, and that the store then holds each key's last value. Writers
// that wait for a shared sync while a compaction swaps the log are the
// case this guards; run it with -race.
func TestWritesDuringConstantCompaction(t *testing.T) {
	db, err := kv.Open(t.TempDir(), &kv.Options{Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	var hung atomic.Bool
	defer func() {
		if !hung.Load() { // Close would wait for the stuck Put
			db.Close()
		}
	}()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := db.Compact(); err != nil {
				t.Errorf("Compact: %v", err)
				return
			}
		}
	})
	var mu sync.Mutex
	want := state{}
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k, v := fmt.Sprintf("w%d-%02d", w, i%40), fmt.Sprintf("%d-%s", i, strings.Repeat("v", 400))
				done := make(chan error, 1)
				go func() { done <- db.Put([]byte(k), []byte(v)) }()
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("Put during compaction: %v", err)
						return
					}
				case <-time.After(10 * time.Second):
					t.Errorf("Put of %s during compaction has not returned after 10s", k)
					hung.Store(true)
					return
				}
				mu.Lock()
				want[k] = v
				mu.Unlock()
			}
		})
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	if hung.Load() {
		return
	}
	if d := diffState(readState(t, db), want); d != "" {
		t.Errorf("after the writes:\n%s", d)
	}
}
