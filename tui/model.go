package tui

import (
	"io"
	"os"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/crabkv/crabkv/kv"
)

// state is what the inspector is doing; it decides where key presses go.
type state int

const (
	stateBrowse           state = iota // moving through keys and values
	stateConfirmDelete                 // waiting for y/n
	stateForm                          // creating a key or editing a value
	stateHelp                          // full help shown
	stateConfirmOverwrite              // a new key exists: waiting for y/n, the form behind
	stateExportPath                    // the export prompt asks for a file
	stateConfirmExport                 // the export's file exists: waiting for y/n

	stateTree           // the key tree fills the left pane (tree.go)
	stateHistory        // a key's history fills the main area (history.go)
	stateConfirmRestore // a version to restore: waiting for y/n
)

// pane is which of the two panes movement keys drive.
type pane int

const (
	paneList pane = iota
	paneViewer
)

// Config is how the inspector is opened.
type Config struct {
	// ReadOnly must match how the store was opened; it disables the
	// actions that write.
	ReadOnly bool
	// Getenv reads $VISUAL and $EDITOR; nil means os.Getenv.
	Getenv func(string) string
	// StatusTimeout is how long a status message stays on screen (an error
	// message stays longer); zero means 4 seconds, negative until replaced.
	StatusTimeout time.Duration
	// OpenWriter, when set, opens the store for writing for one action: the
	// store given to New is then a follower (kv.Options.ReadOnly), which
	// locks nobody out while the inspector browses, and each write opens a
	// writer, writes and closes it. Nil means the store given to New takes
	// the writes itself.
	OpenWriter func() (*kv.DB, error)
	// ExportDir is the directory the export prompt offers (x); empty
	// means the working directory.
	ExportDir string
	// Clock tells the time expiries are counted down by; nil means
	// time.Now. Give the store's kv.Options.Clock when it has one.
	Clock func() time.Time
	// Clipboard receives the OSC 52 sequences that copy a key or value to
	// the terminal's clipboard; nil means standard output.
	Clipboard io.Writer
}

// Model is the inspector's root model. It owns the panes and the store's
// event feed, routes messages to the pane that wants them, and turns the
// results of engine commands into state and status lines.
type Model struct {
	store  Store
	cfg    Config
	common *Common

	state  state
	focus  pane
	list   KeyList
	viewer Viewer
	form   Form
	gauge  Gauge
	find   Finder // the value search and size view (findmodel.go)
	help   help.Model
	tree   Tree         // the key tree (t)
	hist   HistoryPanel // a key's versions in the log (h)
	status status
	// statusSeq numbers the status messages; a timer clears the status
	// only if it is still the one the timer was started for.
	statusSeq  int
	helpOffset int // first line of the help screen shown

	events       <-chan kv.CompactionEvent
	cancelEvents func()

	valueSeq int // number of the latest value load; older ones are dropped
	// overwriteEdit is set once a save of the open form found the value
	// changed or gone since the edit began, and said so: the next save
	// writes whatever the store holds then. editGone says it was gone.
	overwriteEdit, editGone bool
	// saving is set while a save of the open form is on its way: another
	// ctrl+s then waits for its answer, rather than racing it.
	saving bool
	// formSeq numbers the forms opened: a save's answer carries the
	// number of the form that sent it, and acts on the open form only if
	// it is that one (the user may have left it, and opened another).
	formSeq int
	// asked is the new key, value and TTL that a save found existing,
	// which the overwrite question is about: y writes them, whatever the
	// form holds since.
	asked struct {
		key, value string
		ttl        time.Duration
	}
	pendingDelete string // key awaiting y/n
	// pendingDeleteShown are the keys D asks to delete, awaiting y/n;
	// nil when the question is about pendingDelete.
	pendingDeleteShown []string
	compactAsked       bool // c was pressed and its Finished event not yet seen

	exportInput textinput.Model // the export prompt's path
	exportKeys  []string        // the keys x is exporting, while it asks and writes
	exportPath  string          // the file an open overwrite question is about

	width, height int

	// writerPID and writerName name another process that has the store
	// open for writing (0: none), from the last figures.
	writerPID  int
	writerName string
	seen       seenStats // the figures the key list was last loaded for
	// liveLoading is set while a reload asked for by a change seen in the
	// figures is under way.
	liveLoading bool
	statsFailed bool // the last figures could not be read
	// cluster is the cluster the store is a node of, from the last
	// figures; nil when it is none.
	cluster *ClusterInfo
	// expiryChecking is set while an expiredCmd is on its way: one at a
	// time, however many ticks pass before its answer.
	expiryChecking bool
	// expiryTicking is set while an expiryTickMsg is on its way: one
	// runs at a time, and only while a key with an expiry is on screen.
	expiryTicking bool
}

// New returns the inspector for db. Call Close when the program has ended
// to stop the compaction feed.
func New(db *kv.DB, cfg Config) Model {
	return NewWithStore(NewDBStore(db, cfg.OpenWriter), cfg)
}

// NewWithStore returns the inspector for s; cfg.OpenWriter is not used.
// Call Close when the program has ended to stop the compaction feed.
func NewWithStore(s Store, cfg Config) Model {
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.Clipboard == nil {
		cfg.Clipboard = os.Stdout
	}
	if cfg.StatusTimeout == 0 {
		cfg.StatusTimeout = defaultStatusTimeout
	}
	c := NewCommon()
	c.KeyMap.SetReadOnly(cfg.ReadOnly)
	if cfg.Clock != nil {
		c.Now = cfg.Clock
	}
	m := Model{
		store: s, cfg: cfg, common: c,
		list: NewKeyList(c), viewer: NewViewer(c), gauge: NewGauge(c), help: help.New(),
		tree: NewTree(c, s), hist: NewHistoryPanel(c), find: NewFinder(c),
	}
	m.viewer.store = s
	m.list.SetSource(s)
	m.help.Styles.ShortKey = c.Styles.PaneTitle
	m.events, m.cancelEvents = s.Subscribe()
	if cfg.ReadOnly {
		m.status = infoStatus("read-only: writing, deleting and compacting are disabled")
	}
	m.setSize(80, 24)
	return m
}

// Close stops the compaction feed, a scan of the key tree and a walk of
// the finder.
func (m Model) Close() {
	m.tree.Close()
	m.find.end()
	if m.cancelEvents != nil {
		m.cancelEvents()
	}
}

// Init loads the keys and figures and starts listening for compactions.
func (m Model) Init() tea.Cmd {
	return tea.Batch(m.reloadKeys(), statsCmd(m.store), statsTick(m.live()), waitEventCmd(m.events))
}

// Update routes msg and starts the timer that clears a new status message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	before := m.status
	tm, cmd := m.route(msg)
	nm := tm.(Model)
	if nm.followList() {
		cmd = tea.Batch(cmd, nm.syncSelection(true))
	}
	if nm.status != before {
		nm.statusSeq++
		cmd = tea.Batch(cmd, expireStatus(nm.statusSeq, nm.status, nm.cfg.StatusTimeout))
	}
	if !nm.expiryTicking && nm.showsExpiry() {
		nm.expiryTicking = true
		cmd = tea.Batch(cmd, expiryTick())
	}
	return nm, cmd
}

// route sends msg where it belongs. Key presses go by state; engine
// results go to the handler for their kind.
func (m Model) route(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.setSize(msg.Width, msg.Height)
		return m, m.syncSelection(false) // more rows may need sizes
	case tea.KeyMsg:
		return m.updateKey(msg)
	case tea.MouseMsg:
		return m.updateMouse(msg)
	case shownKeysMsg:
		cmd = m.shownKeysRead(msg)
		return m, cmd
	case keysLoadedMsg:
		m.liveLoading = false
		if msg.edits != m.list.Edits() { // may predate a write: ask again
			return m, m.reloadKeys()
		}
		sel, _ := m.list.Selected() // the cursor may have moved meanwhile
		cmd = m.list.SetKeys(msg.keys, sel)
		return m, tea.Batch(cmd, m.syncSelection(true))
	case windowMsg, filterChunkMsg:
		m.liveLoading = false // a reload's read, or one after it
		m.list, cmd = m.list.Update(msg)
		return m, tea.Batch(cmd, m.syncSelection(false))
	case filterTickMsg, filterResultMsg:
		m.list, cmd = m.list.Update(msg)
		return m, tea.Batch(cmd, m.syncSelection(false))
	case findMsg:
		return m, m.applyFind(msg)
	case valueLoadedMsg:
		cmd = m.applyValue(msg)
	case partLoadedMsg:
		m.viewer.SetPart(msg)
	case sizesLoadedMsg:
		m.list.SetSizes(msg.sizes)
		m.list.SetExpiries(msg.expires)
		m.list.ForgetSizes(msg.unknown)
	case expiryTickMsg:
		m.expiryTicking = false
		return m, m.dropExpired()
	case expiredMsg:
		return m, m.applyExpired(msg)
	case keysFailedMsg:
		m.liveLoading = false
		m.status = errorStatus("list keys", msg.err)
	case figuredMsg:
		// The figures describe the keys only if the list shows them: not
		// those of a read a later one has overtaken, or that failed.
		if msg.ok && m.list.Answers(msg.msg) {
			m.seen = msg.seen
		}
		return m.route(msg.msg)
	case statsMsg:
		return m, m.applyStats(msg)
	case statsTickMsg:
		return m, tea.Batch(statsCmd(m.store), statsTick(m.live()))
	case compactionEventMsg:
		return m, m.applyEvent(msg.ev)
	case compactDoneMsg:
		return m, m.compactDone(msg)
	case putDoneMsg:
		return m, m.putDone(msg)
	case deleteDoneMsg:
		return m, m.deleteDone(msg)
	case exportDoneMsg:
		m.exportDone(msg)
	case editorReadyMsg:
		return m, m.editorReady(msg)
	case editorExitMsg:
		return m, saveEditedCmd(m.store, msg)
	case editorUnchangedMsg:
		m.status = infoStatus("unchanged: " + Escape(msg.key))
	case statusExpiredMsg:
		if msg.seq == m.statusSeq {
			m.status = status{}
		}
	case copiedMsg:
		m.status = m.copied(msg)
	case treeMsg: // the key tree and the history (find.go)
		return m.routeFind(msg)
	default:
		switch m.state { // cursor blinks
		case stateForm:
			m.form, cmd, _ = m.form.Update(msg)
		case stateExportPath:
			m.exportInput, cmd = m.exportInput.Update(msg)
		}
	}
	return m, cmd
}

// showsExpiry reports whether a key with an expiry is on screen, in the
// viewer or the list: the countdown then needs its tick.
func (m *Model) showsExpiry() bool {
	return !m.viewer.Expires().IsZero() || m.list.HasExpiries()
}

// dropExpired takes the keys on screen that have expired out of the
// list, and reloads the viewer if its key is one: the store no longer
// has them. The header's countdown is redrawn by the tick itself. On a
// store others write, the expiries the list read may have been moved or
// removed since: the store is asked which keys are gone (expiredCmd).
func (m *Model) dropExpired() tea.Cmd {
	now := m.common.Now()
	var check tea.Cmd
	if expired := m.list.Expired(now); m.live() && len(expired) > 0 {
		if !m.expiryChecking {
			m.expiryChecking = true
			check = expiredCmd(m.store, expired)
		}
	} else {
		for _, k := range expired {
			m.removeKey(k)
		}
	}
	if at := m.viewer.Expires(); !at.IsZero() && !at.After(now) {
		return tea.Batch(check, m.syncSelection(true))
	}
	return tea.Batch(check, m.syncSelection(false))
}

// applyExpired takes out of the list the keys expiredCmd found gone, and
// records what it read of the others.
func (m *Model) applyExpired(msg expiredMsg) tea.Cmd {
	m.expiryChecking = false
	for _, k := range msg.gone {
		m.removeKey(k)
	}
	m.list.SetSizes(msg.kept.sizes)
	m.list.SetExpiries(msg.kept.expires)
	return m.syncSelection(false)
}

// refreshSizes asks the store again for the sizes and expiries of the keys
// on screen, which another writer may have changed.
func (m *Model) refreshSizes() tea.Cmd {
	return loadSizesCmd(m.store, m.list.RefreshSizes())
}

// reloadKeys asks the store for its keys: all of them, or the window the
// list shows. On a store that may change under the inspector it reads the
// store's figures first, in the same goroutine, and they become the
// figures a change is seen against (figuredMsg): figures read after the
// keys could include a write the keys miss, and the list would wait for
// the next write to show it.
func (m *Model) reloadKeys() tea.Cmd {
	load := m.list.LoadCmd(m.store)
	if load == nil || !m.live() {
		return load
	}
	s := m.store
	return func() tea.Msg {
		st, err := s.Stats()
		return figuredMsg{seen: seenOf(st), ok: err == nil, msg: load()}
	}
}

// figuredMsg is a read of the keys, msg, and the store's figures read
// just before it (when ok).
type figuredMsg struct {
	seen seenStats
	ok   bool
	msg  tea.Msg
}

// syncSelection loads the selected key's value if the viewer does not show
// it (or always, with force) and the sizes of keys that came on screen.
func (m *Model) syncSelection(force bool) tea.Cmd {
	sizes := tea.Batch(m.list.FetchCmd(), loadSizesCmd(m.store, m.list.MissingSizes()))
	sel, ok := m.selected()
	if !ok {
		m.viewer.Clear()
		return sizes
	}
	if !force && sel == m.viewer.Key() {
		return sizes
	}
	m.valueSeq++
	m.viewer.SetMatch(m.findMatch(sel))
	m.viewer.SetLoading(sel)
	return tea.Batch(sizes, loadValueCmd(m.store, m.valueSeq, sel))
}

func (m *Model) applyValue(msg valueLoadedMsg) tea.Cmd {
	if msg.seq != m.valueSeq {
		return nil // the cursor has moved on
	}
	if msg.err != nil {
		m.viewer.SetError(msg.key, explain(msg.err))
		return nil
	}
	if msg.streamed {
		return m.viewer.SetStreamed(msg.key, msg.value, msg.info)
	}
	m.viewer.SetValue(msg.key, msg.value, msg.info)
	return nil
}

// live reports whether the store may change under the inspector: it
// browses as a follower (its writes go through OpenWriter), or read-only,
// or over the network.
func (m *Model) live() bool { return m.store.Live() || m.cfg.ReadOnly }

// applyStats shows fresh figures. When another process has changed the
// store since the last figures, it reloads the keys and the value shown.
func (m *Model) applyStats(msg statsMsg) tea.Cmd {
	if msg.err != nil {
		if !m.statsFailed { // say it once, not at every poll
			m.status = errorStatus("figures", msg.err)
		}
		m.statsFailed = true
		return nil
	}
	m.statsFailed = false
	m.setCluster(msg.stats.Cluster)
	s := msg.stats
	m.writerPID = 0
	if msg.writing {
		m.writerPID, m.writerName = msg.writer.PID, msg.writer.Program
	}
	var cmd tea.Cmd
	// One live reload at a time: on a large store a reload takes longer
	// than the interval, and a busy writer changes the figures every time.
	if now := seenOf(s); m.live() && m.seen != now && !m.liveLoading {
		if m.seen != (seenStats{}) && m.list.Loaded() {
			m.liveLoading = true
			cmd = tea.Batch(m.reloadKeys(), m.refreshSizes(), m.syncSelection(true))
		}
		m.seen = now
	}
	m.setGauge(s)
	return cmd
}

// seenStats are the figures that change when the store does.
type seenStats struct {
	logBytes    int64
	keys        int
	compactions int64
}

func seenOf(s Stats) seenStats { return seenStats{s.LogBytes, s.Keys, s.Compactions} }

func (m *Model) setGauge(s Stats) {
	g := m.gauge.Stats()
	g.LiveBytes, g.StaleBytes, g.LogBytes = s.LiveBytes, s.StaleBytes, s.LogBytes
	g.Compactions = s.Compactions
	g.Threshold = s.Threshold
	if s.Compacting && !g.Compacting {
		g.Done, g.Total = 0, s.LogBytes
	}
	g.Compacting = s.Compacting
	m.gauge.SetStats(g)
}
