// Package tui is CrabKv's terminal inspector: a Bubble Tea program that
// browses a store's keys and values, edits them, and shows the log's live
// and stale bytes and any compaction in progress.
//
// The root Model switches on a small state (browsing, a form, a question,
// the help screen) and routes key presses to its panes: KeyList, a window
// onto a sorted snapshot of the keys that renders only the rows on screen
// and filters in a debounced command; Viewer, the selected value as text,
// indented JSON or a hex dump, rendered a part at a time; Form, the
// in-place editor; and Gauge. Panes share styles and bindings through
// Common. Every engine call runs in a tea.Cmd and comes back as a typed
// message, so View never touches the store.
//
// Two rules hold everywhere. Data is shown, never obeyed: keys and values
// reach the terminal only through Escape and EscapeText (the rule of
// package escape, shared with the command-line tool). And data is never
// changed by accident: a value the in-place editor cannot hold byte for
// byte is edited in $EDITOR, a save with no change writes nothing, and
// creating a key that exists asks first.
//
// The inspector reaches the store only through Store, an interface of
// what it needs: NewDBStore makes one of a *kv.DB, and package tui/remote
// one of a crabkv server over the network.
//
// Run opens the inspector full screen on a *kv.DB the caller owns, and
// RunStore on any Store; New and NewWithStore return the model for tests
// and embedding.
package tui
