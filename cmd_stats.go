package main

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/crabkv/crabkv/kv"
)

var statsVerb = verb{
	name:    "stats",
	args:    "",
	summary: "show the number of keys and how much of the log is stale",
	help: `
Stats prints one "name: value" line each for the number of keys, the size of
the log, the bytes held by live records, the bytes held by superseded records
and tombstones (stale, with its share of the log), the number of
compactions run since the store was opened, the memory the index takes,
how much of the log lies past the index hint (read record by record at
open, and what a crash now would make the next open replay: a store
closed cleanly has none),
when keys expire, how many have an expiry and how many have expired but
still take room in the log (their bytes count as stale), and,
when another process holds the store open for writing, which one ("writer:").
Stale bytes are what "crabkv compact" would reclaim.

With --json it prints one JSON object instead (fields in the README).`,
	run: runStats,
}

func runStats(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	asJSON := jsonFlag(fs)
	if _, code, ok := e.parse(v, fs, args, 0, 0); !ok {
		return code
	}
	db, err := e.open(true)
	if err != nil {
		return e.fail(err)
	}
	// Another process's writer, if one holds the store: the figures are
	// the log as it stands, and it may be changing.
	var writer string
	if h, ok := db.Writer(); ok {
		writer = h.String()
	}
	out := formatStats(db.Stats(), writer)
	if *asJSON {
		out = statsJSON(db.Stats(), writer)
	}
	if _, err := io.WriteString(e.stdout, out); err != nil {
		return e.closeDB(db, e.fail(fmt.Errorf("write stats: %w", err)))
	}
	return e.closeDB(db, exitOK)
}

// formatStats renders s as "name: value" lines, and the writer that holds
// the store, if any.
func formatStats(s kv.Stats, writer string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "keys: %d\n", s.Keys)
	fmt.Fprintf(&b, "log: %s\n", humanBytes(s.LogBytes))
	fmt.Fprintf(&b, "live: %s\n", humanBytes(s.LiveBytes))
	if encoded(s) {
		fmt.Fprintf(&b, "compression: live data takes %s of its %s decoded, ratio %.2f\n",
			humanBytes(s.LiveBytes), humanBytes(s.LogicalLiveBytes), ratio(s.LogicalLiveBytes, s.LiveBytes))
	}
	fmt.Fprintf(&b, "stale: %s, %.1f%% of the log\n", humanBytes(s.StaleBytes), percent(s.StaleBytes, s.LogBytes))
	fmt.Fprintf(&b, "compactions: %d\n", s.Compactions)
	fmt.Fprintf(&b, "index memory: %s\n", humanBytes(s.IndexBytes))
	fmt.Fprintf(&b, "past the hint: %s, %.1f%% of the log\n", humanBytes(s.ReplayedBytes), percent(s.ReplayedBytes, s.LogBytes))
	if keysExpire(s) {
		fmt.Fprintf(&b, "expiring keys: %d\n", s.ExpiringKeys)
		fmt.Fprintf(&b, "expired, not yet compacted: %d keys, %s\n", s.ExpiredKeys, humanBytes(s.ExpiredBytes))
	}
	if writer != "" {
		fmt.Fprintf(&b, "writer: %s\n", writer)
	}
	return b.String()
}

// statsJSONOut is the --json form of the stats.
type statsJSONOut struct {
	Keys        int     `json:"keys"`
	LogBytes    int64   `json:"log_bytes"`
	LiveBytes   int64   `json:"live_bytes"`
	StaleBytes  int64   `json:"stale_bytes"`
	StaleRatio  float64 `json:"stale_ratio"` // StaleBytes / LogBytes, 0 to 1
	Compactions int64   `json:"compactions"`
	IndexBytes  int64   `json:"index_bytes"`
	// The log past the hint: what this open read record by record, and
	// what a crash would make the next open replay.
	ReplayedBytes int64 `json:"replayed_bytes"`
	// Present when values are stored encoded: the live and stale bytes
	// as they would be with every value raw, and the ratio of logical to
	// stored live bytes.
	LogicalLiveBytes  int64   `json:"logical_live_bytes,omitempty"`
	LogicalStaleBytes int64   `json:"logical_stale_bytes,omitempty"`
	CompressionRatio  float64 `json:"compression_ratio,omitempty"`
	// Present when keys expire: live keys with an expiry, and expired
	// records no compaction has dropped yet (counted in stale_bytes).
	// The three come together, 0s included, when keysExpire, as the
	// plain form's two lines do; nil leaves them out.
	ExpiringKeys *int   `json:"expiring_keys,omitempty"`
	ExpiredKeys  *int   `json:"expired_keys,omitempty"`
	ExpiredBytes *int64 `json:"expired_bytes,omitempty"`
	Writer       string `json:"writer,omitempty"` // the process that holds the store, if any
}

func statsJSON(s kv.Stats, writer string) string {
	out := statsJSONOut{
		Keys: s.Keys, LogBytes: s.LogBytes, LiveBytes: s.LiveBytes, StaleBytes: s.StaleBytes,
		StaleRatio: percent(s.StaleBytes, s.LogBytes) / 100, Compactions: s.Compactions, IndexBytes: s.IndexBytes,
		ReplayedBytes:    s.ReplayedBytes,
		LogicalLiveBytes: logicalIfEncoded(s.LogicalLiveBytes, s), LogicalStaleBytes: logicalIfEncoded(s.LogicalStaleBytes, s),
		CompressionRatio: compressionRatio(s),
		Writer:           writer,
	}
	if keysExpire(s) {
		out.ExpiringKeys, out.ExpiredKeys, out.ExpiredBytes = &s.ExpiringKeys, &s.ExpiredKeys, &s.ExpiredBytes
	}
	return string(marshalJSON(out)) + "\n"
}

// keysExpire reports whether some key of s has an expiry or has expired:
// when stats shows the expiry figures.
func keysExpire(s kv.Stats) bool {
	return s.ExpiringKeys > 0 || s.ExpiredKeys > 0
}

// ratio returns a / b, or 1 when b is 0.
func ratio(a, b int64) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// encoded reports whether any value of s is stored encoded.
func encoded(s kv.Stats) bool {
	return s.LogicalLiveBytes > s.LiveBytes || s.LogicalStaleBytes > s.StaleBytes
}

// logicalIfEncoded returns n when some value of s is stored encoded, 0
// (left out of the JSON) otherwise.
func logicalIfEncoded(n int64, s kv.Stats) int64 {
	if !encoded(s) {
		return 0
	}
	return n
}

// compressionRatio returns the live data's logical size over its stored
// size, rounded to two places, or 0 (left out) when nothing is encoded.
func compressionRatio(s kv.Stats) float64 {
	if !encoded(s) {
		return 0
	}
	return math.Round(ratio(s.LogicalLiveBytes, s.LiveBytes)*100) / 100
}
