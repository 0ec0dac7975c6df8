//go:build unix

package kv_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/internal/orphan"
	"github.com/crabkv/crabkv/kv"
)

// Settings of the child TestKilledFillChild: where to fill, how many keys
// of how many bytes, and Options.CheckpointBytes.
const (
	killedFillDir   = "CRABKV_KILLED_FILL_DIR"
	killedFillKeys  = "CRABKV_KILLED_FILL_KEYS"
	killedFillValue = "CRABKV_KILLED_FILL_VALUE"
	killedFillCkpt  = "CRABKV_KILLED_FILL_CHECKPOINT"
)

// BenchmarkOpenAfterKill times the Open that follows a crash: a child
// process fills a store (synced, in batches of 1,000, default options but
// for checkpoints) and is killed with SIGKILL once the last batch is
// acknowledged, and the benchmark opens what it left, with checkpoints as
// the store has them by default and with none. It reports the log bytes
// the Open replayed (replayed-MiB). Each run fills anew and times one
// Open: run it with -benchtime 1x, and -count for several trials. The
// stores are large (1M keys of 1 KiB: 1 GiB of log), so it runs only
// when CRABKV_KILLED_BENCH is set.
func BenchmarkOpenAfterKill(b *testing.B) {
	if os.Getenv("CRABKV_KILLED_BENCH") == "" {
		b.Skip("set CRABKV_KILLED_BENCH=1: it writes 1 GiB per case")
	}
	for _, tc := range []struct {
		name string
		ckpt int64
	}{{"checkpoints=default", 0}, {"checkpoints=off", -1}} {
		b.Run(tc.name, func(b *testing.B) {
			dir := b.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestKilledFillChild$")
			cmd.Env = append(os.Environ(), killedFillDir+"="+dir, killedFillKeys+"=1000000",
				killedFillValue+"=1024", killedFillCkpt+"="+strconv.FormatInt(tc.ckpt, 10))
			out, err := cmd.CombinedOutput()
			if err == nil || cmd.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				b.Fatalf("the child was not killed: %v\n%s", err, out)
			}
			var st kv.Stats
			for b.Loop() {
				db, err := kv.Open(dir, &kv.Options{CheckpointBytes: -1, Compaction: compact.Policy{Disabled: true}})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				st = db.Stats()
				if err := db.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			if st.Keys != 1_000_000 {
				b.Fatalf("%d keys after the kill, want 1000000", st.Keys)
			}
			b.ReportMetric(float64(st.ReplayedBytes)/(1<<20), "replayed-MiB")
			b.ReportMetric(float64(st.LogBytes)/(1<<20), "log-MiB")
		})
	}
}

// TestKilledFillChild is BenchmarkOpenAfterKill's child: it fills the store
// and kills itself.
func TestKilledFillChild(t *testing.T) {
	dir := os.Getenv(killedFillDir)
	if dir == "" {
		t.Skip("runs only as the child of BenchmarkOpenAfterKill")
	}
	orphan.ExitWithParent()
	n, _ := strconv.Atoi(os.Getenv(killedFillKeys))
	size, _ := strconv.Atoi(os.Getenv(killedFillValue))
	ckpt, _ := strconv.ParseInt(os.Getenv(killedFillCkpt), 10, 64)
	db, err := kv.Open(dir, &kv.Options{CheckpointBytes: ckpt, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	key, value := make([]byte, 16), make([]byte, size)
	for i := 0; i < n; i += 1000 {
		batch := db.NewBatch()
		for j := i; j < min(i+1000, n); j++ {
			binary.BigEndian.PutUint64(key, uint64(j)*0x9E3779B97F4A7C15)
			binary.BigEndian.PutUint64(key[8:], uint64(j))
			binary.LittleEndian.PutUint64(value, uint64(j))
			batch.Put(key, value)
		}
		if err := db.Write(batch); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Printf("filled %d keys, %d checkpoints\n", n, db.Stats().Checkpoints)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal ends the process
}
