package kv

import (
	"container/heap"
	"sync"

	"github.com/crabkv/crabkv/walfmt"
)

// expiries is the table of what the index's slots have no room for: when a
// live record that carries an expiry (walfmt's "Expiry") stops being live.
// It is kept apart from the index and holds only the records that expire,
// keyed by their offset in the log, so a store without expiring keys pays
// nothing for it, and one with them about 70 bytes per expiring key (a map
// entry of 24 bytes, the map's overhead, and a 16-byte queue entry).
//
// It also sums how much the live and the stale values stored encoded (see
// Codec) grow once decoded, for Stats' logical sizes, without an entry per
// encoded value: a record's growth is read from the record itself, in the
// log, when it is replaced (see forget).
//
// A record is expired at an instant t when its expiry is at or before t:
// readers test that per lookup, with the store's clock, and never change
// the table. What the counters report — how many records have expired and
// how many bytes they hold, which Stats and the compaction policy count as
// stale — is settled up to an instant by settle, which takes entries off
// a queue ordered by expiry. An entry is counted expired exactly when its
// expiry is at or before settled.
//
// byOff changes only with the DB's mu held exclusively (apply, at
// publication); readers read it with mu shared. The fields under mu
// (settle's) change with mu held either way, so they have their own lock,
// a leaf.
type expiries struct {
	byOff map[uint64]expiry
	// expiring counts the entries; encoded counts the live records
	// stored encoded, growth sums how much they grow decoded, and
	// staleGrowth the same for the records replaced since the log was
	// written. Changed with mu held exclusively.
	expiring    int
	encoded     int
	growth      int64
	staleGrowth int64
	// floor makes the records a writer may have found expired stay so
	// (see expiryFloor). Set when the table is made.
	floor expiryFloor

	mu struct {
		sync.Mutex
		queue         expiryQueue // every entry of byOff not yet settled, and stale ones
		settled       int64       // Unix ns: entries expiring at or before it are counted
		expiredKeys   int
		expiredBytes  int64
		expiredGrowth int64
	}
}

// expiry is one entry of the table.
type expiry struct {
	at   int64  // Unix nanoseconds
	size uint32 // the record's size
	grow int32  // decoded minus stored size of an encoded value
}

// recMeta is what a record adds to the table: its expiry (Unix ns, 0 for
// none) and, for an encoded value, how much it grows when decoded.
type recMeta struct {
	expiry int64
	grow   int32
}

// metaOf returns the table's view of rec, a put or a batch's put.
func metaOf(rec walfmt.Record) recMeta {
	m := recMeta{expiry: rec.Expiry}
	if rec.Codec != 0 {
		m.grow = int32(logicalSize(rec.Codec, rec.Value) - len(rec.Value))
	}
	return m
}

// any reports whether the table needs an entry for the record.
func (m recMeta) any() bool { return m.expiry != 0 || m.grow != 0 }

func newExpiries() *expiries { return &expiries{byOff: make(map[uint64]expiry)} }

// expiryFloor is what the sidecar of a clean Close says of expiry: the
// latest instant the writer judged it by (at), and the log bytes it
// covers (end). A record below end that expires by at may have been found
// expired, and must stay so, whatever the clock says now: its entry
// expires long ago (expiredLongAgo), in every table built for the log,
// the sidecar's and those of any replay of it since. The clock itself is
// not moved up to at: a clock that ran ahead once would hold the store's
// time there, TTLs and all. The zero floor holds nothing.
type expiryFloor struct {
	at  int64
	end uint64
}

// expiredLongAgo is the expiry a record under the floor is given: one
// nanosecond after 1970, which every clock has passed.
const expiredLongAgo = 1

// expiriesOf returns c's table, making it on the first expiring record.
func (c *counters) expiriesOf() *expiries {
	if c.exp == nil {
		c.exp = newExpiries()
		c.exp.floor = c.floor
	}
	return c.exp
}

// lookup returns the expiry of the record at off, if it has one. A nil
// table has none.
func (e *expiries) lookup(off uint64) (int64, bool) {
	if e == nil || e.expiring == 0 {
		return 0, false
	}
	x, ok := e.byOff[off]
	return x.at, ok
}

// entry returns the table's entry for the record at off, if any.
func (e *expiries) entry(off uint64) (expiry, bool) {
	if e == nil || len(e.byOff) == 0 {
		return expiry{}, false
	}
	x, ok := e.byOff[off]
	return x, ok
}

// add records m for the live record of size bytes at off: an entry if it
// expires, its growth if it is encoded. The caller holds the DB's mu
// exclusively.
func (e *expiries) add(off uint64, m recMeta, size int) {
	if m.grow != 0 {
		e.encoded++
		e.growth += int64(m.grow)
	}
	at := m.expiry
	if at == 0 {
		return
	}
	if off < e.floor.end && at <= e.floor.at {
		at = expiredLongAgo
	}
	e.byOff[off] = expiry{at: at, size: uint32(size), grow: m.grow}
	e.expiring++
	e.mu.Lock()
	defer e.mu.Unlock()
	if at <= e.mu.settled {
		e.mu.expiredKeys++
		e.mu.expiredBytes += int64(size)
		e.mu.expiredGrowth += int64(m.grow)
		return
	}
	heap.Push(&e.mu.queue, queued{at: at, off: off})
	// Entries of records since replaced stay queued until their time
	// comes; rebuild the queue before they outnumber the live ones.
	if len(e.mu.queue) > 2*len(e.byOff)+1024 {
		e.rebuildLocked()
	}
}

// forget drops the record s points to, replaced or deleted, from the
// table; src reads it, for the growth of an encoded value without an
// entry. The caller holds the DB's mu exclusively.
func (e *expiries) forget(s slot, src keySource) {
	if e == nil {
		return
	}
	x, ok := e.byOff[s.off]
	if !ok {
		if e.encoded > 0 {
			if g := recordGrowth(src, s); g != 0 {
				e.encoded--
				e.growth -= int64(g)
				e.staleGrowth += int64(g)
			}
		}
		return
	}
	delete(e.byOff, s.off)
	if x.grow != 0 {
		e.encoded--
		e.growth -= int64(x.grow)
		e.staleGrowth += int64(x.grow)
	}
	e.expiring--
	e.mu.Lock()
	if x.at <= e.mu.settled {
		e.mu.expiredKeys--
		e.mu.expiredBytes -= int64(x.size)
		e.mu.expiredGrowth -= int64(x.grow)
	}
	e.mu.Unlock()
}

// rebuildLocked makes the queue hold exactly the unsettled entries of
// byOff. The caller holds e.mu and the DB's mu exclusively.
func (e *expiries) rebuildLocked() {
	q := e.mu.queue[:0]
	for off, x := range e.byOff {
		if x.at > e.mu.settled {
			q = append(q, queued{at: x.at, off: off})
		}
	}
	heap.Init(&q)
	e.mu.queue = q
}

// settle counts the records that have expired at now, and returns how
// many have and the bytes they hold. The caller holds the DB's mu, shared
// or exclusive.
func (e *expiries) settle(now int64) (keys int, bytes int64) {
	if e == nil {
		return 0, 0
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if now > e.mu.settled {
		for len(e.mu.queue) > 0 && e.mu.queue[0].at <= now {
			q := heap.Pop(&e.mu.queue).(queued)
			// Count it unless its record was replaced since it was queued.
			if x, ok := e.byOff[q.off]; ok && x.at == q.at {
				e.mu.expiredKeys++
				e.mu.expiredBytes += int64(x.size)
				e.mu.expiredGrowth += int64(x.grow)
			}
		}
		e.mu.settled = now
	}
	return e.mu.expiredKeys, e.mu.expiredBytes
}

// len returns the number of live records that carry an expiry, expired
// or not.
func (e *expiries) len() int {
	if e == nil {
		return 0
	}
	return e.expiring
}

// growthOf returns how much the live records grow when decoded, the
// expired ones apart, and how much the stale ones do. The caller holds
// the DB's mu and has just settled the table.
func (e *expiries) growthOf() (live, expired, stale int64) {
	if e == nil {
		return 0, 0, 0
	}
	e.mu.Lock()
	expired = e.mu.expiredGrowth
	e.mu.Unlock()
	return e.growth - expired, expired, e.staleGrowth
}

// queued is an entry of the expiry queue.
type queued struct {
	at  int64
	off uint64
}

// expiryQueue is a min-heap of entries by expiry.
type expiryQueue []queued

func (q expiryQueue) Len() int           { return len(q) }
func (q expiryQueue) Less(i, j int) bool { return q[i].at < q[j].at }
func (q expiryQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *expiryQueue) Push(x any)        { *q = append(*q, x.(queued)) }
func (q *expiryQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// recordGrowth returns how much the value of the record s points to grows
// when decoded: 0 for a raw one, or one src cannot read.
func recordGrowth(src keySource, s slot) int32 {
	v, ok := src.(*logView)
	if !ok {
		return 0
	}
	h, err := v.header(int64(s.off))
	if err != nil || walfmt.ValueCodec(h[:]) == 0 {
		return 0
	}
	vo, vl, err := walfmt.ValueBounds(h[:])
	if err != nil || vo+vl != int(s.size) {
		return 0
	}
	bp := recordBufs.Get().(*[]byte)
	defer recordBufs.Put(bp)
	b, err := v.recordBytes(s, bp)
	if err != nil {
		return 0
	}
	val := b[vo:]
	return int32(logicalSize(walfmt.ValueCodec(h[:]), val) - len(val))
}
