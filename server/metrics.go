package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus metrics, in a registry of its own so
// that two servers in one process, or a program that embeds one, keep
// theirs apart.
//
// The per-command series are resolved once, at New, into slices indexed by
// command.idx (the last slot is for unknown commands), so that counting a
// command costs an atomic add, not a label lookup.
type metrics struct {
	reg      *prometheus.Registry
	calls    [][2]prometheus.Counter // [command][0 ok, 1 error]
	duration []prometheus.Observer   // per command
	accepted prometheus.Counter
	rejected prometheus.Counter
}

// unknownCommand labels the commands the server does not know.
const unknownCommand = "unknown"

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crabkv_commands_total",
		Help: "Commands run, by command and result (ok, or error for an error reply).",
	}, []string{"command", "result"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "crabkv_command_duration_seconds",
		Help: "Time from reading a command to having its reply ready, by command; for writes, until they are durable.",
		// From 10 µs (a read from the page cache) to 1 s (a sync on a busy disk).
		Buckets: prometheus.ExponentialBuckets(10e-6, 4, 9),
	}, []string{"command"})
	m.accepted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "crabkv_connections_accepted_total",
		Help: "Connections accepted.",
	})
	m.rejected = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "crabkv_connections_rejected_total",
		Help: "Connections refused because the server had MaxConns already.",
	})
	names := make([]string, len(commandList)+1)
	for _, cmd := range commandList {
		names[cmd.idx] = cmd.name
	}
	names[len(commandList)] = unknownCommand
	m.calls = make([][2]prometheus.Counter, len(names))
	m.duration = make([]prometheus.Observer, len(names))
	for i, name := range names {
		m.calls[i] = [2]prometheus.Counter{calls.WithLabelValues(name, "ok"), calls.WithLabelValues(name, "error")}
		m.duration[i] = duration.WithLabelValues(name)
	}
	m.reg.MustRegister(calls, duration, m.accepted, m.rejected, storeCollector{s})
	return m
}

// observe counts a command and its latency. idx is command.idx, or
// len(commandList) for an unknown command.
func (m *metrics) observe(idx int, failed bool, d time.Duration) {
	r := 0
	if failed {
		r = 1
	}
	m.calls[idx][r].Inc()
	m.duration[idx].Observe(d.Seconds())
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
)

func (storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConns, descKeys, descLog, descLive, descStale, descIndex,
		descCompactions, descCompacting, descReclaimed, descCompactFail} {
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
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
