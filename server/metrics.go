package server

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus metrics, in a registry of its own so
// that two servers in one process, or a program that embeds one, keep
// theirs apart.
//
// The per-command series (calls by result, and the latency histogram) are
// exact, but not counted by prometheus.Counter and Histogram, whose atomic
// operations per observation, on counters that every connection shares,
// cost a pipelined GET a tenth of its time. A connection counts its
// commands in counters of its own (connMetrics), which nothing else
// touches, and adds them to the server's totals (cmdTotals) once per
// pipeline, before its replies go out, so a client that has its reply
// finds its command counted. A scrape reads the totals (cmdCollector).
type metrics struct {
	reg      *prometheus.Registry
	cmds     []cmdTotals // by command.idx; the last is for unknown commands
	accepted prometheus.Counter
	rejected prometheus.Counter
}

// unknownCommand labels the commands the server does not know.
const unknownCommand = "unknown"

// latencyBounds are the latency histogram's upper bounds, in seconds: from
// 10 µs (a read from the page cache) to 0.66 s (a sync on a busy disk).
var latencyBounds = prometheus.ExponentialBuckets(10e-6, 4, numBounds)

const numBounds = 9

// cmdCounts are one command's counts: calls by result (0 ok, 1 error), the
// latency histogram's buckets (not cumulative; the last is above every
// bound) and the sum of the latencies.
type cmdCounts struct {
	calls   [2]uint64
	buckets [numBounds + 1]uint64
	nanos   int64
}

// cmdTotals are a command's counts over the server's life.
type cmdTotals struct {
	calls   [2]atomic.Uint64
	buckets [numBounds + 1]atomic.Uint64
	nanos   atomic.Int64
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), cmds: make([]cmdTotals, len(commandList)+1)}
	m.accepted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "crabkv_connections_accepted_total",
		Help: "Connections accepted.",
	})
	m.rejected = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "crabkv_connections_rejected_total",
		Help: "Connections refused because the server had MaxConns already.",
	})
	m.reg.MustRegister(cmdCollector{m}, m.accepted, m.rejected, storeCollector{s})
	return m
}

// connMetrics are a connection's counts not yet added to the server's.
// They are guarded by the connection's wmu.
type connMetrics struct {
	cmds    []cmdCounts // by command.idx, as metrics.cmds
	touched []int       // the commands with counts, each once
}

func newConnMetrics() connMetrics {
	n := len(commandList) + 1
	return connMetrics{cmds: make([]cmdCounts, n), touched: make([]int, 0, n)}
}

// observe counts a command and its latency. idx is command.idx, or
// len(commandList) for an unknown command.
func (l *connMetrics) observe(idx int, failed bool, d time.Duration) {
	c := &l.cmds[idx]
	if c.calls[0] == 0 && c.calls[1] == 0 {
		l.touched = append(l.touched, idx)
	}
	r := 0
	if failed {
		r = 1
	}
	c.calls[r]++
	// The bucket of the first bound at or above the latency, compared in
	// seconds as a prometheus.Histogram compares them.
	sec, b := d.Seconds(), 0
	for b < numBounds && sec > latencyBounds[b] {
		b++
	}
	c.buckets[b]++
	c.nanos += int64(d)
}

// flushTo adds the counts to the server's totals and clears them.
func (l *connMetrics) flushTo(m *metrics) {
	for _, idx := range l.touched {
		c, t := &l.cmds[idx], &m.cmds[idx]
		for r, n := range c.calls {
			if n > 0 {
				t.calls[r].Add(n)
			}
		}
		for b, n := range c.buckets {
			if n > 0 {
				t.buckets[b].Add(n)
			}
		}
		t.nanos.Add(c.nanos)
		*c = cmdCounts{}
	}
	l.touched = l.touched[:0]
}

// cmdCollector reports the per-command totals as a counter vector and a
// histogram vector, as prometheus.CounterVec and HistogramVec would.
type cmdCollector struct{ m *metrics }

var (
	descCalls = prometheus.NewDesc("crabkv_commands_total",
		"Commands run, by command and result (ok, or error for an error reply).",
		[]string{"command", "result"}, nil)
	descDuration = prometheus.NewDesc("crabkv_command_duration_seconds",
		"Time from reading a command to having its reply ready, by command; for writes, until they are durable.",
		[]string{"command"}, nil)
)

func (cmdCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descCalls
	ch <- descDuration
}

func (c cmdCollector) Collect(ch chan<- prometheus.Metric) {
	for idx := range c.m.cmds {
		t := &c.m.cmds[idx]
		name := unknownCommand
		if idx < len(commandList) {
			name = commandList[idx].name
		}
		ch <- prometheus.MustNewConstMetric(descCalls, prometheus.CounterValue, float64(t.calls[0].Load()), name, "ok")
		ch <- prometheus.MustNewConstMetric(descCalls, prometheus.CounterValue, float64(t.calls[1].Load()), name, "error")
		// The count is the buckets' total, so that the histogram agrees
		// with itself even while a connection adds to it.
		cum := make(map[float64]uint64, numBounds)
		var count uint64
		for b, bound := range latencyBounds {
			count += t.buckets[b].Load()
			cum[bound] = count
		}
		count += t.buckets[numBounds].Load()
		sum := time.Duration(t.nanos.Load()).Seconds()
		ch <- prometheus.MustNewConstHistogram(descDuration, count, sum, cum, name)
	}
}

// storeCollector reports the connections and the store's figures as they
// are at each scrape, from one kv.DB.Stats call.
type storeCollector struct{ s *Server }

var (
	descConns       = prometheus.NewDesc("crabkv_connections", "Open client connections.", nil, nil)
	descKeys        = prometheus.NewDesc("crabkv_keys", "Live keys in the store.", nil, nil)
	descLog         = prometheus.NewDesc("crabkv_log_bytes", "Size of the log.", nil, nil)
	descLive        = prometheus.NewDesc("crabkv_live_bytes", "Bytes of the log that hold current values.", nil, nil)
	descStale       = prometheus.NewDesc("crabkv_stale_bytes", "Bytes of the log that a compaction would reclaim.", nil, nil)
	descIndex       = prometheus.NewDesc("crabkv_index_bytes", "Memory the index takes.", nil, nil)
	descCompactions = prometheus.NewDesc("crabkv_compactions_total", "Compactions completed since the store was opened.", nil, nil)
	descCompacting  = prometheus.NewDesc("crabkv_compacting", "1 while a compaction runs.", nil, nil)
	descReclaimed   = prometheus.NewDesc("crabkv_reclaimed_bytes_total", "Bytes compactions reclaimed since the store was opened.", nil, nil)
	descCompactFail = prometheus.NewDesc("crabkv_compaction_failed", "1 if the last compaction failed.", nil, nil)
	descCheckpoints = prometheus.NewDesc("crabkv_checkpoints_total", "Hints written in the background since the store was opened.", nil, nil)
	descCkptFail    = prometheus.NewDesc("crabkv_checkpoint_failed", "1 if the last checkpoint failed.", nil, nil)
	descReplayed    = prometheus.NewDesc("crabkv_replayed_bytes", "Bytes of the log the store's Open replayed.", nil, nil)
)

func (storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConns, descKeys, descLog, descLive, descStale, descIndex,
		descCompactions, descCompacting, descReclaimed, descCompactFail, descCheckpoints, descCkptFail, descReplayed} {
		ch <- d
	}
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.db.Stats()
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(descConns, float64(c.s.Clients()))
	gauge(descKeys, float64(st.Keys))
	gauge(descLog, float64(st.LogBytes))
	gauge(descLive, float64(st.LiveBytes))
	gauge(descStale, float64(st.StaleBytes))
	gauge(descIndex, float64(st.IndexBytes))
	counter(descCompactions, float64(st.Compactions))
	gauge(descCompacting, b2f(st.Compacting))
	counter(descReclaimed, float64(st.ReclaimedBytes))
	gauge(descCompactFail, b2f(st.CompactionError != nil))
	counter(descCheckpoints, float64(st.Checkpoints))
	gauge(descCkptFail, b2f(st.CheckpointError != nil))
	gauge(descReplayed, float64(st.ReplayedBytes))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
