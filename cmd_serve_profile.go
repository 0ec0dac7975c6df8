package main

import (
	"errors"
	"os"
	"runtime/pprof"
)

// startCPUProfile starts profiling the process's CPU into a new file at
// path, and returns the function that stops profiling and closes the file.
// A server's costs show only under a real load from real clients, which
// is why serve, not a test benchmark, is where the profile is taken.
func startCPUProfile(path string) (stop func() error, err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}
