//go:build race

package kv

// raceEnabled reports whether the race detector is on. Get then always
// takes the readers' lock: its lock-free attempt (getfast.go) reads what a
// writer may be changing, and judges afterwards whether it read a settled
// state, which the detector would report as the race it is. Tests use it
// too: under the detector sync.Pool drops a random share of what is put
// back, so allocation counts measure the detector rather than the code.
const raceEnabled = true
