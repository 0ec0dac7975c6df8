package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crabkv/crabkv/kv"
	"github.com/crabkv/crabkv/walfmt"
	"github.com/hashicorp/raft"
)

// ReservedPrefix starts the keys the cluster keeps for itself in each
// node's store. Clients may not write them.
const ReservedPrefix = "\x00cluster/"

// appliedKey holds the index of the last raft entry applied to the store,
// as 8 bytes little endian. It is written in the same atomic batch as the
// entry's writes, so the store and its applied index can never disagree:
// after a crash both are at the same entry, and a restart neither skips an
// entry nor applies one twice. A sidecar file would need a second fsync
// per batch and could still disagree with the store after a crash between
// the two writes, which a write that depends on the current value (an
// increment) could not survive.
var appliedKey = []byte(ReservedPrefix + "applied")

// nodeKeyPrefix starts the reserved keys that describe members, written
// through the log like any write (Node.Advertise) but refused from
// clients: ReservedPrefix+"node/"+id+"/resp" is the address a member
// serves clients on, so that any node can send a client to the leader.
const nodeKeyPrefix = ReservedPrefix + "node/"

// respKey is the key of id's client address.
func respKey(id string) []byte { return []byte(nodeKeyPrefix + id + "/resp") }

// ErrUnsupported is the error for an entry whose meaning this binary
// keeps refusing so that a replay agrees with what every node did when it
// was first applied: an expiring put in a version 1 command (see
// command.go).
var ErrUnsupported = errors.New("cluster: operation not supported by this engine")

// ErrReservedKey is returned for a client's write of a key that starts
// with ReservedPrefix.
var ErrReservedKey = errors.New("cluster: key is reserved")

// fsm is CrabKv as raft's finite-state machine. raft calls ApplyBatch,
// Snapshot and Restore from one goroutine; readers call db and waitApplied
// from any.
//
// Locks: dbMu, then snapMu. dbMu guards the db pointer: readers hold it
// shared while they use the store, Restore exclusively to swap it.
// snapMu guards the copy-on-write state of a running snapshot (see
// snapshot.go); ApplyBatch holds it while it saves the old values of the
// keys it is about to write.
type fsm struct {
	dir  string // the node's data directory; the store is in dir/kv
	opts kv.Options

	dbMu sync.RWMutex
	db   *kv.DB
	// failed holds the write error that left the store in an unknown
	// state: nothing more is applied until a restart.
	failed atomic.Pointer[error]

	snapMu sync.Mutex
	snap   *cowSnapshot // the running snapshot, if any

	// Written only by raft's FSM goroutine.
	durable uint64 // the applied index the store holds
	batch   *kv.Batch
	keys    [][]byte // the keys batch writes, aliasing the raft entries

	applied  progress     // the last index applied, in memory
	written  atomic.Int64 // entries written to the store since open
	skipped  atomic.Int64 // entries skipped as already in the store
	restores atomic.Int64 // snapshots restored since open

	// onFail, when set, is told once that the store failed (see
	// Node.storeFailed); testWriteErr, when set, fails the store's next
	// write, for tests.
	onFail       func(error)
	testWriteErr error
}

// openFSM opens the store in dir/kv, finishing or discarding a restore a
// crash interrupted, and reads its applied index.
func openFSM(dir string, opts kv.Options) (*fsm, error) {
	if err := recoverSwap(dir); err != nil {
		return nil, err
	}
	db, err := kv.Open(storeDir(dir), &opts)
	if err != nil {
		return nil, err
	}
	idx, err := readApplied(db)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	f := &fsm{dir: dir, opts: opts, db: db, durable: idx}
	f.applied.init(idx)
	return f, nil
}

func readApplied(db *kv.DB) (uint64, error) {
	v, err := db.Get(appliedKey)
	if errors.Is(err, kv.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cluster: read applied index: %w", err)
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("cluster: applied index is %d bytes, want 8", len(v))
	}
	return binary.LittleEndian.Uint64(v), nil
}

// Apply applies one entry; raft calls ApplyBatch instead, this is the
// plain raft.FSM method.
func (f *fsm) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch applies the commands of logs in order, as few atomic batches
// of the store as its limits allow (usually one, with one fsync), each
// with the applied index of its last entry. An entry at or below the
// store's applied index is already in it and is skipped: raft replays the
// log from its last snapshot at every start. The response for each entry
// is nil or the error that refused it; a refused entry writes nothing, on
// every node alike, because the checks depend only on the entry and the
// store's size limits.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	resp := make([]any, len(logs))
	f.dbMu.RLock()
	defer f.dbMu.RUnlock()
	if err := f.err(); err != nil {
		return fill(resp, 0, err)
	}
	if f.batch == nil {
		f.batch = f.db.NewBatch()
	}
	var acc batchSize
	pending := 0 // the first entry of logs whose writes are in f.batch
	for i, l := range logs {
		if l.Index <= f.durable {
			f.skipped.Add(1)
			pending = i + 1
			continue
		}
		if l.Type != raft.LogCommand {
			continue
		}
		ops, err := f.check(l.Data)
		if err != nil {
			resp[i] = err
			continue
		}
		if !acc.fits(ops) {
			if err := f.flush(logs[i-1].Index, &acc); err != nil {
				return fill(resp, pending, err)
			}
			pending = i
		}
		f.add(ops, &acc)
		f.written.Add(1)
	}
	// Entries without writes (configuration changes, refused commands)
	// still move the applied index, so that the store always says how far
	// it is; the marker alone is one small record.
	if end := logs[len(logs)-1].Index; end > f.durable {
		if err := f.flush(end, &acc); err != nil {
			return fill(resp, pending, err)
		}
	}
	f.applied.advance(f.durable)
	return resp
}

// fill sets each response from i on that is not already an error to err,
// and returns resp.
func fill(resp []any, i int, err error) []any {
	for ; i < len(resp); i++ {
		if resp[i] == nil {
			resp[i] = err
		}
	}
	return resp
}

// check decodes an entry's command and checks each operation as the
// store would, so that a bad operation refuses its entry alone instead of
// the whole batch it is written in.
func (f *fsm) check(data []byte) ([]Op, error) {
	ops, err := decodeCommand(data)
	if err != nil {
		return nil, err
	}
	return ops, checkOps(ops, f.opts)
}

// checkOps checks ops against the limits of a store opened with opts
// (defaults filled in).
func checkOps(ops []Op, opts kv.Options) error {
	if len(ops) == 0 {
		return errors.New("cluster: empty write")
	}
	if len(ops) >= kv.MaxBatchOps {
		return fmt.Errorf("%w: %d operations", kv.ErrBatchTooLarge, len(ops))
	}
	for i, op := range ops {
		var err error
		switch {
		case op.Kind == OpPutExpiry && op.Expiry <= 0:
			err = fmt.Errorf("%w: expiry %d is not after 1970", kv.ErrInvalidTTL, op.Expiry)
		case len(op.Key) == 0:
			err = kv.ErrEmptyKey
		case len(op.Key) > opts.MaxKeySize:
			err = fmt.Errorf("%w: %d bytes, the limit is %d", kv.ErrKeyTooLarge, len(op.Key), opts.MaxKeySize)
		case len(op.Value) > opts.MaxValueSize:
			err = fmt.Errorf("%w: %d bytes, the limit is %d", kv.ErrValueTooLarge, len(op.Value), opts.MaxValueSize)
		case isReserved(op.Key) && !isNodeKey(op.Key):
			err = ErrReservedKey
		}
		if err != nil {
			return fmt.Errorf("cluster: operation %d (%s): %w", i+1, op.Kind, err)
		}
	}
	if !(&batchSize{}).fits(ops) {
		return fmt.Errorf("%w: %d operations too large for one batch", kv.ErrBatchTooLarge, len(ops))
	}
	return nil
}

func isNodeKey(key []byte) bool {
	return len(key) >= len(nodeKeyPrefix) && string(key[:len(nodeKeyPrefix)]) == nodeKeyPrefix
}

func isReserved(key []byte) bool {
	return len(key) >= len(ReservedPrefix) && string(key[:len(ReservedPrefix)]) == ReservedPrefix
}

// batchSize tracks how large a store batch grows, to keep it within
// kv.MaxBatchOps and kv.MaxBatchBytes with room for the applied index.
type batchSize struct {
	n     int
	bytes int
}

var markerSize = walfmt.RecordSize(len(appliedKey), 8)

func (s *batchSize) add(op Op) {
	s.n++
	s.bytes += walfmt.RecordSizeExpiring(len(op.Key), len(op.Value), op.Expiry)
}

// fits reports whether ops fit in the batch with the marker.
func (s *batchSize) fits(ops []Op) bool {
	t := *s
	for _, op := range ops {
		t.add(op)
	}
	return t.n+1 < kv.MaxBatchOps && walfmt.RecordHeaderSize+t.bytes+markerSize <= kv.MaxBatchBytes
}

func (f *fsm) add(ops []Op, acc *batchSize) {
	for _, op := range ops {
		switch op.Kind {
		case OpDelete:
			f.batch.Delete(op.Key)
		case OpPutExpiry:
			// An expiry already past writes a record that is absent
			// from the start: a replay long after the write agrees
			// with the nodes that applied it in time.
			f.batch.PutExpiresAt(op.Key, op.Value, time.Unix(0, op.Expiry))
		default:
			f.batch.Put(op.Key, op.Value)
		}
		f.keys = append(f.keys, op.Key)
		acc.add(op)
	}
}

// flush writes the batch with the applied index idx. It saves the old
// values of the batch's keys for a running snapshot first. The caller
// holds dbMu shared. A failed write leaves the store's state unknown:
// the fsm stops applying, and a restart replays from the applied index
// the store holds.
func (f *fsm) flush(idx uint64, acc *batchSize) error {
	var v [8]byte
	binary.LittleEndian.PutUint64(v[:], idx)
	f.batch.Put(appliedKey, v[:])
	f.snapMu.Lock()
	err := f.preserveLocked(f.keys)
	f.snapMu.Unlock()
	if err == nil && f.testWriteErr != nil {
		err = f.testWriteErr
	}
	if err == nil {
		err = f.db.Write(f.batch)
	}
	f.batch.Reset()
	f.keys = f.keys[:0]
	*acc = batchSize{}
	if err != nil {
		err = fmt.Errorf("cluster: apply up to index %d: %w", idx, err)
		if f.failed.CompareAndSwap(nil, &err) && f.onFail != nil {
			f.onFail(err)
		}
		return err
	}
	f.durable = idx
	return nil
}

// Snapshot captures the store as it is now; raft calls it between
// applies, and persists the result while applies go on (see snapshot.go).
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.dbMu.RLock()
	defer f.dbMu.RUnlock()
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.startSnapshot(f.applied.get())
}

// Restore replaces the store with the snapshot in rc (see restore.go).
func (f *fsm) Restore(rc io.ReadCloser) error {
	err := f.restore(rc)
	return errors.Join(err, rc.Close())
}

// err returns why the fsm stopped applying, if it did.
func (f *fsm) err() error {
	if p := f.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// Close closes the store. Raft must be shut down first.
func (f *fsm) Close() error {
	f.dbMu.Lock()
	defer f.dbMu.Unlock()
	return f.db.Close()
}

func storeDir(dir string) string { return dir + "/kv" }
