package tui

import "time"

// Common is what every pane shares: styles, bindings and the clock.
// Panes hold a pointer to the root model's copy rather than reaching for
// globals.
type Common struct {
	Styles Styles
	KeyMap KeyMap
	// Now tells the time that expiries are counted down by: the store's
	// clock (kv.Options.Clock) in tests, time.Now otherwise.
	Now func() time.Time
}

// NewCommon returns the default styles and bindings.
func NewCommon() *Common {
	return &Common{Styles: DefaultStyles(), KeyMap: DefaultKeyMap(), Now: time.Now}
}
