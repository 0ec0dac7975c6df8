package tui

// Common is what every pane shares: styles and bindings. Panes hold a
// pointer to the root model's copy rather than reaching for globals.
type Common struct {
	Styles Styles
	KeyMap KeyMap
}

// NewCommon returns the default styles and bindings.
func NewCommon() *Common {
	return &Common{Styles: DefaultStyles(), KeyMap: DefaultKeyMap()}
}
