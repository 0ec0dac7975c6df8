package server

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// CompactionChannel is the channel that carries the store's compaction
// events, each a JSON object (see compactionMessage).
const CompactionChannel = "crabkv:compaction"

// subscription is a connection's subscribed mode: its channels, and the
// goroutine forwarding compaction events when it has CompactionChannel.
type subscription struct {
	channels map[string]bool
	cancel   func()        // ends the engine subscription
	done     chan struct{} // closed when the forwarder has stopped
}

// stop ends the forwarder, if any, and waits for it.
func (s *subscription) stop() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
		s.cancel = nil
	}
}

// subscribe is SUBSCRIBE channel [channel ...]. Any channel may be
// subscribed to; only CompactionChannel carries messages.
func (c *client) subscribe(args [][]byte) {
	if c.sub == nil {
		c.sub = &subscription{channels: map[string]bool{}}
	}
	for _, ch := range args[1:] {
		name := string(ch)
		c.sub.channels[name] = true
		if name == CompactionChannel && c.sub.cancel == nil {
			c.startForwarding()
		}
		c.array(3)
		c.bulkString("subscribe")
		c.bulk(ch)
		c.integer(int64(len(c.sub.channels)))
	}
}

// unsubscribe is UNSUBSCRIBE [channel ...]; none means all.
func (c *client) unsubscribe(args [][]byte) {
	var names []string
	if len(args) > 1 {
		for _, a := range args[1:] {
			names = append(names, string(a))
		}
	} else if c.sub != nil {
		for n := range c.sub.channels {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	if len(names) == 0 {
		c.array(3)
		c.bulkString("unsubscribe")
		c.null()
		c.integer(0)
		return
	}
	for _, n := range names {
		left := 0
		if c.sub != nil {
			delete(c.sub.channels, n)
			if n == CompactionChannel {
				c.stopForwardingLocked()
			}
			left = len(c.sub.channels)
		}
		c.array(3)
		c.bulkString("unsubscribe")
		c.bulkString(n)
		c.integer(int64(left))
	}
	if c.sub != nil && len(c.sub.channels) == 0 {
		c.sub = nil
	}
}

// startForwarding subscribes to the engine's events and starts the
// goroutine that writes them to the connection.
func (c *client) startForwarding() {
	events, cancel := c.s.db.Subscribe()
	c.sub.cancel = cancel
	done := make(chan struct{})
	c.sub.done = done
	go func() {
		defer close(done)
		for ev := range events {
			msg, err := json.Marshal(compactionMessage(ev))
			if err != nil {
				continue
			}
			c.wmu.Lock()
			// Setting a deadline fails only on a closed connection, which the flush reports.
			c.writeBy = time.Now().Add(time.Minute)
			_ = c.nc.SetWriteDeadline(c.writeBy)
			c.array(3)
			c.bulkString("message")
			c.bulkString(CompactionChannel)
			c.bulk(msg)
			err = c.flush()
			c.writeBy = time.Time{}
			_ = c.nc.SetWriteDeadline(c.writeBy)
			c.wmu.Unlock()
			if err != nil {
				// The subscriber is gone or too slow; closing ends its
				// reader, and there is no one to tell if it fails.
				_ = c.nc.Close()
				cancel()
			}
		}
	}()
}

// stopForwardingLocked stops the forwarder. The caller holds wmu, which
// the forwarder may be waiting for, so it is released while waiting.
func (c *client) stopForwardingLocked() {
	if c.sub.cancel == nil {
		return
	}
	c.sub.cancel()
	c.wmu.Unlock()
	<-c.sub.done
	c.wmu.Lock()
	c.sub.cancel = nil
}

// compactionEvent is the JSON form of a kv.CompactionEvent.
type compactionEvent struct {
	Kind       string `json:"kind"`
	LogBytes   int64  `json:"log_bytes,omitempty"`
	LiveBytes  int64  `json:"live_bytes,omitempty"`
	StaleBytes int64  `json:"stale_bytes,omitempty"`
	Done       int64  `json:"done,omitempty"`
	Total      int64  `json:"total,omitempty"`
	OldSize    int64  `json:"old_size,omitempty"`
	NewSize    int64  `json:"new_size,omitempty"`
	DurationMS int64  `json:"duration_ms,omitempty"`
	Kept       int    `json:"kept,omitempty"`
	Dropped    int    `json:"dropped,omitempty"`
	Error      string `json:"error,omitempty"`
}

func compactionMessage(ev kv.CompactionEvent) compactionEvent {
	m := compactionEvent{
		Kind: ev.Kind.String(), LogBytes: ev.LogBytes, LiveBytes: ev.LiveBytes, StaleBytes: ev.StaleBytes,
		Done: ev.Done, Total: ev.Total, OldSize: ev.OldSize, NewSize: ev.NewSize,
		DurationMS: ev.Duration.Milliseconds(), Kept: ev.Kept, Dropped: ev.Dropped,
	}
	if ev.Err != nil {
		m.Error = ev.Err.Error()
	}
	return m
}
