package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/tui"
)

// compactionChannel is the channel on which a crabkv server publishes
// compaction events (server.CompactionChannel).
const compactionChannel = "crabkv:compaction"

// Stats reads the store's figures with CRABKV.STATS, or from INFO's
// crabkv section on a server without it. A server does not say at what
// stale share it compacts by itself: the threshold is unknown (-1).
func (s *Store) Stats() (tui.Stats, error) {
	fields, err := s.statsFields()
	if err != nil {
		return tui.Stats{}, err
	}
	num := func(name string) int64 {
		n, _ := strconv.ParseInt(fields[name], 10, 64) // a missing field reads as 0
		return n
	}
	return tui.Stats{
		Keys: int(num("keys")), LiveBytes: num("live_bytes"), StaleBytes: num("stale_bytes"),
		LogBytes: num("log_bytes"), Compactions: num("compactions"), Compacting: fields["compacting"] == "1",
		Threshold: -1, Cluster: s.clusterInfo(),
	}, nil
}

// statsFields returns the crabkv fields by name.
func (s *Store) statsFields() (map[string]string, error) {
	reply, err := s.rdb.Do(ctx(), "crabkv.stats").StringSlice()
	if unknownCommand(err) {
		return s.infoFields()
	}
	if err != nil {
		return nil, err
	}
	if len(reply)%2 != 0 {
		return nil, errors.New("CRABKV.STATS: an odd number of fields and values")
	}
	fields := make(map[string]string, len(reply)/2)
	for i := 0; i < len(reply); i += 2 {
		fields[reply[i]] = reply[i+1]
	}
	return fields, nil
}

// infoFields reads the name:value lines of INFO crabkv.
func (s *Store) infoFields() (map[string]string, error) {
	text, err := s.rdb.Info(ctx(), "crabkv").Result()
	if err != nil {
		return nil, err
	}
	fields := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if name, value, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && !strings.HasPrefix(name, "#") {
			fields[name] = value
		}
	}
	if len(fields) == 0 {
		return nil, errors.New("the server has no crabkv figures (is it crabkv serve?)")
	}
	return fields, nil
}

// Subscribe follows the compaction channel. It returns once the server
// has confirmed the subscription, so that no event sent after it is
// missed. Events the inspector does not read in time wait in go-redis's
// buffer; the feed ends when cancel is called or the store is closed.
func (s *Store) Subscribe() (<-chan kv.CompactionEvent, func()) {
	out := make(chan kv.CompactionEvent)
	ps := s.rdb.Subscribe(context.Background(), compactionChannel)
	wctx, wcancel := context.WithTimeout(context.Background(), dialTimeout)
	_, err := ps.Receive(wctx) // the confirmation
	wcancel()
	if err != nil {
		// No feed: the inspector shows compactions from the figures alone.
		_ = ps.Close()
		close(out)
		return out, func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(out)
		for msg := range ps.Channel() {
			ev, ok := decodeEvent(msg.Payload)
			if !ok {
				continue
			}
			select {
			case out <- ev:
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return out, func() {
		once.Do(func() {
			close(done)
			_ = ps.Close() // ends ps.Channel(); there is nothing to do if the connection is already gone
			wg.Wait()
		})
	}
}

// event is the JSON of one message on the compaction channel.
type event struct {
	Kind       string `json:"kind"`
	LogBytes   int64  `json:"log_bytes"`
	LiveBytes  int64  `json:"live_bytes"`
	StaleBytes int64  `json:"stale_bytes"`
	Done       int64  `json:"done"`
	Total      int64  `json:"total"`
	OldSize    int64  `json:"old_size"`
	NewSize    int64  `json:"new_size"`
	DurationMS int64  `json:"duration_ms"`
	Kept       int    `json:"kept"`
	Dropped    int    `json:"dropped"`
	Error      string `json:"error"`
}

// decodeEvent reads one message; it reports false for one it does not
// understand, which is skipped.
func decodeEvent(payload string) (kv.CompactionEvent, bool) {
	var e event
	if err := json.Unmarshal([]byte(payload), &e); err != nil {
		return kv.CompactionEvent{}, false
	}
	ev := kv.CompactionEvent{
		LogBytes: e.LogBytes, LiveBytes: e.LiveBytes, StaleBytes: e.StaleBytes,
		Done: e.Done, Total: e.Total, OldSize: e.OldSize, NewSize: e.NewSize,
		Duration: time.Duration(e.DurationMS) * time.Millisecond, Kept: e.Kept, Dropped: e.Dropped,
	}
	for _, k := range []kv.EventKind{kv.CompactionStarted, kv.CompactionProgress, kv.CompactionFinished, kv.CompactionFailed} {
		if k.String() == e.Kind {
			ev.Kind = k
		}
	}
	if ev.Kind == 0 {
		return kv.CompactionEvent{}, false
	}
	if e.Error != "" {
		ev.Err = fmt.Errorf("on the server: %s", e.Error)
	}
	return ev, true
}

// Writer: the server is the one writer, and takes the inspector's writes.
func (s *Store) Writer() (kv.Holder, bool) { return kv.Holder{}, false }

// Live: other clients may write at any time.
func (s *Store) Live() bool { return true }
