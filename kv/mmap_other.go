//go:build !unix

package kv

// mapping is unused where memory maps are not supported: reads use ReadAt.
type mapping struct {
	data []byte
}

func mapLog(f File, size int64) *mapping { return nil }

func (m *mapping) unmap() error { return nil }
