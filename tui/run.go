package tui

import (
	tea "github.com/charmbracelet/bubbletea"

	"github.com/crabkv/crabkv/kv"
)

// Run shows the inspector on db in the terminal, full screen with mouse
// wheel support, until the user quits. The caller opens and closes db.
func Run(db *kv.DB, cfg Config) error {
	m := New(db, cfg)
	defer m.Close()
	p := tea.NewProgram(m, tea.WithAltScreen(), tea.WithMouseCellMotion())
	_, err := p.Run()
	return err
}
