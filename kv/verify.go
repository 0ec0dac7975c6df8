package kv

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/crabkv/crabkv/walfmt"
)

// Span is a stretch of a log that holds no valid record: the bytes a
// damaged record and whatever follows it up to the next valid record (or the
// end of the log) occupy.
type Span struct {
	// Offset is where the span starts: the offset of the first invalid
	// record.
	Offset int64
	// Length is the span's size in bytes.
	Length int64
	// Reason says why the record at Offset is invalid.
	Reason string
	// Torn is true for a torn tail: nothing valid follows the span, or
	// only records that all end within walfmt.SyncWindow bytes of its
	// start, which a crash during a group commit can leave and which are
	// part of the span. Open cuts a torn tail by itself; any other span
	// stops Open.
	Torn bool
}

// VerifyReport is what Verify found in a log.
type VerifyReport struct {
	// Path is the log's path.
	Path string
	// LogBytes is the log's size.
	LogBytes int64
	// Records counts the valid records, a batch as one. Puts and Deletes
	// count the puts and deletes, those inside batches included; Batches
	// counts the batch records.
	Records, Puts, Deletes, Batches int
	// Keys is the number of live keys the valid records leave, replayed in
	// order (skipping damaged spans, as Repair would). Verify reads no
	// clock: a key whose record has expired counts, and its bytes are
	// live, where Stats leaves it out. Expiring is how many of them carry
	// an expiry, passed or not.
	Keys, Expiring int
	// LiveBytes and StaleBytes split the valid records' bytes as Stats does.
	LiveBytes, StaleBytes int64
	// TornBytes is the size of a torn tail, the part of the log Open would
	// cut (valid records within it included, and not counted in Records);
	// zero when the log ends cleanly.
	TornBytes int64
	// FirstBad is the offset of the first invalid record, or -1 when every
	// record is valid. A torn tail counts.
	FirstBad int64
	// Damage lists every span without a valid record, in log order; a torn
	// tail, if any, is the last.
	Damage []Span
	// Encoded counts the values stored encoded (see Codec), each of which
	// Verify decodes. BadValues lists those of valid records that do not
	// decode, or whose codec this program does not know: Get of their
	// keys fails.
	Encoded   int
	BadValues []BadValue
}

// BadValue is a valid record whose value does not decode.
type BadValue struct {
	// Offset is the record's offset in the log.
	Offset int64
	// Reason says why it does not decode, naming the codec.
	Reason string
}

// checkValue decodes rec's value if it is stored encoded.
func (r *VerifyReport) checkValue(rec walfmt.Record) {
	if rec.Kind != walfmt.KindPut || rec.Codec == 0 {
		return
	}
	r.Encoded++
	if _, err := decodeValue(nil, rec.Codec, rec.Value); err != nil {
		reason := err.Error()
		var ce *walfmt.CorruptionError
		if errors.As(err, &ce) {
			reason = ce.Reason
		}
		r.BadValues = append(r.BadValues, BadValue{Offset: rec.Offset, Reason: reason})
	}
}

// Clean reports whether every byte of the log belongs to a valid record.
func (r *VerifyReport) Clean() bool { return len(r.Damage) == 0 }

// Corrupt reports whether the log has damage that Open refuses: a span
// other than a torn tail. Such a log needs Repair.
func (r *VerifyReport) Corrupt() bool {
	for _, s := range r.Damage {
		if !s.Torn {
			return true
		}
	}
	return false
}

// Verify checks every record of the log in dir against its checksum without
// changing anything, and reports the records, the live keys, the stale bytes,
// a torn tail and every damaged span. Damage is reported, not returned as
// an error: the error is for what stops the walk — the directory is locked by
// a writer (ErrLocked), the log is missing, is not a CrabKv log
// (walfmt.ErrForeignFile), has a format version this build does not read
// (walfmt.ErrVersion), or cannot be read.
//
// Verify takes no lock, like a ReadOnly Open: it runs beside readers and
// beside a writer, and checks the log as it stands when it reads it. Beside
// a writer, a torn tail may be a record still being written; LockHolder
// tells whether one has the store open.
func Verify(dir string) (VerifyReport, error) {
	return VerifyFS(DefaultFS(), dir)
}

// VerifyFS is Verify on the file system fsys.
func VerifyFS(fsys FS, dir string) (VerifyReport, error) {
	if err := checkDir(fsys, dir); err != nil {
		return VerifyReport{FirstBad: -1}, err
	}
	path := filepath.Join(dir, logName)
	f, err := reopenShared(fsys, path, os.O_RDONLY) // a writer's compaction cuts no log it reads
	if err != nil {
		return VerifyReport{Path: path, FirstBad: -1}, fmt.Errorf("kv: verify: %w", err)
	}
	defer func() { _ = f.Close() }() // read-only
	// The values stored with ZstdDict decode with the store's dictionaries.
	zd, err := zdicts.register(fsys, dir)
	if err != nil {
		return VerifyReport{Path: path, FirstBad: -1}, fmt.Errorf("kv: verify: %w", err)
	}
	defer zdicts.release(zd)
	rep, err := scanLog(f, path, nil)
	for tries := 1; errors.Is(err, io.ErrUnexpectedEOF) && tries < followOpenTries; tries++ {
		// A read came up short of the size the scan found the log at
		// when it began: a writer beside it cut the log meanwhile (its
		// Close trims the space it reserved past its records, its Open
		// a torn tail). Read it again, to its new end.
		rep, err = scanLog(f, path, nil)
	}
	if err != nil {
		return rep, fmt.Errorf("kv: verify: %w", err)
	}
	return rep, nil
}

// lockDir takes the directory's lock, shared or exclusive, after checking
// that dir is a directory.
func lockDir(fsys FS, dir string, shared bool) (io.Closer, error) {
	if err := checkDir(fsys, dir); err != nil {
		return nil, err
	}
	lock, err := fsys.Lock(filepath.Join(dir, lockName), shared)
	if errors.Is(err, ErrLocked) {
		return nil, newLockedError(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("kv: lock %s: %w", dir, err)
	}
	return lock, nil
}

// scanLog walks the log f of the given path from its header to its end,
// replaying every valid record into a fresh index and resynchronising after
// each damaged span. keep, when not nil, is called with each valid record in
// order: it is how Repair copies them.
func scanLog(f File, path string, keep func(walfmt.Record) error) (VerifyReport, error) {
	rep := VerifyReport{Path: path, FirstBad: -1}
	fi, err := f.Stat()
	if err != nil {
		return rep, err
	}
	rep.LogBytes = fi.Size()
	hdr, _ := readLogHeader(f, rep.LogBytes) // the reader reports a bad one
	idx := newIndex(0, hdr)
	m := mapLog(f, rep.LogBytes, false)
	defer func() { _ = m.unmap() }() // the scan is over; a failed unmap costs only address space
	src := &logView{f: f, m: m, end: rep.LogBytes, path: path}
	c := counters{size: hdr.Size()}
	r := walfmt.NewReader(f, rep.LogBytes, path)
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			// The window Open uses: the one the log's header records.
			err = tornWithin(r, err, int64(hdr.SyncWindow))
		}
		var ce *walfmt.CorruptionError
		if errors.As(err, &ce) {
			done, err := rep.addDamage(r, ce)
			if err != nil {
				return rep, err
			}
			if done {
				break
			}
			continue
		}
		if err != nil {
			return rep, err
		}
		if keep != nil {
			if err := keep(rec); err != nil {
				return rep, err
			}
		}
		rep.count(rec)
		if err := c.applyRecord(idx, src, rec); err != nil {
			return rep, err
		}
	}
	rep.Keys, rep.LiveBytes, rep.StaleBytes = idx.count, c.live, c.stale
	rep.Expiring = c.exp.len()
	return rep, nil
}

// tornWithin returns err, which r's Next returned, as a torn tail when it
// reports damage that a crash during synced appends can have left: valid
// records follow it, but all of them end within window bytes of its start,
// the most a writer leaves unsynced. Other errors are returned unchanged.
// Open, Verify and Repair all read a log through it, so they agree on where
// a log ends.
func tornWithin(r *walfmt.Reader, err error, window int64) error {
	var ce *walfmt.CorruptionError
	if !errors.As(err, &ce) || ce.Torn || ce.Offset < walfmt.HeaderSize {
		return err // damage in the header is never a crash's: it is synced first
	}
	far, ferr := r.ValidPast(ce.Offset + window)
	if ferr != nil {
		return ferr
	}
	if far {
		return err
	}
	torn := *ce
	torn.Torn = true
	return &torn
}

// count tallies one valid record, and the operations of a batch.
func (rep *VerifyReport) count(rec walfmt.Record) {
	rep.Records++
	switch rec.Kind {
	case walfmt.KindPut:
		rep.Puts++
		rep.checkValue(rec)
	case walfmt.KindDelete:
		rep.Deletes++
	case walfmt.KindBatch:
		rep.Batches++
		// The reader checked the batch: its operations decode.
		_ = walfmt.ForEachOp(rec, func(op walfmt.Record) error {
			rep.count(op)
			rep.Records--
			return nil
		})
	}
}

// addDamage records the span that starts at the invalid record ce describes
// and moves r to the next valid record. It reports done when nothing valid
// follows: the span is then a torn tail, unless it starts in the header.
func (rep *VerifyReport) addDamage(r *walfmt.Reader, ce *walfmt.CorruptionError) (done bool, err error) {
	if rep.FirstBad < 0 {
		rep.FirstBad = ce.Offset
	}
	// Damage in the header is never a crash's (it is synced before any
	// record), whether or not a record follows it.
	span := Span{Offset: ce.Offset, Length: rep.LogBytes - ce.Offset, Reason: ce.Reason, Torn: ce.Torn || ce.Offset >= walfmt.HeaderSize}
	done = true // nothing valid follows
	if !ce.Torn {
		next, ok, err := r.Resync()
		if err != nil {
			return true, err
		}
		if ok {
			span.Length, span.Torn, done = next-ce.Offset, false, false
		}
	}
	rep.Damage = append(rep.Damage, span)
	if span.Torn {
		rep.TornBytes = span.Length
	}
	return done, nil
}
