package kv_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// The crash workloads run with a clock stopped at workloadTime, so that
// the expiry a TTL gives is known; the store a crash leaves is read at
// reopenTime, when the short TTLs (genTTLOps) have run out and the long
// ones have not.
var (
	workloadTime = time.Unix(1_800_000_000, 0)
	reopenTime   = workloadTime.Add(30 * time.Minute)
)

func workloadClock() time.Time { return workloadTime }
func reopenClock() time.Time   { return reopenTime }

// expirySeparator sets a key's expiry apart from its value in a state.
const expirySeparator = "\x00expires="

// expirySuffix is what a put with ttl adds to its value in a state: the
// expiry the store must report for it.
func expirySuffix(ttl time.Duration) string {
	if ttl == 0 {
		return ""
	}
	return expirySeparator + strconv.FormatInt(workloadTime.Add(ttl).UnixNano(), 10)
}

// storedExpiry is the suffix for key's expiry in db.
func storedExpiry(tb testing.TB, db *kv.DB, key string) string {
	tb.Helper()
	at, err := db.ExpiresAt([]byte(key))
	if err != nil {
		tb.Fatalf("ExpiresAt(%q) of a listed key: %v", key, err)
	}
	if at.IsZero() {
		return ""
	}
	return expirySeparator + strconv.FormatInt(at.UnixNano(), 10)
}

// at returns s as read at now: without the keys expired by then.
func (s state) at(now time.Time) state {
	out := make(state, len(s))
	for k, v := range s {
		if i := strings.Index(v, expirySeparator); i >= 0 {
			at, err := strconv.ParseInt(v[i+len(expirySeparator):], 10, 64)
			if err != nil {
				panic(fmt.Sprintf("state of %q: %q", k, v))
			}
			if at <= now.UnixNano() {
				continue
			}
		}
		out[k] = v
	}
	return out
}

// genTTLOps is genBatchOps with TTLs: about half the puts, in batches or
// not, expire, half of those before the store is reopened.
func genTTLOps(rng *rand.Rand, n int) []op {
	ops := genBatchOps(rng, n)
	ttl := func() time.Duration {
		switch rng.IntN(4) {
		case 0:
			return 10 * time.Minute // expired at reopenTime
		case 1:
			return 2 * time.Hour
		}
		return 0
	}
	for i := range ops {
		if ops[i].kind == 'P' {
			ops[i].ttl = ttl()
		}
		for j := range ops[i].batch {
			if ops[i].batch[j].kind == 'P' {
				ops[i].batch[j].ttl = ttl()
			}
		}
	}
	return ops
}

// TestCrashKeepsExpiries is the crash workload of TestCrashKeepsSyncedWrites
// with expiring puts, alone and in batches, and compactions: after a crash
// at any point, the store holds an allowed state, each key with the expiry
// it was written with, and the keys expired when it is reopened are gone.
func TestCrashKeepsExpiries(t *testing.T) {
	seed := baseSeed(t)
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoSync=%v", noSync), func(t *testing.T) {
			for i := range rounds(40, 300) {
				crashWorkloadOf(t, seed+uint64(i), noSync, genTTLOps)
			}
		})
	}
}
