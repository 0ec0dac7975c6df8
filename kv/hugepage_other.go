//go:build unix && !linux

package kv

// adviseHugePages does nothing where there is no transparent huge page
// advice.
func adviseHugePages([]byte) {}
