package kv_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/internal/orphan"
	"github.com/crabkv/crabkv/kv"
)

// BenchmarkFollowLag measures how long a write takes to become visible to
// a follower, under a writer that writes a record every millisecond: each
// iteration is one Put, then a spin on the follower until it shows it. It
// reports the median and the 99th percentile.
//
//	go test -run '^$' -bench FollowLag -benchtime 2000x ./kv_test/
func BenchmarkFollowLag(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		b.Run(fmt.Sprintf("NoSync=%v", noSync), func(b *testing.B) {
			dir := b.TempDir()
			w := openDB(b, dir, &kv.Options{NoSync: noSync, Compaction: compact.Policy{Disabled: true}})
			f := openDB(b, dir, &kv.Options{ReadOnly: true})
			lags := make([]time.Duration, 0, b.N)
			var k []byte
			for i := range b.N {
				k = benchKey(k, i%1000)
				v := strconv.Itoa(i)
				if err := w.Put(k, []byte(v)); err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				for {
					got, err := f.Get(k)
					if err == nil && string(got) == v {
						break
					}
					if time.Since(start) > visibleWithin {
						b.Fatalf("write %d not visible after %s", i, visibleWithin)
					}
					time.Sleep(20 * time.Microsecond)
				}
				lags = append(lags, time.Since(start))
				time.Sleep(time.Millisecond)
			}
			slices.Sort(lags)
			b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

const followerChildEnv = "CRABKV_FOLLOWER_CHILD"

// TestFollowerChild is the follower process of BenchmarkWriterBesideFollower:
// it follows the store until its standard input closes, then prints what
// it holds and the memory it takes.
func TestFollowerChild(t *testing.T) {
	dir := os.Getenv(followerChildEnv)
	if dir == "" {
		t.Skip("runs only as the child of BenchmarkWriterBesideFollower")
	}
	orphan.ExitWithParent()
	db, err := kv.Open(dir, &kv.Options{ReadOnly: true})
	if err != nil {
		fmt.Printf("! %v\n", err)
		os.Exit(3)
	}
	fmt.Println("following")
	bufio.NewReader(os.Stdin).ReadString('\n')
	db.Refresh()
	st := db.Stats()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("keys %d index %d heap %d rss %s\n", st.Keys, st.IndexBytes, ms.HeapInuse, vmRSS())
	db.Close()
}

// vmRSS returns the process's resident set size as /proc reports it.
func vmRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			return strings.Join(strings.Fields(l)[1:], "")
		}
	}
	return "?"
}

// BenchmarkWriterBesideFollower measures a writer's throughput alone and
// while a follower in another process follows it: fill-random (new keys
// in random order, NoSync) and fill-sync (each Put durable), as in bench/.
//
//	go test -run '^$' -bench WriterBesideFollower -count 5 ./kv_test/
func BenchmarkWriterBesideFollower(b *testing.B) {
	for _, work := range []string{"fill-random", "fill-sync"} {
		for _, follow := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/follower=%v", work, follow), func(b *testing.B) {
				dir := b.TempDir()
				w := openDB(b, dir, &kv.Options{NoSync: work == "fill-random", Compaction: compact.Policy{Disabled: true}})
				var done func() string
				if follow {
					done = startFollower(b, dir)
				}
				perm := randPerm(b.N)
				var k []byte
				b.SetBytes(int64(16 + len(benchValue)))
				b.ResetTimer()
				for _, i := range perm {
					k = benchKey(k, i)
					if err := w.Put(k, benchValue); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				if done != nil {
					b.Logf("follower after %d writes: %s", b.N, done())
				}
			})
		}
	}
}

// randPerm returns the numbers below n in a fixed random order.
func randPerm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := int(uint64(i*2654435761) % uint64(i+1))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// startFollower starts a follower process on dir and returns a function
// that stops it and returns its report.
func startFollower(b *testing.B, dir string) func() string {
	cmd := exec.Command(os.Args[0], "-test.run=^TestFollowerChild$")
	cmd.Env = append(os.Environ(), followerChildEnv+"="+dir)
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "following" {
		b.Fatalf("follower: %q", sc.Text())
	}
	return func() string {
		in.Close()
		var report string
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "keys ") {
				report = sc.Text()
			}
		}
		cmd.Wait()
		return report
	}
}
