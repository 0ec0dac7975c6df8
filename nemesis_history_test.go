package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"
)

// nemesisInput is one client call on one key.
type nemesisInput struct {
	op    string // "set", "get" or "del"
	key   string
	value string // set's
}

// nemesisOutput is a call's answer: get's value and whether the key was
// there, or whether del found it. As the model's state it is the key's
// value. unknown marks a write whose outcome the client could not learn:
// any answer fits it.
type nemesisOutput struct {
	value   string
	found   bool
	unknown bool
}

// nemesisModel is a map of keys to values under SET, GET and DEL (which
// answers whether the key was there), checked key by key.
var nemesisModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range h {
			k := op.Input.(nemesisInput).key
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(byKey))
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return nemesisOutput{} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(nemesisOutput), input.(nemesisInput), output.(nemesisOutput)
		switch in.op {
		case "set":
			return true, nemesisOutput{value: in.value, found: true}
		case "del":
			return out.unknown || out.found == s.found, nemesisOutput{}
		}
		return out == s, s
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(nemesisInput), output.(nemesisOutput)
		switch {
		case out.unknown:
			return fmt.Sprintf("%s(%s %s) -> ?", in.op, in.key, in.value)
		case in.op == "set":
			return fmt.Sprintf("set(%s %s)", in.key, in.value)
		case !out.found:
			return fmt.Sprintf("%s(%s) -> nil", in.op, in.key)
		}
		return fmt.Sprintf("%s(%s) -> %q", in.op, in.key, out.value)
	},
}

// The model finds a stale read, a lost write and a DEL that counts a key
// wrongly, and takes a write of unknown outcome either way.
func TestNemesisModel(t *testing.T) {
	set := func(c int, v string, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: nemesisInput{op: "set", key: "a", value: v}, Output: nemesisOutput{}, Call: call, Return: ret}
	}
	get := func(v string, found bool, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: 9, Input: nemesisInput{op: "get", key: "a"}, Output: nemesisOutput{value: v, found: found}, Call: call, Return: ret}
	}
	del := func(found, unknown bool, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: 8, Input: nemesisInput{op: "del", key: "a"}, Output: nemesisOutput{found: found, unknown: unknown}, Call: call, Return: ret}
	}
	for _, c := range []struct {
		name string
		h    []porcupine.Operation
		ok   bool
	}{
		{"fresh read", []porcupine.Operation{set(0, "1", 0, 1), set(0, "2", 2, 3), get("2", true, 4, 5)}, true},
		{"stale read", []porcupine.Operation{set(0, "1", 0, 1), set(0, "2", 2, 3), get("1", true, 4, 5)}, false},
		{"lost write", []porcupine.Operation{set(0, "1", 0, 1), get("", false, 2, 3)}, false},
		{"concurrent writes", []porcupine.Operation{set(0, "1", 0, 10), set(1, "2", 0, 10), get("1", true, 11, 12)}, true},
		{"del counts", []porcupine.Operation{set(0, "1", 0, 1), del(true, false, 2, 3), del(false, false, 4, 5), get("", false, 6, 7)}, true},
		{"del miscounts", []porcupine.Operation{set(0, "1", 0, 1), del(false, false, 2, 3)}, false},
		{"unknown write applied", []porcupine.Operation{set(0, "1", 0, math.MaxInt64), get("1", true, 4, 5)}, true},
		{"unknown write not applied", []porcupine.Operation{set(0, "1", 0, math.MaxInt64), get("", false, 4, 5)}, true},
		{"unknown del", []porcupine.Operation{set(0, "1", 0, 1), del(false, true, 2, math.MaxInt64), get("1", true, 4, 5), get("", false, 6, 7)}, true},
		{"unknown write undone", []porcupine.Operation{set(0, "1", 0, math.MaxInt64), get("1", true, 4, 5), get("", false, 6, 7)}, false},
	} {
		if got := porcupine.CheckOperations(nemesisModel, c.h); got != c.ok {
			t.Errorf("%s: linearizable %v, want %v", c.name, got, c.ok)
		}
	}
}

// callOutcome is what a client learnt of a call.
type callOutcome int

const (
	callApplied callOutcome = iota // acknowledged
	callRefused                    // refused before it ran: it had no effect
	callUnknown                    // timed out, or failed in a way that says nothing
)

// nemesisClient sends calls to the node it believes leads, follows
// -MOVED, and moves on to the next node on -CLUSTERDOWN or a refused
// connection. Its connections have short timeouts, so that a paused or
// cut-off node costs a call, not the test.
type nemesisClient struct {
	addrs   []string // every node's client address
	at      int      // index in addrs of the node it sends to
	clients map[string]*redis.Client
}

func newNemesisClient(t *testing.T, addrs []string) *nemesisClient {
	c := &nemesisClient{addrs: addrs, clients: map[string]*redis.Client{}}
	for _, a := range addrs {
		rc := redis.NewClient(&redis.Options{Addr: a, Protocol: 2, MaxRetries: -1, PoolSize: 2,
			DialTimeout: 500 * time.Millisecond, ReadTimeout: 2 * time.Second, WriteTimeout: time.Second})
		t.Cleanup(func() { rc.Close() })
		c.clients[a] = rc
	}
	return c
}

// call runs in until it is applied, refused by every node it tries, or its
// outcome cannot be known.
// The error is the last one a node answered.
func (c *nemesisClient) call(ctx context.Context, in nemesisInput) (nemesisOutput, callOutcome, error) {
	var err error
	for range 2*len(c.addrs) + 2 {
		if ctx.Err() != nil {
			break
		}
		var out nemesisOutput
		out, err = c.send(ctx, c.clients[c.addrs[c.at]], in)
		if err == nil {
			return out, callApplied, nil
		}
		var rerr redis.Error
		var operr *net.OpError
		switch {
		case errors.As(err, &rerr) && strings.HasPrefix(err.Error(), "MOVED "):
			c.moveTo(err.Error()[strings.LastIndexByte(err.Error(), ' ')+1:])
		case errors.As(err, &rerr) && strings.HasPrefix(err.Error(), "CLUSTERDOWN"):
			c.at = (c.at + 1) % len(c.addrs)
			sleepCtx(ctx, 20*time.Millisecond)
		case errors.As(err, &operr) && operr.Op == "dial":
			c.at = (c.at + 1) % len(c.addrs)
		default:
			return nemesisOutput{unknown: true}, callUnknown, err
		}
	}
	return nemesisOutput{}, callRefused, err
}

func (c *nemesisClient) moveTo(addr string) {
	for i, a := range c.addrs {
		if a == addr {
			c.at = i
			return
		}
	}
	c.at = (c.at + 1) % len(c.addrs) // not a node we know: try another
}

func (c *nemesisClient) send(ctx context.Context, rc *redis.Client, in nemesisInput) (nemesisOutput, error) {
	switch in.op {
	case "set":
		return nemesisOutput{}, rc.Set(ctx, in.key, in.value, 0).Err()
	case "del":
		n, err := rc.Del(ctx, in.key).Result()
		return nemesisOutput{found: n == 1}, err
	}
	v, err := rc.Get(ctx, in.key).Result()
	if errors.Is(err, redis.Nil) {
		return nemesisOutput{}, nil
	}
	return nemesisOutput{value: v, found: err == nil}, err
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// history records the calls of concurrent clients for porcupine, with
// times in nanoseconds since it began.
type history struct {
	start time.Time

	mu      sync.Mutex // guards the fields below
	ops     []porcupine.Operation
	refused map[string]int // calls refused by every node tried, by op
	unknown map[string]int // calls of unknown outcome, by op
	why     map[string]int // calls of unknown outcome, by error
}

func newHistory() *history {
	return &history{start: time.Now(), refused: map[string]int{}, unknown: map[string]int{}, why: map[string]int{}}
}

func (h *history) now() int64 { return int64(time.Since(h.start)) }

// run makes calls as client id, on keys, until ctx ends.
func (h *history) run(ctx context.Context, id int, c *nemesisClient, keys []string) {
	rng := rand.New(rand.NewPCG(uint64(id), 7))
	for seq := 0; ctx.Err() == nil; seq++ {
		in := nemesisInput{key: keys[rng.IntN(len(keys))]}
		switch r := rng.IntN(20); {
		case r < 8:
			in.op, in.value = "set", fmt.Sprintf("c%d-%d", id, seq)
		case r < 11:
			in.op = "del"
		default:
			in.op = "get"
		}
		h.call(ctx, id, c, in)
		sleepCtx(ctx, time.Duration(rng.IntN(10))*time.Millisecond)
	}
}

// call makes one call and records it: an applied call as it was answered;
// a write of unknown outcome as one that may take effect at any time
// after its call; a refused call, and a read of unknown outcome, not at
// all, as they had no effect.
func (h *history) call(ctx context.Context, id int, c *nemesisClient, in nemesisInput) callOutcome {
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	op := porcupine.Operation{ClientId: id, Input: in, Call: h.now()}
	out, oc, err := c.call(cctx, in)
	op.Output, op.Return = out, h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	switch oc {
	case callRefused:
		h.refused[in.op]++
		return oc
	case callUnknown:
		h.unknown[in.op]++
		h.why[errorKind(err)]++
		if in.op == "get" {
			return oc
		}
		op.Return = math.MaxInt64
	}
	h.ops = append(h.ops, op)
	return oc
}

// errorKind is err without the addresses and numbers that vary.
func errorKind(err error) string {
	msg := err.Error()
	var operr *net.OpError
	if errors.As(err, &operr) {
		msg = operr.Op + ": " + operr.Err.Error()
	}
	if len(msg) > 60 {
		msg = msg[:60]
	}
	return msg
}

// firstWriteAfter returns when the first write called at or after t was
// acknowledged, or false if none has been.
func (h *history) firstWriteAfter(t int64) (int64, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	first, ok := int64(math.MaxInt64), false
	for _, op := range h.ops {
		in := op.Input.(nemesisInput)
		if in.op != "get" && op.Call >= t && op.Return != math.MaxInt64 && op.Return < first {
			first, ok = op.Return, true
		}
	}
	return first, ok
}

// counts returns the recorded calls by op, acknowledged and of unknown
// outcome.
func (h *history) counts() (acked map[string]int, unknown int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	acked = map[string]int{}
	for _, op := range h.ops {
		if op.Return == math.MaxInt64 {
			unknown++
		} else {
			acked[op.Input.(nemesisInput).op]++
		}
	}
	return acked, unknown
}
