package server

import (
	"bytes"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/crabkv/crabkv/kv"
	"github.com/tidwall/redcon"
)

// recordConn is a discardConn that keeps what is written to it.
type recordConn struct {
	discardConn
	buf bytes.Buffer
}

func (c *recordConn) Write(p []byte) (int, error) { return c.buf.Write(p) }

// pipelineClient returns a client of a server on a fresh store, writing to
// conn, and runs runPipeline for it as serve does.
func pipelineClient(t *testing.T, conn *recordConn) (*Server, func(cmds []redcon.Command)) {
	t.Helper()
	db, err := kv.Open(t.TempDir(), &kv.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := New(db, testOptions(Options{}))
	c := newClient(s, discardConn{})
	c.nc = conn
	t.Cleanup(c.close)
	return s, func(cmds []redcon.Command) {
		c.wmu.Lock()
		defer c.wmu.Unlock()
		if err := c.runPipeline(cmds); err != nil {
			t.Fatal(err)
		}
	}
}

func requests(reqs ...string) []redcon.Command {
	cmds := make([]redcon.Command, len(reqs))
	for i, r := range reqs {
		cmds[i].Args = bytes.Split([]byte(r), []byte(" "))
	}
	return cmds
}

// TestPipelinedGetAllocatesNothing checks that a pipeline of GETs of a
// present key costs no allocation: the value goes from the store straight
// into the reply buffer, and the metrics are counted without one.
func TestPipelinedGetAllocatesNothing(t *testing.T) {
	var conn recordConn
	_, run := pipelineClient(t, &conn)
	run(requests("SET key value"))
	gets := make([]string, 16)
	for i := range gets {
		gets[i] = "GET key"
	}
	cmds := requests(gets...)
	run(cmds)
	conn.buf.Reset()
	run(cmds)
	if want := bytes.Repeat([]byte("$5\r\nvalue\r\n"), 16); !bytes.Equal(conn.buf.Bytes(), want) {
		t.Fatalf("replies %q, want %q", conn.buf.Bytes(), want)
	}
	if raceEnabled {
		t.Skip("allocations are not counted under the race detector")
	}
	if n := testing.AllocsPerRun(100, func() { conn.buf.Reset(); run(cmds) }); n != 0 {
		t.Errorf("a pipeline of 16 GETs allocates %v times", n)
	}
}

// TestMetricsExactPerPipeline checks that every command of a pipeline is
// counted, with its result, and observed once in the latency histogram,
// and that the counts are there as soon as the replies are.
func TestMetricsExactPerPipeline(t *testing.T) {
	var conn recordConn
	s, run := pipelineClient(t, &conn)
	admin := httptest.NewServer(s.AdminHandler())
	defer admin.Close()
	var reqs []string
	for i := range 40 {
		reqs = append(reqs, "SET k"+strconv.Itoa(i)+" v", "GET k"+strconv.Itoa(i))
	}
	reqs = append(reqs, "GET", "NOSUCH", "GET missing", "SET a b NX", "DEL k1 k2")
	run(requests(reqs...))
	run(requests("GET k3", "SET k3 w"))
	_, body := scrape(t, admin.URL+"/metrics")
	for series, want := range map[string]float64{
		`crabkv_commands_total{command="set",result="ok"}`:                   42,
		`crabkv_commands_total{command="get",result="ok"}`:                   42,
		`crabkv_commands_total{command="get",result="error"}`:                1,
		`crabkv_commands_total{command="unknown",result="error"}`:            1,
		`crabkv_commands_total{command="del",result="ok"}`:                   1,
		`crabkv_command_duration_seconds_count{command="set"}`:               42,
		`crabkv_command_duration_seconds_count{command="get"}`:               43,
		`crabkv_command_duration_seconds_bucket{command="get",le="+Inf"}`:    43,
		`crabkv_command_duration_seconds_count{command="unknown"}`:           1,
		`crabkv_command_duration_seconds_count{command="del"}`:               1,
		`crabkv_command_duration_seconds_count{command="ping"}`:              0,
		`crabkv_command_duration_seconds_bucket{command="ping",le="+Inf"}`:   0,
		`crabkv_command_duration_seconds_bucket{command="ping",le="1e-05"}`:  0,
		`crabkv_command_duration_seconds_sum{command="ping"}`:                0,
		`crabkv_commands_total{command="ping",result="ok"}`:                  0,
		`crabkv_commands_total{command="ping",result="error"}`:               0,
		`crabkv_command_duration_seconds_bucket{command="get",le="0.65536"}`: 43,
	} {
		if got := metricValue(t, body, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	// The buckets are cumulative, and the sum is that of positive times.
	prev := -1.0
	for _, le := range []string{"1e-05", "4e-05", "0.00016", "0.00064", "0.00256", "0.01024", "0.04096", "0.16384", "0.65536", "+Inf"} {
		got := metricValue(t, body, `crabkv_command_duration_seconds_bucket{command="set",le="`+le+`"}`)
		if got < prev {
			t.Errorf("set bucket le=%s = %v, below the one before (%v)", le, got, prev)
		}
		prev = got
	}
	if prev != 42 {
		t.Errorf("set +Inf bucket = %v, want 42", prev)
	}
	if sum := metricValue(t, body, `crabkv_command_duration_seconds_sum{command="set"}`); sum <= 0 {
		t.Errorf("set duration sum = %v", sum)
	}
}
