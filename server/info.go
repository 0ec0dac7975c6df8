package server

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// infoSections lists INFO's sections in order; "default", "all" and
// "everything" select them all.
var infoSections = []string{"server", "clients", "stats", "keyspace", "crabkv"}

// info is INFO [section ...].
func (c *client) info(args [][]byte) {
	want := map[string]bool{}
	for _, a := range args[1:] {
		s := strings.ToLower(string(a))
		if s == "all" || s == "default" || s == "everything" {
			want = nil
			break
		}
		want[s] = true
	}
	sections := infoSections
	if is, ok := c.s.db.(InfoSectioner); ok {
		name, _ := is.InfoSection()
		sections = append(sections[:len(sections):len(sections)], name)
	}
	var b strings.Builder
	for _, sec := range sections {
		if len(want) > 0 && !want[sec] {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		fmt.Fprintf(&b, "# %s\r\n", strings.ToUpper(sec[:1])+sec[1:])
		for _, kv := range c.s.infoSection(sec) {
			fmt.Fprintf(&b, "%s:%s\r\n", kv[0], kv[1])
		}
	}
	c.bulkString(b.String())
}

// infoSection returns a section's fields in order.
func (s *Server) infoSection(name string) [][2]string {
	switch name {
	case "server":
		up := time.Since(s.started)
		return [][2]string{
			{"crabkv_version", Version},
			{"redis_version", "7.0.0"}, // what clients check features against
			{"redis_mode", "standalone"},
			{"os", runtime.GOOS + " " + runtime.GOARCH},
			{"go_version", runtime.Version()},
			{"process_id", fmt.Sprint(os.Getpid())},
			{"uptime_in_seconds", fmt.Sprint(int64(up.Seconds()))},
			{"uptime_in_days", fmt.Sprint(int64(up.Hours() / 24))},
			{"data_dir", s.db.Dir()},
		}
	case "clients":
		return [][2]string{
			{"connected_clients", fmt.Sprint(s.Clients())},
			{"maxclients", fmt.Sprint(s.opts.MaxConns)},
		}
	case "stats":
		return [][2]string{
			{"total_connections_received", fmt.Sprint(s.accepted.Load())},
			{"total_commands_processed", fmt.Sprint(s.commands.Load())},
			{"rejected_connections", fmt.Sprint(s.rejected.Load())},
		}
	case "keyspace":
		st := s.db.Stats()
		if st.Keys == 0 {
			return nil
		}
		return [][2]string{{"db0", fmt.Sprintf("keys=%d,expires=%d,avg_ttl=0", st.Keys, st.ExpiringKeys)}}
	case "crabkv":
		return s.storeFields()
	}
	if is, ok := s.db.(InfoSectioner); ok {
		if own, fields := is.InfoSection(); own == name {
			return fields
		}
	}
	return nil
}

// storeFields describes the store: INFO's crabkv section and CRABKV.STATS.
func (s *Server) storeFields() [][2]string {
	st := s.db.Stats()
	lastErr := ""
	if st.CompactionError != nil {
		lastErr = strings.Join(strings.Fields(st.CompactionError.Error()), " ")
	}
	ckptErr := ""
	if st.CheckpointError != nil {
		ckptErr = strings.Join(strings.Fields(st.CheckpointError.Error()), " ")
	}
	return [][2]string{
		{"keys", fmt.Sprint(st.Keys)},
		{"log_bytes", fmt.Sprint(st.LogBytes)},
		{"live_bytes", fmt.Sprint(st.LiveBytes)},
		{"stale_bytes", fmt.Sprint(st.StaleBytes)},
		{"header_bytes", fmt.Sprint(st.HeaderBytes)},
		{"index_bytes", fmt.Sprint(st.IndexBytes)},
		{"compacting", boolField(st.Compacting)},
		{"compactions", fmt.Sprint(st.Compactions)},
		{"last_compaction_ms", fmt.Sprint(st.LastCompaction.Milliseconds())},
		{"reclaimed_bytes", fmt.Sprint(st.ReclaimedBytes)},
		{"last_compaction_error", lastErr},
		{"truncated_bytes", fmt.Sprint(st.TruncatedBytes)},
		{"replayed_bytes", fmt.Sprint(st.ReplayedBytes)},
		{"checkpoints", fmt.Sprint(st.Checkpoints)},
		{"last_checkpoint_error", ckptErr},
	}
}

func boolField(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// stats is CRABKV.STATS: the store's fields as a flat field/value array,
// like HGETALL.
func (c *client) stats([][]byte) {
	fields := c.s.storeFields()
	c.array(2 * len(fields))
	for _, f := range fields {
		c.bulkString(f[0])
		c.bulkString(f[1])
	}
}

// compact is CRABKV.COMPACT: it compacts the log and returns when done.
func (c *client) compact([][]byte) {
	if err := c.s.db.Compact(); err != nil {
		c.engineError(err)
		return
	}
	c.ok()
}
