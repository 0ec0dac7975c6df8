package server

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/crabkv/crabkv/kv"
)

// writeCountingStore is a Store that counts the writes it is asked for.
type writeCountingStore struct {
	Store
	mu      sync.Mutex
	deletes int    // Delete calls
	writes  [][]Op // Write calls, with their operations
}

func (s *writeCountingStore) Delete(key []byte) error {
	s.mu.Lock()
	s.deletes++
	s.mu.Unlock()
	return s.Store.Delete(key)
}

func (s *writeCountingStore) Write(ops []Op) error {
	s.mu.Lock()
	s.writes = append(s.writes, slices.Clone(ops))
	s.mu.Unlock()
	return s.Store.Write(ops)
}

func (s *writeCountingStore) take() (deletes int, writes [][]Op) {
	s.mu.Lock()
	defer s.mu.Unlock()
	deletes, writes = s.deletes, s.writes
	s.deletes, s.writes = 0, nil
	return deletes, writes
}

// TestDelIsOneBatch checks that DEL and UNLINK of several keys delete
// them with one Store.Write (one kv.Batch: all or nothing), still count
// the keys that were there, and count a key named twice once.
func TestDelIsOneBatch(t *testing.T) {
	db, err := kv.Open(t.TempDir(), &kv.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := &writeCountingStore{Store: NewDBStore(db)}
	_, addr := serveStore(t, st, Options{})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	for _, cmd := range []string{"DEL", "UNLINK"} {
		if err := c.MSet(ctx, "a", "1", "b", "2", "c", "3").Err(); err != nil {
			t.Fatal(err)
		}
		st.take()
		n, err := c.Do(ctx, cmd, "a", "missing", "b", "a", "c").Int64()
		if err != nil || n != 3 {
			t.Fatalf("%s a missing b a c = %d, %v; want 3", cmd, n, err)
		}
		deletes, writes := st.take()
		if deletes != 0 || len(writes) != 1 || len(writes[0]) != 3 {
			t.Fatalf("%s of 3 present keys: %d Delete calls and Write calls %v; want one Write of 3 deletes", cmd, deletes, writes)
		}
		if n, err := c.Exists(ctx, "a", "b", "c").Result(); err != nil || n != 0 {
			t.Fatalf("EXISTS after %s = %d, %v", cmd, n, err)
		}
		if n, err := c.Do(ctx, cmd, "a", "b").Int64(); err != nil || n != 0 {
			t.Fatalf("%s of absent keys = %d, %v", cmd, n, err)
		}
		if _, writes := st.take(); len(writes) != 0 {
			t.Fatalf("%s of absent keys wrote %v", cmd, writes)
		}
		wantErr(t, c.Do(ctx, cmd).Err(), "ERR wrong number of arguments for '"+map[string]string{"DEL": "del", "UNLINK": "unlink"}[cmd]+"' command")
	}
}

// TestDelAtomicToMGet runs DEL of four keys against MSET of them and
// MGETs of them: each MGET sees all four or none.
func TestDelAtomicToMGet(t *testing.T) {
	_, addr := startServer(t, Options{})
	ctx := testCtx(t)
	keys := []string{"k1", "k2", "k3", "k4"}
	writer, reader := dialClient(t, addr), dialClient(t, addr)
	var wg sync.WaitGroup
	wg.Add(1)
	errc := make(chan error, 1)
	go func() {
		defer wg.Done()
		for range 1000 {
			if err := writer.MSet(ctx, "k1", "v", "k2", "v", "k3", "v", "k4", "v").Err(); err != nil {
				errc <- err
				return
			}
			if err := writer.Del(ctx, keys...).Err(); err != nil {
				errc <- err
				return
			}
		}
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for reads := 0; ; reads++ {
		select {
		case err := <-errc:
			t.Fatal(err)
		case <-done:
			return
		default:
		}
		vals, err := reader.MGet(ctx, keys...).Result()
		if err != nil {
			t.Fatal(err)
		}
		present := 0
		for _, v := range vals {
			if v != nil {
				present++
			}
		}
		if present != 0 && present != len(keys) {
			t.Fatalf("MGET %d saw %d of the %d keys a DEL removes together", reads, present, len(keys))
		}
	}
}

// TestMSetNX checks MSETNX: all keys written when none exists (1), none
// when any does (0), wrong arity and bad keys refused, and among clients
// racing to MSETNX the same keys exactly one wins, with all its values.
func TestMSetNX(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	if ok, err := c.MSetNX(ctx, "a", "1", "b", "2").Result(); err != nil || !ok {
		t.Fatalf("MSETNX a b = %v, %v; want true", ok, err)
	}
	if ok, err := c.MSetNX(ctx, "c", "3", "b", "x").Result(); err != nil || ok {
		t.Fatalf("MSETNX c b with b there = %v, %v; want false", ok, err)
	}
	if got, _ := c.MGet(ctx, "a", "b", "c").Result(); fmt.Sprint(got) != "[1 2 <nil>]" {
		t.Fatalf("after MSETNX: %v; want c unwritten and b unchanged", got)
	}
	if n, err := c.Do(ctx, "MSETNX", "d", "1", "d", "2").Int64(); err != nil || n != 1 {
		t.Fatalf("MSETNX d d = %d, %v", n, err)
	}
	if got, _ := c.Get(ctx, "d").Result(); got != "2" {
		t.Fatalf("MSETNX d 1 d 2 left d = %q; want the last", got)
	}
	wantErr(t, c.Do(ctx, "MSETNX", "e").Err(), "ERR wrong number of arguments for 'msetnx' command")
	wantErr(t, c.Do(ctx, "MSETNX", "e", "1", "f").Err(), "ERR wrong number of arguments for 'msetnx' command")
	wantErr(t, c.Do(ctx, "MSETNX", "e", "1", "", "2").Err(), "ERR empty keys are not supported")
	if n, _ := c.Exists(ctx, "e").Result(); n != 0 {
		t.Fatal("a refused MSETNX wrote e")
	}

	// The race: each client tries to take r1..r3 with its own value.
	const racers = 8
	wins := make(chan int, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := dialClient(t, addr)
			v := fmt.Sprint(i)
			if ok, err := rc.MSetNX(ctx, "r1", v, "r2", v, "r3", v).Result(); err != nil {
				t.Error(err)
			} else if ok {
				wins <- i
			}
		}()
	}
	wg.Wait()
	close(wins)
	var winners []int
	for w := range wins {
		winners = append(winners, w)
	}
	if len(winners) != 1 {
		t.Fatalf("%d MSETNX calls on the same keys succeeded: %v", len(winners), winners)
	}
	got, err := c.MGet(ctx, "r1", "r2", "r3").Result()
	want := fmt.Sprint(winners[0])
	if err != nil || fmt.Sprint(got) != fmt.Sprintf("[%s %s %s]", want, want, want) {
		t.Fatalf("MGET r1 r2 r3 = %v, %v; want the winner %s's values", got, err, want)
	}
	if err := c.Set(ctx, "r1", "plain", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, "nothing").Err(); err != redis.Nil {
		t.Fatal(err)
	}
}
