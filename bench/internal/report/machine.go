package report

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Machine describes where the numbers were taken.
type Machine struct {
	CPU        string
	Cores      int
	Memory     string
	GoVersion  string
	Kernel     string
	Dir        string
	FileSystem string // type and device of the mount holding Dir
	// Warning is set when Dir is on a memory file system, where fsync
	// costs nothing and the sync numbers mean nothing.
	Warning string
}

// DetectMachine reads /proc for the machine running the benchmark, whose
// stores live under dir. Missing files leave fields as "unknown".
func DetectMachine(dir string) Machine {
	m := Machine{
		CPU:       "unknown",
		Cores:     runtime.NumCPU(),
		Memory:    "unknown",
		GoVersion: runtime.Version(),
		Kernel:    "unknown",
		Dir:       dir,
	}
	if v := firstField("/proc/cpuinfo", "model name"); v != "" {
		m.CPU = v
	}
	if v := firstField("/proc/meminfo", "MemTotal"); v != "" {
		var kb int64
		if _, err := fmt.Sscanf(v, "%d kB", &kb); err == nil {
			m.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	fsType, dev := mountOf(dir)
	m.FileSystem = fsType + " on " + dev
	if fsType == "tmpfs" || fsType == "ramfs" {
		m.Warning = fmt.Sprintf("%s is on %s: fsync does not reach a disk there, so the sync workloads measure nothing useful. Use -dir on a real disk.", dir, fsType)
	}
	return m
}

// firstField returns the value of the first "name : value" line in path.
func firstField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }() // read only: nothing to lose
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// mountOf returns the file system type and device of the longest mount
// point in /proc/mounts that contains dir.
func mountOf(dir string) (fsType, dev string) {
	fsType, dev = "unknown", "unknown"
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fsType, dev
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return fsType, dev
	}
	best := -1
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mp := f[1]
		if (abs == mp || strings.HasPrefix(abs, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > best {
			best, dev, fsType = len(mp), f[0], f[2]
		}
	}
	return fsType, dev
}

func (m Machine) markdown() string {
	var b strings.Builder
	b.WriteString("| | |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| CPU | %s |\n", m.CPU)
	fmt.Fprintf(&b, "| cores | %d |\n", m.Cores)
	fmt.Fprintf(&b, "| memory | %s |\n", m.Memory)
	fmt.Fprintf(&b, "| Go | %s |\n", m.GoVersion)
	fmt.Fprintf(&b, "| kernel | %s |\n", m.Kernel)
	fmt.Fprintf(&b, "| data directory | `%s` (%s) |\n", m.Dir, m.FileSystem)
	return b.String()
}

// Summary is the machine in one line, for the chart.
func (m Machine) Summary() string {
	return fmt.Sprintf("%s, %d cores, %s, %s, %s, data on %s", m.CPU, m.Cores, m.Memory, m.GoVersion, m.Kernel, m.FileSystem)
}
