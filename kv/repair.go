package kv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/crabkv/crabkv/walfmt"
)

// repairName is the temporary file Repair writes the salvaged log into
// before it replaces wal.log.
const repairName = "wal.log.repair"

// brokenPrefix starts the name of the copy of a damaged log that Repair
// keeps: wal.log.broken-<UTC timestamp>.
const brokenPrefix = logName + ".broken-"

// RepairReport is what Repair did.
type RepairReport struct {
	// Path is the log's path.
	Path string
	// Backup is the path of the untouched copy of the damaged log, or ""
	// when the log was clean and Repair changed nothing.
	Backup string
	// OldBytes and NewBytes are the log's size before and after.
	OldBytes, NewBytes int64
	// Salvaged counts the valid records copied into the new log.
	Salvaged int
	// Keys is the number of live keys in the new log.
	Keys int
	// Lost lists the spans that were dropped, in log order.
	Lost []Span
	// LostBytes is the total size of the lost spans.
	LostBytes int64
}

// Repaired reports whether Repair replaced the log.
func (r *RepairReport) Repaired() bool { return r.Backup != "" }

// Repair salvages the valid records of a damaged log in dir. It copies every
// valid record, in order and byte for byte, into a new log, skipping each
// damaged span and resynchronising on the next valid record, and reports the
// offset and size of every span it dropped. A torn tail is dropped whole,
// as Open would cut it, even where it holds valid records a crash left
// after the damage (see Span.Torn). A clean log is left alone.
//
// Nothing is changed before the damaged log is safe: it is first copied to
// wal.log.broken-<timestamp> and synced, then the new log is written to a
// temporary file, synced, and renamed over wal.log, and the directory is
// synced. A crash at any moment leaves wal.log either as it was or repaired.
//
// Repair cannot bring back what the damage destroyed. A key whose latest
// record was lost reverts to its previous value, and a key whose tombstone
// was lost reappears, so check the reported spans against what the
// application expects. Repair takes the directory's lock exclusively and
// fails with ErrLocked while any other process has the store open. It
// refuses a log that is not a CrabKv log or has a newer format version.
func Repair(dir string) (RepairReport, error) {
	return RepairFS(DefaultFS(), dir)
}

// RepairFS is Repair on the file system fsys.
func RepairFS(fsys FS, dir string) (RepairReport, error) {
	return repairAt(fsys, dir, time.Now())
}

// repairAt is Repair with the time that names the backup.
func repairAt(fsys FS, dir string, now time.Time) (RepairReport, error) {
	lock, err := lockDir(fsys, dir, false)
	if err != nil {
		return RepairReport{}, err
	}
	// Releasing the lock cannot undo the repair, whose result is reported.
	defer func() { _ = lock.Close() }()
	rp := &repairer{fs: fsys, dir: dir, path: filepath.Join(dir, logName)}
	rep, err := rp.run(now)
	if err != nil {
		return rep, fmt.Errorf("kv: repair %s: %w", rp.path, err)
	}
	return rep, nil
}

// repairer holds what one Repair works on.
type repairer struct {
	fs   FS
	dir  string
	path string
}

func (rp *repairer) run(now time.Time) (RepairReport, error) {
	rep := RepairReport{Path: rp.path}
	src, err := rp.fs.OpenFile(rp.path, os.O_RDONLY, 0)
	if err != nil {
		return rep, err
	}
	defer func() { _ = src.Close() }() // read-only
	// A dry run first: a clean log is left alone, and a foreign file or a
	// newer version is refused before anything is written.
	vr, err := scanLog(src, rp.path, nil)
	rep.OldBytes, rep.NewBytes, rep.Salvaged, rep.Keys = vr.LogBytes, vr.LogBytes, vr.Records, vr.Keys
	if err != nil || vr.Clean() {
		return rep, err
	}
	if rep.Backup, err = rp.backup(src, vr.LogBytes, now); err != nil {
		return rep, err
	}
	vr, err = rp.salvage(src)
	if err != nil {
		return rep, err
	}
	rep.Salvaged, rep.Keys, rep.Lost = vr.Records, vr.Keys, vr.Damage
	rep.NewBytes = walfmt.HeaderSize + vr.LiveBytes + vr.StaleBytes
	for _, s := range vr.Damage {
		rep.LostBytes += s.Length
	}
	// Close the damaged log before replacing it: Windows cannot rename over
	// an open file.
	if err := src.Close(); err != nil {
		return rep, err
	}
	return rep, rp.install()
}

// backup copies the first size bytes of src to a new wal.log.broken-<now>
// and makes the copy and its name durable before anything else changes.
func (rp *repairer) backup(src File, size int64, now time.Time) (string, error) {
	dst, name, err := rp.createBackup(now)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(io.NewOffsetWriter(dst, 0), io.NewSectionReader(src, 0, size))
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = rp.fs.SyncDir(rp.dir)
	}
	if err != nil {
		return "", fmt.Errorf("keep a copy of the damaged log: %w", err)
	}
	return name, nil
}

// createBackup creates the backup file, never overwriting an earlier one.
func (rp *repairer) createBackup(now time.Time) (File, string, error) {
	base := filepath.Join(rp.dir, brokenPrefix+now.UTC().Format("20060102T150405Z"))
	name := base
	for i := 1; ; i++ {
		f, err := rp.fs.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if !errors.Is(err, fs.ErrExist) || i > 100 {
			return f, name, err
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
}

// salvage writes the valid records of src into a fresh temporary log and
// syncs it.
func (rp *repairer) salvage(src File) (VerifyReport, error) {
	tmpPath := filepath.Join(rp.dir, repairName)
	tmp, err := rp.fs.OpenFile(tmpPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return VerifyReport{}, err
	}
	w := bufio.NewWriterSize(io.NewOffsetWriter(tmp, 0), 256<<10)
	_, err = w.Write(walfmt.AppendHeader(nil))
	var vr VerifyReport
	if err == nil {
		vr, err = scanLog(src, rp.path, func(rec walfmt.Record) error {
			_, err := w.Write(rec.Raw)
			return err
		})
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if rerr := rp.fs.Remove(tmpPath); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
		return vr, fmt.Errorf("write salvaged log: %w", err)
	}
	return vr, nil
}

// install renames the salvaged log over wal.log and syncs the directory so
// the rename survives a crash.
func (rp *repairer) install() error {
	// The index hint describes the damaged log: drop it first, so that no
	// Open ever pairs it with the new one.
	if err := rp.fs.Remove(filepath.Join(rp.dir, hintName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the index hint: %w", err)
	}
	if err := rp.fs.Rename(filepath.Join(rp.dir, repairName), rp.path); err != nil {
		return err
	}
	if err := rp.fs.SyncDir(rp.dir); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}
