package kv_test

import "syscall"

// threadSched is the calling thread's identity and its count of
// involuntary context switches: a change in either across an operation
// means the scheduler, not the code, took some of its time.
type threadSched struct {
	tid         int
	involuntary int64
}

func readThreadSched() threadSched {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return threadSched{}
	}
	return threadSched{tid: syscall.Gettid(), involuntary: ru.Nivcsw}
}
