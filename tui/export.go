package tui

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/crabkv/crabkv/internal/ndjson"
	"github.com/crabkv/crabkv/kv"
)

// x writes the marked keys, or with none marked the keys the filter
// shows, with their values to a file, in the lines crabkv export writes
// (package ndjson), so that crabkv import loads them back byte for byte.

// defaultExportName is the file the export prompt offers, in
// Config.ExportDir.
const defaultExportName = "crabkv-export.ndjson"

// startExport opens the prompt for the file to export the marked keys
// to, or with none marked, every key the filter shows.
func (m *Model) startExport() tea.Cmd {
	if keys := m.list.Marked(); len(keys) > 0 {
		return m.openExport(keys, markedWhat(len(keys)))
	}
	return m.withShown(shownExport)
}

// openExport opens the prompt for the file to export keys to; what names
// them in the prompt.
func (m *Model) openExport(keys []string, what string) tea.Cmd {
	if len(keys) == 0 {
		m.status = infoStatus("no keys to export")
		return nil
	}
	in := textinput.New()
	in.Prompt = "export " + what + " to: "
	in.PromptStyle = m.common.Styles.Confirm
	in.CharLimit = 4096
	in.Width = max(m.width-lipgloss.Width(in.Prompt)-1, 10)
	in.SetValue(filepath.Join(m.cfg.ExportDir, defaultExportName))
	cmd := in.Focus()
	m.exportKeys, m.exportInput, m.state = keys, in, stateExportPath
	return cmd
}

// updateExportPath edits the path; enter starts the export, esc gives up.
func (m Model) updateExportPath(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	km := m.common.KeyMap
	switch {
	case key.Matches(msg, km.Cancel):
		m.state, m.exportKeys = stateBrowse, nil
		m.status = infoStatus("export cancelled")
		return m, nil
	case key.Matches(msg, km.Submit):
		path := expandHome(strings.TrimSpace(m.exportInput.Value()))
		if path == "" {
			return m, nil
		}
		m.state, m.exportPath = stateBrowse, path
		m.status = infoStatus(fmt.Sprintf("exporting %s…", countKeys(len(m.exportKeys))))
		return m, exportCmd(m.store, m.exportKeys, path, false)
	}
	var cmd tea.Cmd
	m.exportInput, cmd = m.exportInput.Update(msg)
	return m, cmd
}

// updateConfirmExport answers whether an existing file may be replaced.
func (m Model) updateConfirmExport(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	km := m.common.KeyMap
	switch {
	case key.Matches(msg, km.Yes):
		m.state = stateBrowse
		m.status = infoStatus(fmt.Sprintf("exporting %s…", countKeys(len(m.exportKeys))))
		return m, exportCmd(m.store, m.exportKeys, m.exportPath, true)
	case key.Matches(msg, km.No):
		m.state, m.exportKeys = stateBrowse, nil
		m.status = infoStatus("not exported: " + Escape(m.exportPath) + " is left as it was")
	}
	return m, nil
}

// exportDone reports an export, or asks whether to replace the file.
func (m *Model) exportDone(msg exportDoneMsg) {
	switch {
	case msg.exists:
		m.state, m.exportPath = stateConfirmExport, msg.path
		m.status = askStatus("the file exists; overwrite it? y/n  " + Escape(msg.path))
		return
	case msg.err != nil:
		m.status = errorStatus("export", msg.err)
	default:
		m.status = okStatus(fmt.Sprintf("exported %s to %s", countKeys(msg.n), Escape(msg.path)))
	}
	m.exportKeys = nil
}

// expandHome turns a leading ~/ into the home directory, as a shell would.
func expandHome(path string) string {
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return path
}

// exportDoneMsg reports an export: n keys written to path, or that path
// exists and nothing was written, or why it failed.
type exportDoneMsg struct {
	path   string
	n      int
	exists bool
	err    error
}

// exportCmd writes keys and their values to path. The lines go to a
// temporary file beside it that takes path's name only once it is
// complete and synced, so that a failed export leaves no half file, and
// an existing file is only replaced with overwrite. A path that is a
// symbolic link is written through: the link stays, and its target takes
// the export, with the target's permissions. A key deleted since it was
// listed is left out, as crabkv export does.
func exportCmd(s Store, keys []string, path string, overwrite bool) tea.Cmd {
	return func() tea.Msg {
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		msg := exportDoneMsg{path: path}
		fi, err := os.Lstat(path)
		if err == nil && !overwrite {
			msg.exists = true
			return msg
		}
		var mode os.FileMode // 0: a new file's
		if err == nil {
			if fi.Mode()&os.ModeSymlink != 0 {
				if target, err := filepath.EvalSymlinks(path); err == nil {
					path = target
				}
			}
			if fi, err := os.Stat(path); err == nil {
				mode = fi.Mode().Perm()
			}
		}
		tmp, n, err := writeExport(s, keys, filepath.Dir(path))
		if err == nil && mode != 0 {
			err = os.Chmod(tmp, mode)
		}
		if err == nil {
			err = publishExport(tmp, path, overwrite)
		}
		switch {
		case errors.Is(err, os.ErrExist):
			msg.exists = true
		case err != nil:
			msg.err = err
		}
		if err != nil && tmp != "" {
			_ = os.Remove(tmp) // best effort: a failed export leaves no temporary file if it can
		}
		msg.n = n
		return msg
	}
}

// exportChunk is how many keys' expiries the export asks for at once, and
// exportChunkBytes how many bytes of values it holds at most while it
// checks that their expiries did not change as they were read.
const (
	exportChunk      = 1000
	exportChunkBytes = 8 << 20
)

// exportTries bounds the reads of a key rewritten as it is read (see
// writeExport), and exportSlack is how far apart two reads of an unchanged
// expiry may be where a store gives expiries as times to live (PTTL).
const (
	exportTries = 8
	exportSlack = time.Second
)

// writeExport writes the lines of keys to a new temporary file in dir
// and syncs it; it returns the file's name and how many keys it holds.
//
// A value and its expiry are read apart (a store reads no pair of them at
// once), so each line must pair them as some moment had them. Where the
// store says where a key's record is (a directory: Entry's Offset), the
// record is looked up before the value is read and after: the same record
// both times, the value and the expiry are that record's; else the key is
// read again. Over the network, the expiries of a chunk of keys are read
// before their values and after, one round trip each, and a key whose
// expiry changed in between (SET … EX, EXPIRE) is read again; a key
// rewritten there and back again to the same expiry (or within
// exportSlack of it) between the two reads is not seen.
func writeExport(s Store, keys []string, dir string) (string, int, error) {
	f, err := createExport(dir)
	if err != nil {
		return "", 0, err
	}
	fail := func(n int, err error) (string, int, error) { return f.Name(), n, errors.Join(err, f.Close()) }
	w := bufio.NewWriterSize(f, 1<<20)
	var line []byte
	n := 0
	write := func(k string, v exportValue, at time.Time) {
		if v.gone {
			return // deleted since it was listed
		}
		line = ndjson.AppendPair(line[:0], []byte(k), v.b)
		if !at.IsZero() {
			// An expiry that passed between the reads is still
			// written: crabkv import drops a key whose expiry is past.
			line = ndjson.AppendExpiresAt(line, at)
		}
		// bufio.Writer keeps the first write error: the Flush below reports it.
		_, _ = w.Write(line)
		n++
	}
	if recordsKnown(s, keys) {
		for _, k := range keys {
			v, at, err := readRecord(s, k)
			if err != nil {
				return fail(n, err)
			}
			write(k, v, at)
		}
	} else {
		var values []exportValue // a chunk's
		for i := 0; i < len(keys); {
			before, err := s.Expiries(keys[i:min(i+exportChunk, len(keys))])
			if err != nil {
				return fail(n, fmt.Errorf("read expiries: %w", err))
			}
			values = values[:0]
			held := 0
			for end := i; end < i+len(before) && (end == i || held < exportChunkBytes); end++ {
				v, err := readValue(s, keys[end])
				if err != nil {
					return fail(n, err)
				}
				values = append(values, v)
				held += len(v.b)
			}
			chunk := keys[i : i+len(values)]
			after, err := s.Expiries(chunk)
			if err != nil {
				return fail(n, fmt.Errorf("read expiries: %w", err))
			}
			for j, k := range chunk {
				v, at := values[j], after[j]
				for try := 0; !sameExpiry(before[j], at); try++ {
					if try == exportTries {
						return fail(n, errRewritten(k))
					}
					before[j] = at
					if v, err = readValue(s, k); err != nil {
						return fail(n, err)
					}
					again, err := s.Expiries([]string{k})
					if err != nil {
						return fail(n, fmt.Errorf("read expiries: %w", err))
					}
					at = again[0]
				}
				write(k, v, at)
			}
			clear(values)
			i += len(chunk)
		}
	}
	err = w.Flush()
	if err == nil {
		err = f.Sync()
	}
	return f.Name(), n, errors.Join(err, f.Close())
}

// recordsKnown reports whether s says where a key's record is (Entry's
// Offset), as a store on a directory does: it asks about keys in turn,
// past those gone since they were listed, until one is there. Any other
// error is an answer too, no, and the export's next read reports it (a
// server that stopped answering is asked once, not once a key).
func recordsKnown(s Store, keys []string) bool {
	for _, k := range keys {
		info, err := s.Entry(k)
		if !errors.Is(err, kv.ErrNotFound) {
			return err == nil && info.Offset >= 0
		}
	}
	return false
}

// errRewritten is the export's error for a key rewritten every time it was
// read (exportTries times): no line would pair its value with its expiry.
func errRewritten(key string) error {
	return fmt.Errorf("%s was rewritten each of the %d times it was read: export again", Escape(key), exportTries)
}

// readRecord reads key's value and the expiry of the same record: it looks
// the record up before the value is read and after, until both name the
// same record; after exportTries reads that do not, it gives up with an
// error.
func readRecord(s Store, key string) (exportValue, time.Time, error) {
	var v exportValue
	var at time.Time
	for range exportTries {
		before, err := s.Entry(key)
		if errors.Is(err, kv.ErrNotFound) {
			return exportValue{gone: true}, time.Time{}, nil
		}
		if err != nil {
			return v, at, fmt.Errorf("read %s: %w", Escape(key), err)
		}
		if v, err = readValue(s, key); err != nil {
			return v, at, err
		}
		after, err := s.Entry(key)
		if errors.Is(err, kv.ErrNotFound) {
			return exportValue{gone: true}, time.Time{}, nil
		}
		if err != nil {
			return v, at, fmt.Errorf("read %s: %w", Escape(key), err)
		}
		at = after.Expires
		if before.Offset == after.Offset && !v.gone {
			return v, at, nil
		}
	}
	return v, at, errRewritten(key)
}

// readValue reads key's value, or that it is gone.
func readValue(s Store, key string) (exportValue, error) {
	b, err := s.Get(key)
	switch {
	case errors.Is(err, kv.ErrNotFound):
		return exportValue{gone: true}, nil
	case err != nil:
		return exportValue{}, fmt.Errorf("read %s: %w", Escape(key), err)
	}
	return exportValue{b: b}, nil
}

// sameExpiry reports whether two reads of an expiry found it unchanged:
// within exportSlack, as a time to live read twice drifts.
func sameExpiry(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() == b.IsZero()
	}
	return a.Sub(b).Abs() <= exportSlack
}

// exportValue is a value as the export read it: its bytes, or gone for a
// key deleted since it was listed.
type exportValue struct {
	b    []byte
	gone bool
}

// createExport creates a new, empty temporary file in dir, with the mode
// a new file gets (0666 less the umask; os.CreateTemp's is 0600).
func createExport(dir string) (*os.File, error) {
	for range 100 {
		name := filepath.Join(dir, fmt.Sprintf(".crabkv-export-%d", rand.Uint64()))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, os.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("create a temporary file in %s: too many names taken", dir)
}

// publishExport gives the finished file tmp its name path. Without
// overwrite it links, which fails if path has appeared meanwhile, rather
// than renames, which would replace it.
func publishExport(tmp, path string, overwrite bool) error {
	if overwrite {
		return os.Rename(tmp, path)
	}
	err := os.Link(tmp, path)
	switch {
	case err == nil:
		return os.Remove(tmp)
	case errors.Is(err, os.ErrExist):
		return err
	}
	// A file system without hard links: the check made before writing
	// stands.
	return os.Rename(tmp, path)
}
