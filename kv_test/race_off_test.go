//go:build !race

package kv_test

// raceEnabled: see race_on_test.go.
const raceEnabled = false
