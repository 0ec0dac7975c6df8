package tui

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/crabkv/crabkv/internal/escape"
	"github.com/crabkv/crabkv/kv"
)

// updateKey routes a key press by state.
func (m Model) updateKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	km := m.common.KeyMap
	if key.Matches(msg, km.ForceQuit) {
		return m, tea.Quit
	}
	switch m.state {
	case stateHelp:
		m.updateHelp(msg)
		return m, nil
	case stateConfirmDelete:
		return m.updateConfirm(msg)
	case stateConfirmOverwrite:
		return m.updateConfirmOverwrite(msg)
	case stateForm:
		return m.updateForm(msg)
	case stateExportPath:
		return m.updateExportPath(msg)
	case stateConfirmExport:
		return m.updateConfirmExport(msg)
	case stateTree:
		return m.updateTree(msg)
	case stateHistory:
		return m.updateHistory(msg)
	case stateConfirmRestore:
		return m.updateConfirmRestore(msg)
	}
	if tm, cmd, ok := m.findKey(msg); ok {
		return tm, cmd
	}
	if m.list.Filtering() {
		return m.updateList(msg)
	}
	return m.updateBrowse(msg)
}

func (m Model) updateBrowse(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	km := m.common.KeyMap
	if m.writerPID != 0 && key.Matches(msg, km.New, km.Edit, km.EditExternal, km.Delete, km.DeleteShown, km.Compact) {
		m.status = infoStatus(fmt.Sprintf("%s: read-only while %s has the store open for writing; close it to write here",
			msg.String(), m.writerLabel()))
		return m, nil
	}
	switch {
	case key.Matches(msg, km.Quit):
		return m, tea.Quit
	case key.Matches(msg, km.Help):
		m.state, m.helpOffset = stateHelp, 0
	case key.Matches(msg, km.CopyKey):
		return m, m.startCopy(false)
	case key.Matches(msg, km.CopyValue):
		return m, m.startCopy(true)
	case key.Matches(msg, km.Focus):
		m.focus = 1 - m.focus
	case key.Matches(msg, km.CycleView):
		cmd := m.viewer.CycleMode()
		m.status = infoStatus("view: " + m.viewer.Mode().String())
		return m, cmd
	case key.Matches(msg, km.Reload):
		m.status = infoStatus("reloaded")
		return m, tea.Batch(m.reloadKeys(), m.refreshSizes(), statsCmd(m.store))
	case key.Matches(msg, km.New):
		return m.openForm(NewKeyForm(m.common))
	case key.Matches(msg, km.Edit):
		return m.startEdit()
	case key.Matches(msg, km.EditExternal):
		return m, m.startExternalEdit()
	case key.Matches(msg, km.Delete):
		m.askDelete()
	case key.Matches(msg, km.DeleteShown):
		return m, m.askDeleteShown()
	case key.Matches(msg, km.Compact):
		return m, m.startCompact()
	case key.Matches(msg, km.Mark):
		m.list.ToggleMark()
		return m, m.syncSelection(false)
	case key.Matches(msg, km.MarkShown):
		return m, m.withShown(shownMark)
	case key.Matches(msg, km.ClearMarks):
		m.list.ClearMarks()
		m.status = infoStatus("marks cleared")
	case key.Matches(msg, km.Export):
		return m, m.startExport()
	case key.Matches(msg, km.Tree):
		return m.openTree()
	case key.Matches(msg, km.History):
		return m.openHistory()
	case key.Matches(msg, km.ReadOnlyWrite):
		m.status = errorStatus(msg.String(), kv.ErrReadOnly)
	case m.focus == paneViewer && !key.Matches(msg, km.Filter, km.ClearFilter):
		var cmd tea.Cmd
		m.viewer, cmd = m.viewer.Update(msg)
		return m, cmd
	default:
		return m.updateList(msg)
	}
	return m, nil
}

// updateHelp scrolls the help screen or closes it.
func (m *Model) updateHelp(msg tea.KeyMsg) {
	km := m.common.KeyMap
	switch {
	case key.Matches(msg, km.Close):
		m.state = stateBrowse
	case key.Matches(msg, km.Down):
		m.helpOffset++
	case key.Matches(msg, km.Up):
		m.helpOffset--
	case key.Matches(msg, km.PageDown):
		m.helpOffset += m.helpRows()
	case key.Matches(msg, km.PageUp):
		m.helpOffset -= m.helpRows()
	case key.Matches(msg, km.Top):
		m.helpOffset = 0
	case key.Matches(msg, km.Bottom):
		m.helpOffset = len(m.helpLines())
	}
	m.helpOffset = min(max(m.helpOffset, 0), max(len(m.helpLines())-m.helpRows(), 0))
}

// updateList hands msg to the key list and follows the selection.
func (m Model) updateList(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	m.list, cmd = m.list.Update(msg)
	return m, tea.Batch(cmd, m.syncSelection(false))
}

// updateMouse scrolls the pane under the pointer.
func (m Model) updateMouse(msg tea.MouseMsg) (tea.Model, tea.Cmd) {
	if m.state != stateBrowse {
		return m, nil
	}
	if msg.X < m.listWidth() {
		return m.updateList(msg)
	}
	var cmd tea.Cmd
	m.viewer, cmd = m.viewer.Update(msg)
	return m, cmd
}

func (m Model) openForm(f Form, cmd tea.Cmd) (tea.Model, tea.Cmd) {
	m.form = f
	m.state = stateForm
	m.overwriteEdit, m.editGone, m.saving = false, false, false
	m.formSeq++
	m.layout()
	m.status = infoStatus("new key: tab moves between key and value")
	if !f.IsNew() {
		m.status = infoStatus("editing " + Escape(f.Key()))
	}
	return m, cmd
}

func (m Model) updateForm(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	var (
		cmd    tea.Cmd
		result FormResult
	)
	m.form, cmd, result = m.form.Update(msg)
	switch result {
	case FormCancel:
		m.state = stateBrowse
		m.status = infoStatus("cancelled")
	case FormSave:
		return m.saveForm()
	}
	return m, cmd
}

// startEdit opens the built-in editor on the selected value when the
// textarea can hold it byte for byte, and $EDITOR otherwise: the textarea
// turns tabs into spaces and CR into LF and drops control characters, so
// such a value would be changed by a save even when nobody edited it.
func (m Model) startEdit() (tea.Model, tea.Cmd) {
	if streamed, size := m.viewer.Streamed(); streamed {
		cmd := m.startExternalEdit()
		m.status = infoStatus(fmt.Sprintf("the value is %s, too large for the built-in editor; editing it in %s…",
			FormatBytes(int64(size)), editorCommand(m.cfg.Getenv)[0]))
		return m, cmd
	}
	value, ok := m.viewer.Value()
	if !ok {
		m.status = infoStatus("no value loaded to edit")
		return m, nil
	}
	reason := inPlaceProblem(value)
	if reason == "" {
		return m.openForm(EditForm(m.common, m.viewer.Key(), string(value), m.viewer.Expires()))
	}
	cmd := m.startExternalEdit()
	m.status = infoStatus(fmt.Sprintf("the value %s; editing it in %s so that no byte changes…",
		reason, editorCommand(m.cfg.Getenv)[0]))
	return m, cmd
}

// inPlaceProblem says why the built-in editor cannot hold value exactly as
// it is, or returns "" when it can.
func inPlaceProblem(value []byte) string {
	if strings.Count(string(value), "\n") >= maxEditLines {
		return fmt.Sprintf("has over %d lines", maxEditLines)
	}
	if longestLine(value) > maxEditLine {
		return "has a line over " + FormatBytes(maxEditLine)
	}
	for i := 0; i < len(value); {
		r, size := utf8.DecodeRune(value[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return "is not valid UTF-8"
		case r == utf8.RuneError:
			return "holds U+FFFD"
		case r == '\t':
			return "holds tabs"
		case r == '\r':
			return "holds carriage returns"
		case r == '\n':
		case unicode.IsControl(r):
			return "holds control characters"
		case escape.NeedsEscape(r):
			return "holds " + escape.String(string(r)) + ", which is shown escaped"
		}
		i += size
	}
	return ""
}

// saveForm writes the form's value: a new key only once it is known not
// to overwrite another, an edited value only if it changed.
func (m Model) saveForm() (tea.Model, tea.Cmd) {
	k, value := m.form.Key(), m.form.Value()
	ttl, err := m.form.TTL()
	switch {
	case m.saving:
		m.status = infoStatus("saving…") // the save under way answers first
		return m, nil
	case err != nil:
		m.status = errorStatus("not saved", err)
		return m, nil
	case m.form.IsNew():
		m.status, m.saving = infoStatus("saving…"), true
		m.asked.key, m.asked.value, m.asked.ttl = k, value, ttl
		return m, formSave(m.formSeq, createCmd(m.store, k, []byte(value), ttl))
	case !m.form.Changed():
		m.state = stateBrowse
		m.layout()
		m.status = infoStatus("unchanged: " + Escape(k))
		return m, nil
	}
	if m.overwriteEdit && m.editGone && ttl == KeepTTL && m.form.HadExpiry() {
		// Written again with the expiry "kept", a key that expired
		// would come back never to expire: the user says which.
		m.status = status{kind: statusError, text: "not saved: " + Escape(k) +
			" had an expiry; give it one in the TTL field (tab), or 0 for none, to create it again"}
		return m, nil
	}
	m.status, m.saving = infoStatus("saving…"), true
	if m.overwriteEdit {
		if ttl == KeepTTL && !m.editGone {
			// Over the value that changed, with its expiry: not over
			// nothing, should the key have expired meanwhile (the guard
			// above then asks for a TTL).
			ttl = KeepExisting
		}
		return m, formSave(m.formSeq, putCmd(m.store, k, []byte(value), ttl))
	}
	// Written only over the value the edit began from: a change by
	// another writer meanwhile is not overwritten unasked.
	return m, formSave(m.formSeq, replaceCmd(m.store, k, []byte(m.form.Original()), []byte(value), ttl))
}

// askOverwrite asks whether a new key may replace the value of an
// existing one; the form stays behind the question.
func (m *Model) askOverwrite(k string) {
	m.state = stateConfirmOverwrite
	m.status = askStatus(Escape(k) + " exists; overwrite it? y/n")
}

func (m Model) updateConfirmOverwrite(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	km := m.common.KeyMap
	switch {
	case key.Matches(msg, km.Yes):
		m.state = stateForm
		m.status, m.saving = infoStatus("saving…"), true
		// The new key replaces the old one whole, expiry included, with
		// what the question was about, whatever the form holds since.
		ttl := m.asked.ttl
		if ttl == KeepTTL {
			ttl = NoTTL
		}
		return m, formSave(m.formSeq, putCmd(m.store, m.asked.key, []byte(m.asked.value), ttl))
	case key.Matches(msg, km.No):
		m.state = stateForm
		m.status = infoStatus("not saved: " + Escape(m.form.Key()) + " exists; change the key or esc")
	}
	return m, nil
}

func (m *Model) startExternalEdit() tea.Cmd {
	if streamed, _ := m.viewer.Streamed(); streamed {
		// The viewer holds one part: the editor gets the whole value,
		// read when asked for.
		m.status = infoStatus("editing in " + editorCommand(m.cfg.Getenv)[0] + "…")
		return prepareStoredEditorCmd(m.store, m.viewer.Key())
	}
	value, ok := m.viewer.Value()
	if !ok {
		m.status = infoStatus("no value loaded to edit")
		return nil
	}
	m.status = infoStatus("editing in " + editorCommand(m.cfg.Getenv)[0] + "…")
	return prepareEditorCmd(m.viewer.Key(), value)
}

func (m *Model) editorReady(msg editorReadyMsg) tea.Cmd {
	if msg.err != nil {
		m.status = errorStatus("editor", msg.err)
		return nil
	}
	return runEditor(editorCommand(m.cfg.Getenv), msg)
}

func (m *Model) askDelete() {
	sel, ok := m.selected()
	if !ok {
		return
	}
	m.pendingDelete, m.pendingDeleteShown = sel, nil
	m.state = stateConfirmDelete
	m.status = askStatus(fmt.Sprintf("delete %s? y/n", Escape(sel)))
}

// askDeleteShown asks whether to delete the marked keys, or with none
// marked, every key the filter shows.
func (m *Model) askDeleteShown() tea.Cmd {
	if keys := m.list.Marked(); len(keys) > 0 {
		m.askDeleteKeys(keys, "delete the %d marked keys? y/n")
		return nil
	}
	return m.withShown(shownDelete)
}

// askDeleteKeys asks question, which takes the number of keys, about
// deleting keys.
func (m *Model) askDeleteKeys(keys []string, question string) {
	if len(keys) == 0 {
		m.status = infoStatus("no keys to delete")
		return
	}
	m.pendingDelete, m.pendingDeleteShown = "", keys
	m.state = stateConfirmDelete
	m.status = askStatus(fmt.Sprintf(question, len(keys)))
}

func (m Model) updateConfirm(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	km := m.common.KeyMap
	switch {
	case key.Matches(msg, km.Yes) && m.pendingDeleteShown != nil:
		keys := m.pendingDeleteShown
		m.state, m.pendingDeleteShown = stateBrowse, nil
		m.status = infoStatus(fmt.Sprintf("deleting %d keys…", len(keys)))
		return m, deleteKeysCmd(m.store, keys)
	case key.Matches(msg, km.No) && m.pendingDeleteShown != nil:
		m.state, m.pendingDeleteShown = stateBrowse, nil
		m.status = infoStatus("kept them")
	case key.Matches(msg, km.Yes):
		m.state = stateBrowse
		m.status = infoStatus("deleting…")
		return m, deleteCmd(m.store, m.pendingDelete)
	case key.Matches(msg, km.No):
		m.state = stateBrowse
		m.status = infoStatus("kept " + Escape(m.pendingDelete))
	}
	return m, nil
}

func (m *Model) startCompact() tea.Cmd {
	m.compactAsked = true
	m.status = infoStatus("compacting…")
	return compactCmd(m.store)
}

func (m *Model) putDone(msg putDoneMsg) tea.Cmd {
	kept := ""
	if msg.kept != "" {
		kept = "; the edit is kept in " + Escape(msg.kept)
	}
	// The answer is the open form's only if it comes from that form: the
	// user may have left the form it came from, and opened another.
	formOpen := m.state == stateForm || m.state == stateConfirmOverwrite
	ours := formOpen && msg.form != 0 && msg.form == m.formSeq
	if ours {
		m.saving = false
	}
	if formOpen && !ours && !msg.exists && !msg.changed && !msg.gone && msg.err == nil {
		// A save the user left behind succeeded: the form open now is
		// another's, and stays.
		m.status = okStatus("saved " + Escape(msg.key))
		m.list.AddKey(msg.key)
		return statsCmd(m.store)
	}
	switch {
	case msg.exists && ours:
		m.askOverwrite(msg.key)
		return nil
	case msg.exists:
		m.status = status{kind: statusError, text: "not saved: " + Escape(msg.key) + " exists"}
		return nil
	case msg.changed || msg.gone:
		// Nothing was written. A form stays open, and its next save
		// writes; an edit in $EDITOR stays in its file.
		what := " changed since the edit began"
		again := "; ctrl+s overwrites it, esc cancels"
		if msg.gone {
			what = " is gone since the edit began (deleted, or expired)"
			again = "; ctrl+s creates it again, esc cancels"
		}
		if kept != "" || !ours {
			again = kept
		} else {
			m.overwriteEdit, m.editGone = true, msg.gone
		}
		m.status = status{kind: statusError, text: "not saved: " + Escape(msg.key) + what + again}
		return nil
	case msg.err != nil:
		m.status = errorStatus(strings.TrimSpace("save "+Escape(msg.key)), fmt.Errorf("%w%s", msg.err, kept))
		return nil // a form stays open so the input can be fixed
	}
	m.state = stateBrowse
	m.layout()
	verb := "saved "
	if msg.created {
		verb = "created "
	}
	m.status = okStatus(verb + Escape(msg.key))
	m.list.AddKey(msg.key)
	return tea.Batch(m.syncSelection(true), statsCmd(m.store))
}

func (m *Model) deleteDone(msg deleteDoneMsg) tea.Cmd {
	if msg.keys != nil {
		return m.deleteKeysDone(msg)
	}
	if msg.err != nil {
		m.status = errorStatus("delete "+Escape(msg.key), msg.err)
		return nil
	}
	m.status = okStatus("deleted " + Escape(msg.key))
	m.removeKey(msg.key)
	return tea.Batch(m.syncSelection(true), statsCmd(m.store))
}

// deleteKeysDone removes from the list the keys D deleted: those of the
// batches that were written, even when a later one failed.
func (m *Model) deleteKeysDone(msg deleteDoneMsg) tea.Cmd {
	for _, k := range msg.keys[:msg.deleted] {
		m.removeKey(k)
	}
	if msg.err != nil {
		m.status = errorStatus(fmt.Sprintf("delete (%d of %d deleted)", msg.deleted, len(msg.keys)), msg.err)
	} else {
		m.status = okStatus(fmt.Sprintf("deleted %d keys", msg.deleted))
	}
	return tea.Batch(m.syncSelection(true), statsCmd(m.store))
}

func (m *Model) compactDone(msg compactDoneMsg) tea.Cmd {
	switch {
	case msg.err != nil:
		m.status = errorStatus("compact", msg.err)
	case m.compactAsked:
		// No Finished event has arrived (yet); report what the stats say.
		m.status = okStatus(compactionSummary(msg.before, msg.after, msg.took))
	}
	return statsCmd(m.store)
}

// applyEvent shows one compaction event and asks for the next.
func (m *Model) applyEvent(ev kv.CompactionEvent) tea.Cmd {
	g := m.gauge.Stats()
	var cmd tea.Cmd
	switch ev.Kind {
	case kv.CompactionStarted:
		g.Compacting, g.Done, g.Total = true, 0, ev.LogBytes
		m.status = infoStatus(fmt.Sprintf("compacting %s log, %s stale…", FormatBytes(ev.LogBytes), FormatBytes(ev.StaleBytes)))
	case kv.CompactionProgress:
		g.Compacting, g.Done, g.Total = true, ev.Done, ev.Total
	case kv.CompactionFinished:
		g.Compacting = false
		m.compactAsked = false
		m.status = okStatus(compactionSummary(ev.OldSize, ev.NewSize, ev.Duration))
		// Offsets moved; the reload also checks the list against the store.
		cmd = tea.Batch(statsCmd(m.store), m.syncSelection(true), m.reloadKeys())
	case kv.CompactionFailed:
		g.Compacting = false
		m.compactAsked = false
		m.status = errorStatus("compaction failed", ev.Err)
		cmd = statsCmd(m.store)
	}
	m.gauge.SetStats(g)
	return tea.Batch(cmd, waitEventCmd(m.events))
}

func compactionSummary(before, after int64, took time.Duration) string {
	return fmt.Sprintf("compacted %s → %s (reclaimed %s) in %s",
		FormatBytes(before), FormatBytes(after), FormatBytes(before-after), took.Round(time.Millisecond))
}
