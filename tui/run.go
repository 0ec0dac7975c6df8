package tui

import (
	tea "github.com/charmbracelet/bubbletea"

	"github.com/crabkv/crabkv/kv"
)

// Run shows the inspector on db in the terminal, full screen with mouse
// wheel support, until the user quits. The caller opens and closes db.
func Run(db *kv.DB, cfg Config) error {
	return RunStore(NewDBStore(db, cfg.OpenWriter), cfg)
}

// RunStore is Run for any Store: a crabkv server over the network, say.
func RunStore(s Store, cfg Config) error {
	m := NewWithStore(s, cfg)
	defer m.Close()
	p := tea.NewProgram(m, tea.WithAltScreen(), tea.WithMouseCellMotion())
	_, err := p.Run()
	return err
}
