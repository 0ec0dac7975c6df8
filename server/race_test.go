//go:build race

package server

// raceEnabled is whether the race detector is on: it makes sync.Pool drop
// some of what is put back, so allocation counts mean nothing under it.
const raceEnabled = true
