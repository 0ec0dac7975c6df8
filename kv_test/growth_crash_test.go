package kv_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestCrashDuringIndexGrowth runs the crash workload with batches that add
// tens of keys at a time, so that the index grows twice, and each growth
// migrates its old table over many of the writes, while the machine crashes
// at a random file-system operation: a crash in the middle of a migration
// (and a hint written at Close from a grown table) must leave the store
// as TestCrashKeepsSyncedWrites requires.
func TestCrashDuringIndexGrowth(t *testing.T) {
	seed := baseSeed(t)
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoSync=%v", noSync), func(t *testing.T) {
			for round := range rounds(20, 100) {
				s := seed + uint64(round)
				crashWorkloadOf(t, s, noSync, genGrowthOps)
				if t.Failed() {
					t.Fatalf("failed with seed %d (rerun with -crash.seed=%d -crash.rounds=1)", s, s)
				}
			}
		})
	}
}

// genGrowthOps returns n operations: mostly batches of 50 new keys, with
// puts and deletes of earlier keys and an occasional compaction between.
func genGrowthOps(rng *rand.Rand, n int) []op {
	ops := make([]op, n)
	keys := 0
	old := func() string { return fmt.Sprintf("g%05d", rng.IntN(keys+1)) }
	for i := range ops {
		switch rng.IntN(10) {
		case 0:
			ops[i] = op{kind: 'C'}
		case 1:
			ops[i] = op{kind: 'D', key: old()}
		case 2:
			ops[i] = op{kind: 'P', key: old(), value: fmt.Sprintf("v%d", i)}
		default:
			b := op{kind: 'B'}
			for range 50 {
				b.batch = append(b.batch, op{kind: 'P', key: fmt.Sprintf("g%05d", keys), value: fmt.Sprintf("v%d", i)})
				keys++
			}
			b.batch = append(b.batch, op{kind: 'D', key: old()})
			ops[i] = b
		}
	}
	return ops
}
