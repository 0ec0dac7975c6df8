package tui

import "github.com/charmbracelet/lipgloss"

// Colours that read on both dark and light terminals.
var (
	colorAccent  = lipgloss.AdaptiveColor{Light: "#6B3FA0", Dark: "#B58CF0"}
	colorMuted   = lipgloss.AdaptiveColor{Light: "#6C6C6C", Dark: "#8A8A8A"}
	colorBorder  = lipgloss.AdaptiveColor{Light: "#B8B8B8", Dark: "#4E4E4E"}
	colorSelBg   = lipgloss.AdaptiveColor{Light: "#DCCFF2", Dark: "#3D2C5C"}
	colorSelFg   = lipgloss.AdaptiveColor{Light: "#1A1A1A", Dark: "#F2F2F2"}
	colorLive    = lipgloss.AdaptiveColor{Light: "#2E7D32", Dark: "#66BB6A"}
	colorStale   = lipgloss.AdaptiveColor{Light: "#C62828", Dark: "#EF6C5A"}
	colorWarn    = lipgloss.AdaptiveColor{Light: "#A15C00", Dark: "#F0B454"}
	colorError   = lipgloss.AdaptiveColor{Light: "#B00020", Dark: "#FF6B81"}
	colorOK      = lipgloss.AdaptiveColor{Light: "#1B5E20", Dark: "#8BD98F"}
	colorTitleFg = lipgloss.AdaptiveColor{Light: "#FFFFFF", Dark: "#1A1A1A"}
)

// Styles holds every style the inspector draws with, so that panes take
// them from one place instead of building their own.
type Styles struct {
	Title, TitleDir, Badge    lipgloss.Style
	Pane, PaneFocused         lipgloss.Style
	PaneTitle                 lipgloss.Style
	Selected, Item, ItemSize  lipgloss.Style
	Muted, Error, OK, Warn    lipgloss.Style
	HeaderKey, HeaderValue    lipgloss.Style
	GaugeLive, GaugeStale     lipgloss.Style
	GaugeMark, GaugeProgress  lipgloss.Style
	FilterPrompt, FormLabel   lipgloss.Style
	FormLabelFocused, Confirm lipgloss.Style
	Mark                      lipgloss.Style
}

// DefaultStyles returns the inspector's styles.
func DefaultStyles() Styles {
	pane := lipgloss.NewStyle().
		Border(lipgloss.RoundedBorder()).
		BorderForeground(colorBorder)
	return Styles{
		Title:            lipgloss.NewStyle().Bold(true).Foreground(colorTitleFg).Background(colorAccent).Padding(0, 1),
		TitleDir:         lipgloss.NewStyle().Foreground(colorMuted),
		Badge:            lipgloss.NewStyle().Bold(true).Foreground(colorWarn),
		Pane:             pane,
		PaneFocused:      pane.BorderForeground(colorAccent),
		PaneTitle:        lipgloss.NewStyle().Bold(true).Foreground(colorAccent),
		Selected:         lipgloss.NewStyle().Foreground(colorSelFg).Background(colorSelBg).Bold(true),
		Item:             lipgloss.NewStyle(),
		ItemSize:         lipgloss.NewStyle().Foreground(colorMuted),
		Muted:            lipgloss.NewStyle().Foreground(colorMuted),
		Error:            lipgloss.NewStyle().Foreground(colorError).Bold(true),
		OK:               lipgloss.NewStyle().Foreground(colorOK),
		Warn:             lipgloss.NewStyle().Foreground(colorWarn),
		HeaderKey:        lipgloss.NewStyle().Foreground(colorMuted),
		HeaderValue:      lipgloss.NewStyle().Bold(true),
		GaugeLive:        lipgloss.NewStyle().Foreground(colorLive),
		GaugeStale:       lipgloss.NewStyle().Foreground(colorStale),
		GaugeMark:        lipgloss.NewStyle().Foreground(colorWarn).Bold(true),
		GaugeProgress:    lipgloss.NewStyle().Foreground(colorAccent),
		FilterPrompt:     lipgloss.NewStyle().Foreground(colorAccent).Bold(true),
		FormLabel:        lipgloss.NewStyle().Foreground(colorMuted),
		FormLabelFocused: lipgloss.NewStyle().Foreground(colorAccent).Bold(true),
		Confirm:          lipgloss.NewStyle().Foreground(colorWarn).Bold(true),
		Mark:             lipgloss.NewStyle().Foreground(colorWarn).Bold(true),
	}
}
