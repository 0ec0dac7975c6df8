//go:build !linux

package kv_test

// threadSched is not read outside Linux: every slow operation counts as
// the engine's.
type threadSched struct {
	tid               int
	involuntary       int64
	voluntary, faults int64
}

func readThreadSched() threadSched { return threadSched{} }
