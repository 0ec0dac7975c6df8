//go:build race

package kv

// raceEnabled reports whether the race detector is on. Under it sync.Pool
// drops a random share of what is put back, so allocation counts measure
// the detector rather than the code.
const raceEnabled = true
