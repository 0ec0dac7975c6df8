package main

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/crabkv/crabkv/kv"
)

// TestServeKilledMidPipeline runs "crabkv serve" as a process of its own,
// has several clients send pipelines of SETs, kills the server with
// SIGKILL while they do, and then checks that every SET the server
// acknowledged is in the store: a pipeline's writes share a sync, but none
// is acknowledged before that sync.
func TestServeKilledMidPipeline(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	bin, err := exec.LookPath("crabkv")
	if err != nil {
		t.Fatalf("the test binary is not on PATH as crabkv: %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(bin, "serve", "--dir", dir, "--addr", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	addrs := make(chan string, 1)
	go func() {
		defer close(exited)
		re := regexp.MustCompile(`serving .* on (127\.0\.0\.1:\d+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addrs <- m[1]
			}
		}
		_ = cmd.Wait() // killed: the exit status says only that
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	var addr string
	select {
	case addr = <-addrs:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start listening")
	}

	const writers, depth, maxPipelines = 6, 16, 5000
	var total atomic.Int64
	acked := make([][]int, writers) // per writer, the acknowledged sequence numbers
	var wg sync.WaitGroup
	for w := range writers {
		c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, MaxRetries: -1,
			DialTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second})
		defer c.Close()
		wg.Go(func() {
			ctx := context.Background()
			for p := range maxPipelines {
				pipe := c.Pipeline()
				sets := make([]*redis.StatusCmd, depth)
				for i := range sets {
					seq := p*depth + i
					sets[i] = pipe.Set(ctx, fmt.Sprintf("w%d-%d", w, seq), "v"+strconv.Itoa(seq), 0)
				}
				_, err := pipe.Exec(ctx)
				for i, s := range sets {
					if s.Err() == nil && s.Val() == "OK" {
						acked[w] = append(acked[w], p*depth+i)
						total.Add(1)
					}
				}
				if err != nil {
					return
				}
			}
		})
	}
	// Kill once a good number of writes is acknowledged, while the
	// clients are still sending.
	for deadline := time.Now().Add(60 * time.Second); total.Load() < 4000; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d SETs acknowledged", total.Load())
		}
		time.Sleep(time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	wg.Wait()

	db, err := kv.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	for w, seqs := range acked {
		for _, seq := range seqs {
			key := fmt.Sprintf("w%d-%d", w, seq)
			v, err := db.Get([]byte(key))
			if err != nil || string(v) != "v"+strconv.Itoa(seq) {
				t.Errorf("acknowledged SET %s lost: %q, %v", key, v, err)
			}
			n++
		}
	}
	st := db.Stats()
	t.Logf("%d SETs acknowledged before the kill, %d keys in the store", n, st.Keys)
	if st.Keys < n {
		t.Errorf("%d keys in the store, fewer than the %d acknowledged", st.Keys, n)
	}
}
