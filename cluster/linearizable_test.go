package cluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// kvInput is one client call on a single key.
type kvInput struct {
	op    string // "get", "put" or "delete"
	key   string
	value string // put
}

// kvOutput is a get's answer; puts and deletes have none.
type kvOutput struct {
	value string
	found bool
}

// registerModel is a map of keys to values, checked key by key.
var registerModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range h {
			k := op.Input.(kvInput).key
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return kvOutput{} },
	Step: func(state, input, output any) (bool, any) {
		s, in := state.(kvOutput), input.(kvInput)
		switch in.op {
		case "put":
			return true, kvOutput{value: in.value, found: true}
		case "delete":
			return true, kvOutput{}
		}
		return output.(kvOutput) == s, s
	},
	DescribeOperation: func(input, output any) string {
		in := input.(kvInput)
		if in.op == "get" {
			return fmt.Sprintf("get(%s) -> %+v", in.key, output)
		}
		return fmt.Sprintf("%s(%s, %s)", in.op, in.key, in.value)
	},
}

// The model finds a stale read: a get that returns a value overwritten
// before the get began.
func TestRegisterModelRejectsStaleRead(t *testing.T) {
	h := []porcupine.Operation{
		{ClientId: 0, Input: kvInput{op: "put", key: "a", value: "1"}, Call: 0, Return: 1},
		{ClientId: 0, Input: kvInput{op: "put", key: "a", value: "2"}, Call: 2, Return: 3},
		{ClientId: 1, Input: kvInput{op: "get", key: "a"}, Output: kvOutput{value: "1", found: true}, Call: 4, Return: 5},
	}
	if porcupine.CheckOperations(registerModel, h) {
		t.Fatal("a stale read was judged linearizable")
	}
	h[2].Output = kvOutput{value: "2", found: true}
	if !porcupine.CheckOperations(registerModel, h) {
		t.Fatal("a fresh read was judged not linearizable")
	}
}

// Concurrent clients put, delete and read a few keys through whichever
// node leads, while the leader is stopped and later restarted; the
// history is linearizable. A call whose outcome the cluster could not
// know (leadership lost, time out) counts as a write that may take effect
// at any time after it began; a refused call (no leader, not the leader)
// and a failed read count as nothing.
func TestLinearizableAcrossLeaderLoss(t *testing.T) {
	tc := startCluster(t, 3, nil)
	var (
		mu    sync.Mutex
		nodes = map[string]*Node{}
	)
	for id, n := range tc.nodes {
		nodes[id] = n
	}
	leader := func() *Node {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range nodes {
			if n.Status().Role == "Leader" {
				return n
			}
		}
		return nil
	}
	const clients, opsPerClient = 4, 60
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	var (
		hmu     sync.Mutex
		history []porcupine.Operation
		done    atomic.Int64 // calls made, for the nemesis to pace itself
		unknown atomic.Int64
	)
	record := func(op porcupine.Operation) {
		hmu.Lock()
		history = append(history, op)
		hmu.Unlock()
	}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			for i := range opsPerClient {
				done.Add(1)
				in := kvInput{key: []string{"a", "b", "c"}[rng.IntN(3)]}
				switch r := rng.IntN(10); {
				case r < 4:
					in.op, in.value = "put", fmt.Sprintf("%d-%d", c, i)
				case r < 5:
					in.op = "delete"
				default:
					in.op = "get"
				}
				var n *Node
				for deadline := time.Now().Add(waitLimit); n == nil && time.Now().Before(deadline); {
					if n = leader(); n == nil {
						time.Sleep(20 * time.Millisecond)
					}
				}
				if n == nil {
					t.Error("no leader for too long")
					return
				}
				op, ok := call(n, in, now)
				op.ClientId = c
				if op.Return == math.MaxInt64 {
					unknown.Add(1)
				}
				if ok {
					record(op)
				}
			}
		}()
	}
	// The nemesis: stop the leader a third of the way in, restart it two
	// thirds of the way in.
	waitFor(t, "a third of the calls", func() bool { return done.Load() >= clients*opsPerClient/3 })
	victim := leader()
	if victim == nil {
		victim = tc.leader()
	}
	mu.Lock()
	delete(nodes, victim.ID())
	mu.Unlock()
	if err := victim.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two thirds of the calls", func() bool { return done.Load() >= 2*clients*opsPerClient/3 })
	restarted, err := Open(tc.cfgs[victim.ID()])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { restarted.Close() })
	mu.Lock()
	nodes[victim.ID()] = restarted
	mu.Unlock()
	wg.Wait()

	res, info := porcupine.CheckOperationsVerbose(registerModel, history, 30*time.Second)
	t.Logf("%d calls recorded (%d of unknown outcome), 1 leader stop and restart: %s", len(history), unknown.Load(), res)
	if res == porcupine.Illegal {
		t.Fatalf("history is not linearizable; %d partial linearizations", len(info.PartialLinearizations()))
	}
	if len(history) < clients*opsPerClient/2 {
		t.Errorf("only %d of %d calls were recorded", len(history), clients*opsPerClient)
	}
}

// call runs in on n and returns the operation to record, and whether to
// record it.
func call(n *Node, in kvInput, now func() int64) (porcupine.Operation, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	op := porcupine.Operation{Input: in, Call: now()}
	var err error
	switch in.op {
	case "put":
		err = n.Put(ctx, []byte(in.key), []byte(in.value))
	case "delete":
		err = n.Delete(ctx, []byte(in.key))
	default:
		var v []byte
		v, err = n.Get(ctx, []byte(in.key), ReadOptions{})
		if isNotFound(err) {
			err = nil
		} else if err == nil {
			op.Output = kvOutput{value: string(v), found: true}
		}
		if op.Output == nil {
			op.Output = kvOutput{}
		}
	}
	op.Return = now()
	var nl *ErrNotLeader
	switch {
	case err == nil:
		return op, true
	case in.op == "get", errors.Is(err, ErrNoLeader), errors.As(err, &nl), errors.Is(err, ErrClosed) && in.op == "get":
		return op, false
	}
	// Outcome unknown: the write may take effect any time after its call.
	op.Return = math.MaxInt64
	return op, true
}
