package kv_test

import (
	"fmt"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// TestCrashDuringCheckpoints runs the crash workload of index growth with
// a checkpoint due after every 2 KiB of log, so that checkpoints write
// the index out beside nearly every operation, and the machine crashes at
// a random file-system operation, often one of a checkpoint's. A hint put
// in place by a checkpoint must describe the store as it was when the
// checkpoint began, so that the reopened store is as
// TestCrashKeepsSyncedWrites requires.
func TestCrashDuringCheckpoints(t *testing.T) {
	seed := baseSeed(t)
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoSync=%v", noSync), func(t *testing.T) {
			for round := range rounds(20, 100) {
				s := seed + uint64(round)
				crashWorkloadWith(t, s, noSync, genGrowthOps, func(o *kv.Options) { o.CheckpointBytes = 2 << 10 })
				if t.Failed() {
					t.Fatalf("failed with seed %d (rerun with -crash.seed=%d -crash.rounds=1)", s, s)
				}
			}
		})
	}
}
