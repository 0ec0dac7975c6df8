//go:build unix

package kv

// releasePages unmaps the pages of b, a part of a shared file map, from the
// process; their data stays in the page cache (see dropBehind).
func releasePages(b []byte) { dropPages(b) }
