//go:build race

package kv_test

// raceEnabled reports whether the tests run with the race detector, which
// makes the exhaustive crash tests several times slower: those that crash
// at every operation of a long sequence crash at every few under it, and
// the run without it crashes at every one.
const raceEnabled = true
