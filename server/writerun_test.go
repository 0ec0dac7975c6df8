package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/crabkv/crabkv/kv"
)

// syncFS counts the syncs of the files it opens and, when gate is set,
// holds each sync until the gate lets it through.
type syncFS struct {
	kv.FS
	syncs *atomic.Int64
	gate  *syncGate
}

// syncGate holds syncs while closed: each sync that arrives is announced
// on entered and waits for release to be closed.
type syncGate struct {
	closed  atomic.Bool
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

// open lets every sync through from now on.
func (g *syncGate) open() {
	g.closed.Store(false)
	g.once.Do(func() { close(g.release) })
}

func (f syncFS) OpenFile(name string, flag int, perm os.FileMode) (kv.File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return syncFile{file, f}, nil
}

type syncFile struct {
	kv.File
	fs syncFS
}

func (f syncFile) Sync() error {
	f.fs.syncs.Add(1)
	if g := f.fs.gate; g != nil && g.closed.Load() {
		select {
		case g.entered <- struct{}{}:
		case <-g.release:
		}
		<-g.release
	}
	return f.File.Sync()
}

// startSyncedServer serves a store that syncs every write, and returns the
// count of its syncs.
func startSyncedServer(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	return startGatedServer(t, nil)
}

// startGatedServer is startSyncedServer with syncs that gate holds.
func startGatedServer(t *testing.T, gate *syncGate) (string, *atomic.Int64) {
	t.Helper()
	syncs := new(atomic.Int64)
	db, err := kv.Open(t.TempDir(), &kv.Options{FS: syncFS{kv.DefaultFS(), syncs, gate}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(db, testOptions(Options{}))
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return ln.Addr().String(), syncs
}

// TestMSetIsAtomic runs MSETs of three keys to one value while other
// clients read the three with MGET: no reader may see them differ.
func TestMSetIsAtomic(t *testing.T) {
	_, addr := startServer(t, Options{})
	ctx := testCtx(t)
	w := dialClient(t, addr)
	if err := w.MSet(ctx, "a", "0", "b", "0", "c", "0").Err(); err != nil {
		t.Fatal(err)
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 3 {
		r := dialClient(t, addr)
		wg.Go(func() {
			for n := 0; n < 20000 && !done.Load(); n++ {
				vals, err := r.MGet(ctx, "a", "b", "c").Result()
				if err != nil {
					errs <- err
					return
				}
				if vals[0] != vals[1] || vals[1] != vals[2] {
					errs <- fmt.Errorf("MGET saw half an MSET: %v", vals)
					return
				}
			}
		})
	}
	for i := 1; i <= 2000; i++ {
		v := strconv.Itoa(i)
		if err := w.MSet(ctx, "a", v, "b", v, "c", v).Err(); err != nil {
			t.Fatal(err)
		}
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestMSetIsOneSync checks that an MSET of many keys waits for the disk
// once, not once per key.
func TestMSetIsOneSync(t *testing.T) {
	addr, syncs := startSyncedServer(t)
	c := dialClient(t, addr)
	ctx := testCtx(t)
	var args []any
	for i := range 50 {
		args = append(args, "k"+strconv.Itoa(i), "v")
	}
	before := syncs.Load()
	if err := c.MSet(ctx, args...).Err(); err != nil {
		t.Fatal(err)
	}
	if n := syncs.Load() - before; n != 1 {
		t.Fatalf("MSET of 50 keys synced %d times, want 1", n)
	}
	if n, _ := c.DBSize(ctx).Result(); n != 50 {
		t.Fatalf("DBSIZE = %d", n)
	}
	// A bad pair writes nothing.
	wantErr(t, c.MSet(ctx, "x", "1", "", "2").Err(), "ERR empty keys are not supported")
	if n, _ := c.Exists(ctx, "x").Result(); n != 0 {
		t.Fatal("MSET with a bad pair wrote its good one")
	}
}

// TestPipelineSharesSyncs sends a pipeline of plain writes: they are all
// there afterwards, and they waited for the disk together, not one by one.
func TestPipelineSharesSyncs(t *testing.T) {
	addr, syncs := startSyncedServer(t)
	c := dialClient(t, addr)
	ctx := testCtx(t)
	const n = 200
	before := syncs.Load()
	pipe := c.Pipeline()
	for i := range n {
		pipe.Set(ctx, "k"+strconv.Itoa(i), i, 0)
	}
	pipe.Del(ctx, "k0", "k1", "missing")
	pipe.MSet(ctx, "m1", "x", "m2", "y")
	cmds, err := pipe.Exec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := cmds[n].(*redis.IntCmd).Val(); got != 2 {
		t.Fatalf("DEL in the pipeline = %d, want 2", got)
	}
	if got := syncs.Load() - before; got > n/10 {
		t.Fatalf("a pipeline of %d writes synced %d times", n+2, got)
	}
	if got, _ := c.DBSize(ctx).Result(); got != n-2+2 {
		t.Fatalf("DBSIZE = %d, want %d", got, n)
	}
	if got, _ := c.Get(ctx, "k"+strconv.Itoa(n-1)).Result(); got != strconv.Itoa(n-1) {
		t.Fatalf("last SET reads %q", got)
	}
}

// TestPipelineRepliesWaitForSync holds the store's sync while a pipeline
// of SETs waits for it: no reply may reach the client before the sync is
// done.
func TestPipelineRepliesWaitForSync(t *testing.T) {
	gate := &syncGate{entered: make(chan struct{}), release: make(chan struct{})}
	addr, _ := startGatedServer(t, gate)
	t.Cleanup(gate.open) // before the server's cleanup, which syncs
	conn, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rw := bufio.NewReadWriter(bufio.NewReader(conn), bufio.NewWriter(conn))
	gate.closed.Store(true)
	send(t, rw, strings.Repeat("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", 8))
	select {
	case <-gate.entered:
	case <-time.After(testTimeout):
		t.Fatal("the pipeline never synced")
	}
	if err := conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if b, err := rw.ReadByte(); err == nil {
		t.Fatalf("a reply (%q...) arrived before its writes were synced", b)
	}
	gate.open()
	if err := conn.SetReadDeadline(time.Now().Add(testTimeout)); err != nil {
		t.Fatal(err)
	}
	for range 8 {
		expectLine(t, rw, "+OK")
	}
}

// TestPipelineIsSequential checks that a pipeline means what its commands
// mean sent one at a time, whichever of them share a batch.
func TestPipelineIsSequential(t *testing.T) {
	_, addr := startServer(t, Options{})
	c := dialClient(t, addr)
	ctx := testCtx(t)
	pipe := c.Pipeline()
	set1 := pipe.Set(ctx, "a", "1", 0)
	get1 := pipe.Get(ctx, "a")
	del1 := pipe.Del(ctx, "a")
	get2 := pipe.Get(ctx, "a")
	setX := pipe.Set(ctx, "x", "1", 0)
	delX := pipe.Del(ctx, "x", "x")
	delX2 := pipe.Del(ctx, "x")
	setX2 := pipe.Set(ctx, "x", "2", 0)
	setNX := pipe.SetNX(ctx, "x", "3", 0)
	getX := pipe.Get(ctx, "x")
	mset := pipe.MSet(ctx, "x", "4", "y", "5")
	delXY := pipe.Del(ctx, "x", "y", "z", "y")
	exists := pipe.Exists(ctx, "x", "y")
	bad := pipe.Set(ctx, "", "v", 0)
	setZ := pipe.Set(ctx, "z", "9", 0)
	getdel := pipe.GetDel(ctx, "z")
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) && bad.Err() == nil {
		t.Fatal(err)
	}
	check := func(what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("SET a 1", set1.Val(), "OK")
	check("GET a", get1.Val(), "1")
	check("DEL a", del1.Val(), 1)
	check("GET a after DEL", get2.Err(), redis.Nil)
	check("SET x 1", setX.Val(), "OK")
	check("DEL x x", delX.Val(), 1)
	check("DEL x again", delX2.Val(), 0)
	check("SET x 2", setX2.Val(), "OK")
	check("SET x 3 NX", setNX.Val(), false)
	check("GET x", getX.Val(), "2")
	check("MSET x 4 y 5", mset.Val(), "OK")
	check("DEL x y z y", delXY.Val(), 2)
	check("EXISTS x y", exists.Val(), 0)
	check("SET of the empty key", bad.Err(), "ERR empty keys are not supported")
	check("SET z 9", setZ.Val(), "OK")
	check("GETDEL z", getdel.Val(), "9")
}

// TestConcurrentPipelines runs pipelines of overlapping plain and
// conditional writes from several clients at once: the runs take many key
// stripes, the conditional writes one, and nobody may deadlock or fail.
func TestConcurrentPipelines(t *testing.T) {
	_, addr := startServer(t, Options{})
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		c := dialClient(t, addr)
		rng := rand.New(rand.NewPCG(uint64(w), 1))
		key := func() string { return "k" + strconv.Itoa(rng.IntN(40)) }
		wg.Go(func() {
			for range 200 {
				pipe := c.Pipeline()
				for range 8 {
					switch rng.IntN(5) {
					case 0:
						pipe.Del(ctx, key(), key(), key())
					case 1:
						pipe.SetNX(ctx, key(), "nx", 0)
					case 2:
						pipe.MSet(ctx, key(), "m", key(), "m")
					default:
						pipe.Set(ctx, key(), "s", 0)
					}
				}
				if _, err := pipe.Exec(ctx); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
