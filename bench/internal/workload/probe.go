package workload

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// fdatasync measures the disk's durable-append rate: the ceiling for any
// engine that syncs every write of a single writer.
func (r *runner) fdatasync(res *Result) error {
	f, err := os.OpenFile(filepath.Join(r.dir, "probe"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	rec := r.vals.For(0, 0)
	start := time.Now()
	for range r.spec.N {
		if _, err := f.Write(rec); err != nil {
			return fmt.Errorf("%w (close: %v)", err, f.Close())
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			return fmt.Errorf("fdatasync: %w (close: %v)", err, f.Close())
		}
	}
	r.setOps(res, time.Since(start))
	return f.Close()
}

// heapInUse returns HeapInuse after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// cpuSeconds returns the user and system CPU time the process has used.
func cpuSeconds() float64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// procStatus returns the kB fields of /proc/self/status in bytes, or an
// empty map where the file does not exist.
func procStatus() map[string]float64 {
	out := map[string]float64{}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return out
	}
	defer func() { _ = f.Close() }() // read only: nothing to lose
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(rest)
		if !ok || len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		if kb, err := strconv.ParseFloat(fields[0], 64); err == nil {
			out[name] = kb * 1024
		}
	}
	return out
}
