package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/kv"
)

// TestExportPairsValueWithItsExpiry runs export while a writer rewrites
// every key, in turn with an expiry ("ttl-" values) and without one
// ("plain-" values): each exported line must pair a value with the expiry
// of the same write, so that import restores a state the store held.
func TestExportPairsValueWithItsExpiry(t *testing.T) {
	te := newTestEnv(t)
	dir := te.vars[dataDirEnv]
	w, err := kv.Open(dir, &kv.Options{NoSync: true, Compaction: compact.Policy{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	const keys = 3000
	for j := range keys {
		if err := w.Put(fmt.Appendf(nil, "k%05d", j), []byte("plain-0")); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for n := 1; ; n++ {
			for j := range keys {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Appendf(nil, "k%05d", j)
				var err error
				if n%2 == 1 {
					err = w.PutTTL(k, fmt.Appendf(nil, "ttl-%d", n), time.Hour)
				} else {
					err = w.Put(k, fmt.Appendf(nil, "plain-%d", n))
				}
				if err != nil {
					t.Error(err)
					return
				}
				if j%100 == 99 {
					time.Sleep(time.Millisecond) // a pace a follower keeps up with
				}
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	deadline := time.Now().Add(10 * time.Second) // a bound, not a measure: it fails in seconds without the fix
	for run := 1; time.Now().Before(deadline); run++ {
		te.mustRun(t, exitOK, "export")
		sc := bufio.NewScanner(bytes.NewReader(te.out.Bytes()))
		for sc.Scan() {
			var line struct {
				Key       string `json:"key"`
				Value     string `json:"value"`
				ExpiresAt *int64 `json:"expires_at"`
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("run %d: %q: %v", run, sc.Text(), err)
			}
			ttl := strings.HasPrefix(line.Value, "ttl-")
			if ttl != (line.ExpiresAt != nil) {
				t.Fatalf("export run %d paired a value with another write's expiry: %s", run, sc.Text())
			}
		}
	}
}
