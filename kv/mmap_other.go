//go:build !unix

package kv

// mapping is unused where memory maps are not supported: reads use ReadAt.
type mapping struct {
	data     []byte
	writable bool
}

func mapLog(f File, size int64, writable bool) *mapping { return nil }

func (m *mapping) unmap() error { return nil }

func (m *mapping) releaseWritten(end, keep int64) {}

func (m *mapping) populateAhead(end, limit int64) {}
