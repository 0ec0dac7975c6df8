//go:build !unix || aix

package kv

// shareLog takes no lock where there is no flock: no compaction claims a
// replaced log there either (see oldlog.go).
func shareLog(File) error { return nil }

// claimLog never claims a log where there is no flock: a replaced log is
// closed whole.
func claimLog(File) (got, ok bool) { return false, false }
