package kv_test

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/internal/orphan"
	"github.com/crabkv/crabkv/kv"
)

// A real child process writes batches of sequence-numbered keys from
// several goroutines and reports each on its standard output, a pipe; the
// parent kills it with SIGKILL at a random moment and checks that every
// batch is whole or absent, and every batch whose Write returned is there.

const (
	batchChildEnv = "CRABKV_BATCH_CHILD" // the child's mode
	batchDirEnv   = "CRABKV_BATCH_DIR"
	batchRoundEnv = "CRABKV_BATCH_ROUND"
)

// batchChildWriters is how many goroutines write batches in the child, so
// that batches also share syncs.
const batchChildWriters = 3

// batchShared is how many keys every batch of a writer overwrites, all
// with the same value: after a kill they must all hold one batch's value.
const batchShared = 8

// TestBatchCrashChild is the child process of TestKill9Batches. It does
// nothing unless started by it.
func TestBatchCrashChild(t *testing.T) {
	mode := os.Getenv(batchChildEnv)
	if mode == "" {
		t.Skip("runs only as the child of TestKill9Batches")
	}
	orphan.ExitWithParent()
	round, err := strconv.Atoi(os.Getenv(batchRoundEnv))
	if err != nil {
		t.Fatal(err)
	}
	opts := &kv.Options{NoSync: strings.HasPrefix(mode, "nosync"), Compaction: compact.Policy{Disabled: true}}
	db, err := kv.Open(os.Getenv(batchDirEnv), opts)
	if err != nil {
		fmt.Printf("! open: %v\n", err)
		os.Exit(3)
	}
	if strings.HasSuffix(mode, "compaction") {
		go func() {
			for db.Compact() == nil {
			}
		}()
	}
	var wg sync.WaitGroup
	for w := range batchChildWriters {
		wg.Go(func() { childWriteBatches(db, round, w) })
	}
	wg.Wait() // never returns: the writers run until killed
}

// childWriteBatches writes batches forever. Before batch i it prints
// "> w i n", n its number of new keys, and after Write returns "< w i".
// Each line is one write(2) to the pipe, so lines never interleave.
func childWriteBatches(db *kv.DB, round, w int) {
	rng := rand.New(rand.NewPCG(uint64(round), uint64(w)))
	b := db.NewBatch()
	for i := 0; ; i++ {
		n := 1 + rng.IntN(400)
		for j := range n {
			b.Put([]byte(batchKey(round, w, i, j)), batchValue(round, w, i, j))
		}
		for s := range batchShared {
			b.Put([]byte(sharedKey(w, s)), []byte(sharedValue(round, i)))
		}
		// A marker moves from batch to batch: a put of this one's and a
		// delete of the one before.
		b.Put([]byte(markerKey(round, w, i)), nil)
		if i > 0 {
			b.Delete([]byte(markerKey(round, w, i-1)))
		}
		fmt.Fprintf(os.Stdout, "> %d %d %d\n", w, i, n)
		if err := db.Write(b); err != nil {
			fmt.Fprintf(os.Stdout, "! %d %d %v\n", w, i, err)
			os.Exit(3)
		}
		fmt.Fprintf(os.Stdout, "< %d %d\n", w, i)
		b.Reset()
	}
}

func batchKey(round, w, i, j int) string { return fmt.Sprintf("r%d/w%d/b%06d/%03d", round, w, i, j) }
func sharedKey(w, s int) string          { return fmt.Sprintf("w%d/shared%d", w, s) }
func sharedValue(round, i int) string    { return fmt.Sprintf("r%d-b%d", round, i) }
func markerKey(round, w, i int) string   { return fmt.Sprintf("r%d/w%d/marker%06d", round, w, i) }

// batchValue is the value of key j of batch i: up to a few kilobytes, so
// that batches span many sectors and pages.
func batchValue(round, w, i, j int) []byte {
	n := (i*131 + j*17 + w) % 3000
	return append(fmt.Appendf(nil, "r%d-w%d-%d-%d:", round, w, i, j), bytes.Repeat([]byte{byte('a' + j%26)}, n)...)
}

// lockedBuffer collects a child's output, which exec copies from the pipe
// in a goroutine of its own, for the parent to read meanwhile.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// TestKill9Batches kills a child writing batches with SIGKILL at random
// moments, several rounds on one directory, with sync on and off and
// during constant compaction.
func TestKill9Batches(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	if os.Getenv(batchChildEnv) != "" || os.Getenv(childEnv) != "" {
		t.Skip("in a child")
	}
	seed := baseSeed(t)
	for _, mode := range []string{"sync", "nosync", "sync-compaction"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			shared := make([]string, batchChildWriters) // each writer's shared value
			for w := range shared {
				shared[w] = absent
			}
			n, acked, inflight := rounds(2, 5), 0, 0
			for round := range n {
				rng := rand.New(rand.NewPCG(seed, uint64(round)))
				out := killBatchChild(t, dir, mode, round, rng)
				a, f := checkBatches(t, dir, round, out, shared)
				if t.Failed() {
					t.Fatalf("failed in round %d (rerun with -crash.seed=%d)", round, seed)
				}
				acked, inflight = acked+a, inflight+f
			}
			t.Logf("%d kills: %d batches acknowledged, %d more in flight", n, acked, inflight)
		})
	}
}

// killBatchChild runs a child on dir until it has acknowledged a few
// batches, waits a random while, kills it, and returns its output.
func killBatchChild(t *testing.T, dir, mode string, round int, rng *rand.Rand) []byte {
	var out lockedBuffer
	cmd := exec.Command(os.Args[0], "-test.run=^TestBatchCrashChild$")
	cmd.Env = append(os.Environ(), batchChildEnv+"="+mode, batchDirEnv+"="+dir, batchRoundEnv+"="+strconv.Itoa(round))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for bytes.Count(out.Bytes(), []byte("\n< ")) < 3 {
		if b := out.Bytes(); bytes.Contains(b, []byte("! ")) || time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("child acknowledged no batches:\n%s", tail(out.Bytes()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("child ended with %v before it was killed; output:\n%s", err, tail(out.Bytes()))
	}
	return out.Bytes()
}

// childBatches is what a child reported of one writer's batches: the new
// keys of each batch it began, and the last one whose Write returned.
type childBatches struct {
	sizes []int // sizes[i]: new keys of batch i
	acked int   // last acknowledged batch, -1 for none
}

// parseBatchReport reads a child's output.
func parseBatchReport(t *testing.T, out []byte) []childBatches {
	if bytes.Contains(out, []byte("DATA RACE")) {
		t.Fatalf("the race detector fired in the child:\n%s", tail(out))
	}
	// A last line without its newline was cut short by the kill.
	out = out[:bytes.LastIndexByte(out, '\n')+1]
	ws := make([]childBatches, batchChildWriters)
	for w := range ws {
		ws[w].acked = -1
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && f[0] == "!" {
			t.Fatalf("child failed: %s", sc.Text())
		}
		if len(f) < 3 || (f[0] != ">" && f[0] != "<") {
			continue
		}
		w, err1 := strconv.Atoi(f[1])
		i, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil || w < 0 || w >= batchChildWriters {
			t.Fatalf("bad line %q", sc.Text())
		}
		switch {
		case f[0] == ">" && len(f) == 4 && i == len(ws[w].sizes):
			n, err := strconv.Atoi(f[3])
			if err != nil {
				t.Fatalf("bad line %q", sc.Text())
			}
			ws[w].sizes = append(ws[w].sizes, n)
		case f[0] == "<" && i == ws[w].acked+1 && i < len(ws[w].sizes):
			ws[w].acked = i
		default:
			t.Fatalf("line out of order: %q", sc.Text())
		}
	}
	return ws
}

// checkBatches verifies and opens the store a kill left and checks each
// writer's batches of this round against the child's report: every
// acknowledged batch whole, the one in flight whole or absent, none after
// it; the shared keys all of the last batch there (shared holds each
// writer's value before this round, and is updated); and one marker. It
// returns how many batches were acknowledged, and how many in flight.
func checkBatches(t *testing.T, dir string, round int, out []byte, shared []string) (acked, inflight int) {
	ws := parseBatchReport(t, out)
	rep, err := kv.Verify(dir)
	if err != nil || rep.Corrupt() {
		t.Fatalf("Verify after kill -9: %v, damage %+v", err, rep.Damage)
	}
	db, err := kv.Open(dir, nil)
	if err != nil {
		t.Fatalf("Open after kill -9: %v", err)
	}
	defer db.Close()
	got := readState(t, db)
	for w, wb := range ws {
		acked, inflight = acked+wb.acked+1, inflight+len(wb.sizes)-wb.acked-1
		last := -1 // the last batch there
		for i, n := range wb.sizes {
			there := 0
			for j := range n {
				if v, ok := got[batchKey(round, w, i, j)]; ok {
					if v != string(batchValue(round, w, i, j)) {
						t.Errorf("%s holds %.30q", batchKey(round, w, i, j), v)
					}
					there++
				}
			}
			switch {
			case there != 0 && there != n:
				t.Errorf("writer %d batch %d: %d of its %d keys are there", w, i, there, n)
			case there == 0 && i <= wb.acked:
				t.Errorf("writer %d batch %d was acknowledged but is not there", w, i)
			case there == n && i > last+1:
				t.Errorf("writer %d batch %d is there but batch %d is not", w, i, last+1)
			case there == n:
				last = i
			}
		}
		prefix := fmt.Sprintf("r%d/w%d/", round, w)
		wantMarker, markers := markerKey(round, w, last), 0
		for k := range got {
			switch {
			case !strings.HasPrefix(k, prefix):
			case strings.Contains(k, "/marker"):
				markers++
				if k != wantMarker || last < 0 {
					t.Errorf("writer %d: marker %s, want %s (last batch %d)", w, k, wantMarker, last)
				}
			case !strings.HasPrefix(k, prefix+"b") || !strings.Contains(strings.TrimPrefix(k, prefix), "/"):
				t.Errorf("unexpected key %s", k)
			default:
				var i, j int
				if _, err := fmt.Sscanf(strings.TrimPrefix(k, prefix), "b%06d/%03d", &i, &j); err != nil || i >= len(wb.sizes) || j >= wb.sizes[i] {
					t.Errorf("key %s belongs to no batch the child began", k)
				}
			}
		}
		if last >= 0 && markers != 1 {
			t.Errorf("writer %d: %d markers, want 1", w, markers)
		}
		if last >= 0 {
			shared[w] = sharedValue(round, last)
		}
		for s := range batchShared {
			if g := got.get(sharedKey(w, s)); g != shared[w] {
				t.Errorf("writer %d: %s = %q, want %q, the last batch's", w, sharedKey(w, s), g, shared[w])
			}
		}
	}
	return acked, inflight
}
