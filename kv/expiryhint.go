package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/crabkv/crabkv/walfmt"
)

// The hint's slots have no room for expiries, and rebuilding the expiry
// table (expiries.go) from the records they point at would read a record
// for every key, which is what a hint exists to avoid. So every hint file
// has a sidecar, wal.hint.exp (a compaction's, wal.hint.compact.exp),
// written with it and tied to the same log and length: the table itself,
// which holds only the keys that expire, and the totals of the encoded
// values' growth, read whole and checked against its checksum at Open.
//
//	offset  size  field
//	------  ----  ---------------------------------------------------------
//	     0     8  magic "CRABKVEX"
//	     8     2  version (1), little-endian like every field
//	    10     2  reserved, zero
//	    12     4  entry size in bytes (24)
//	    16     8  number of entries
//	    24     8  log bytes covered: equal to the hint's
//	    32    16  the ID of the log described, from its file header
//	    48     8  the store's clock when written (Unix ns): the latest
//	              instant expiry was judged by; the next Open takes every
//	              key expiring by then as expired, so that no key comes
//	              back (it does not move its clock up to it)
//	    56     8  how much the live values stored encoded grow when
//	              decoded, in total (Stats.LogicalLiveBytes)
//	    64     8  the same for the stale ones (Stats.LogicalStaleBytes)
//	    72     8  the number of live values stored encoded
//	    80     4  CRC-32C of the entries
//	    84     4  CRC-32C of bytes 0..83
//	    88     …  entries, one per live record that expires: {record
//	              offset uint64, expiry int64 (Unix ns), record size
//	              uint32, decoded minus stored size of its value int32
//	              (0: raw)}
//
// The sidecar is written (to a temporary file, synced, renamed) and put in
// place before its hint, and a hint is used only beside a sidecar that
// names the same log and length: a crash between the two renames, or a
// sidecar that is missing or damaged, costs a full replay, never a wrong
// expiry. (Treating a missing sidecar as an empty table would be cheaper
// for a store without expiring keys, but would let a sidecar lost or
// left behind turn expiring keys into permanent ones.)
const (
	expHintSuffix  = ".exp"
	expHintTemp    = "wal.hint.exp.tmp"
	expHintMagic   = "CRABKVEX"
	expHintVersion = 1
	expHintHeader  = 88
	expHintEntry   = 24
)

var errExpHint = errors.New("kv: expiry sidecar does not match its hint")

// saveExpiries writes the sidecar of the hint file name, for the table of
// c, which describes the first c.size bytes of the log with ID id.
func (db *DB) saveExpiries(c counters, id [16]byte, name string) error {
	tmp := filepath.Join(db.dir, expHintTemp)
	err := db.writeExpiries(db.encodeExpiries(c, id), tmp)
	if err == nil {
		err = db.fs.Rename(tmp, filepath.Join(db.dir, name+expHintSuffix))
	}
	if err != nil {
		_ = db.fs.Remove(tmp) // the next Open removes it too
		return fmt.Errorf("kv: write expiry sidecar: %w", err)
	}
	return nil
}

// encodeExpiries returns the sidecar of the table of c, which describes
// the first c.size bytes of the log with ID id. The caller holds the DB's
// mu, shared or exclusive, or owns c.
func (db *DB) encodeExpiries(c counters, id [16]byte) []byte {
	n := 0
	var growth, staleGrowth, encoded int64
	if c.exp != nil {
		n, growth, staleGrowth, encoded = len(c.exp.byOff), c.exp.growth, c.exp.staleGrowth, int64(c.exp.encoded)
	}
	b := make([]byte, expHintHeader, expHintHeader+n*expHintEntry)
	if n > 0 {
		for off, x := range c.exp.byOff {
			b = binary.LittleEndian.AppendUint64(b, off)
			b = binary.LittleEndian.AppendUint64(b, uint64(x.at))
			b = binary.LittleEndian.AppendUint32(b, x.size)
			b = binary.LittleEndian.AppendUint32(b, uint32(x.grow))
		}
	}
	le := binary.LittleEndian
	copy(b, expHintMagic)
	le.PutUint16(b[8:], expHintVersion)
	le.PutUint32(b[12:], expHintEntry)
	le.PutUint64(b[16:], uint64(n))
	le.PutUint64(b[24:], uint64(c.size))
	copy(b[32:48], id[:])
	le.PutUint64(b[48:], uint64(db.now()))
	le.PutUint64(b[56:], uint64(growth))
	le.PutUint64(b[64:], uint64(staleGrowth))
	le.PutUint64(b[72:], uint64(encoded))
	le.PutUint32(b[80:], walfmt.Checksum(b[expHintHeader:]))
	le.PutUint32(b[84:], walfmt.Checksum(b[:84]))
	return b
}

// writeExpiries writes the sidecar b to the file path, and syncs it.
func (db *DB) writeExpiries(b []byte, path string) error {
	f, err := db.fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(b, 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// openExpHint opens wal.hint's sidecar and reads its header, checked as
// far as any reader of it needs: magic, checksum, version, and the ID of
// the log with ID id. The caller closes f.
func (db *DB) openExpHint(id [16]byte) (f File, head []byte, err error) {
	f, err = db.fs.OpenFile(filepath.Join(db.dir, hintName+expHintSuffix), os.O_RDONLY, 0)
	if err != nil {
		return nil, nil, err
	}
	head = make([]byte, expHintHeader)
	if _, err = f.ReadAt(head, 0); err == nil && (string(head[:8]) != expHintMagic ||
		binary.LittleEndian.Uint32(head[84:]) != walfmt.Checksum(head[:84]) ||
		binary.LittleEndian.Uint16(head[8:]) != expHintVersion || string(head[32:48]) != string(id[:])) {
		err = errExpHint
	}
	if err != nil {
		_ = f.Close() // read-only
		return nil, nil, err
	}
	return f, head, nil
}

// headFloor is the expiry floor a sidecar's header sets (see expiryFloor):
// the instant it was written, below the log bytes it covers.
func headFloor(head []byte) expiryFloor {
	return expiryFloor{at: int64(binary.LittleEndian.Uint64(head[48:])), end: binary.LittleEndian.Uint64(head[24:])}
}

// expiryFloorOf reads the expiry floor (see expiryFloor) from the header of
// wal.hint's sidecar, if it describes the log with ID id: for a replay
// without the hint, when the hint could not be read, so that a key found
// expired stays so. The zero floor, if the header is missing, damaged, or
// of another log, or the log has no ID.
func (db *DB) expiryFloorOf(id [16]byte) expiryFloor {
	if id == ([16]byte{}) {
		return expiryFloor{} // a version 1 log: no ID ties a sidecar to it
	}
	f, head, err := db.openExpHint(id)
	if err != nil {
		return expiryFloor{}
	}
	_ = f.Close() // read-only
	return headFloor(head)
}

// loadExpiries reads the sidecar of wal.hint and returns its table if it
// describes the first covered bytes of the log with ID id, with the floor
// the sidecar sets (see expiryFloor). maxKeys bounds
// the entries, so a damaged count never sizes an allocation.
func (db *DB) loadExpiries(id [16]byte, covered int64, maxKeys uint64) (*expiries, error) {
	f, head, err := db.openExpHint(id)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only
	le := binary.LittleEndian
	n := le.Uint64(head[16:])
	if le.Uint32(head[12:]) != expHintEntry || int64(le.Uint64(head[24:])) != covered || n > maxKeys {
		return nil, errExpHint
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() != expHintHeader+int64(n)*expHintEntry {
		return nil, errExpHint
	}
	b := make([]byte, int(n)*expHintEntry)
	if _, err := f.ReadAt(b, expHintHeader); err != nil {
		return nil, err
	}
	if walfmt.Checksum(b) != le.Uint32(head[80:]) {
		return nil, errExpHint
	}
	e := newExpiries()
	e.floor = headFloor(head)
	for p := 0; p < len(b); p += expHintEntry {
		off, size := le.Uint64(b[p:]), le.Uint32(b[p+16:])
		m := recMeta{expiry: int64(le.Uint64(b[p+8:])), grow: int32(le.Uint32(b[p+20:]))}
		if off < walfmt.HeaderSize || int64(off) >= covered || m.expiry == 0 {
			return nil, errExpHint
		}
		e.add(off, m, int(size))
	}
	// The totals cover the encoded values without an entry too.
	e.growth, e.staleGrowth = int64(le.Uint64(head[56:])), int64(le.Uint64(head[64:]))
	e.encoded = int(le.Uint64(head[72:]))
	return e, nil
}

// installExpiries puts a compaction's sidecar in place, before its hint:
// a crash between the two renames leaves the old hint, if any, beside a
// sidecar of another log, and a failure leaves the new hint beside one.
// Either costs the next Open a replay, nothing more.
func (db *DB) installExpiries() {
	_ = db.fs.Rename(filepath.Join(db.dir, hintNextName+expHintSuffix), filepath.Join(db.dir, hintName+expHintSuffix))
}
