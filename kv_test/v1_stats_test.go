package kv_test

import (
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// TestStatsAccountingOfVersion1Log opens a version 1 log read only, where
// no compaction rewrites it. Stats documents LiveBytes + StaleBytes +
// the header's size == LogBytes, and Stats.HeaderBytes says which size
// applies.
func TestStatsAccountingOfVersion1Log(t *testing.T) {
	dir := version1Store(t)
	db := openDB(t, dir, &kv.Options{ReadOnly: true})
	wantValue(t, db, "b", "2")
	checkAccounting(t, db)
}
