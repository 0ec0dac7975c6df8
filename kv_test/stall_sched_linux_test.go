package kv_test

import "syscall"

// threadSched is the calling thread's identity and its count of
// involuntary context switches: a change in either across an operation
// means the scheduler, not the code, took some of its time.
type threadSched struct {
	tid         int
	involuntary int64
	// voluntary counts the times the thread blocked (a lock, a futex, a
	// read from the disk); faults the page faults it took, minor or major.
	voluntary int64
	faults    int64
}

func readThreadSched() threadSched {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return threadSched{}
	}
	return threadSched{tid: syscall.Gettid(), involuntary: ru.Nivcsw, voluntary: ru.Nvcsw, faults: ru.Minflt + ru.Majflt}
}
