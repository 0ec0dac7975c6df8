package engines

import "testing"

// TestPebbleOptionsFilterEveryLevel checks that the bloom filter reaches
// every level, including L6, which Pebble would otherwise leave unfiltered.
func TestPebbleOptionsFilterEveryLevel(t *testing.T) {
	opts := pebbleOptions()
	opts.EnsureDefaults()
	for i, l := range opts.Levels {
		if got := l.FilterPolicy.Name(); got != "rocksdb.BuiltinBloomFilter" {
			t.Errorf("L%d filter policy = %q, want the bloom filter", i, got)
		}
	}
}
