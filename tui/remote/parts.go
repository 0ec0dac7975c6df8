package remote

import (
	"io"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/crabkv/crabkv/kv"
)

// ReadValueAt reads part of a value with GETRANGE, and its size with
// STRLEN, in one round trip. A server without GETRANGE is asked for the
// whole value, which is cut here.
func (s *Store) ReadValueAt(key string, p []byte, off int64) (int, int, error) {
	if s.noGetRange.Load() {
		return s.readCut(key, p, off)
	}
	pipe := s.rdb.Pipeline()
	exists := pipe.Exists(ctx(), key)
	size := pipe.StrLen(ctx(), key)
	var part *redis.StringCmd
	if len(p) > 0 {
		part = pipe.GetRange(ctx(), key, off, off+int64(len(p))-1)
	}
	_, err := pipe.Exec(ctx())
	switch {
	case part != nil && unknownCommand(part.Err()):
		s.noGetRange.Store(true)
		return s.readCut(key, p, off)
	case err != nil:
		return 0, 0, err
	case exists.Val() == 0:
		return 0, 0, kv.ErrNotFound
	}
	n := 0
	if part != nil {
		n = copy(p, part.Val())
	}
	return n, int(size.Val()), eofIfShort(n, p)
}

// readCut is ReadValueAt from a whole value.
func (s *Store) readCut(key string, p []byte, off int64) (int, int, error) {
	v, err := s.Get(key)
	if err != nil {
		return 0, 0, err
	}
	n := 0
	if off < int64(len(v)) {
		n = copy(p, v[off:])
	}
	return n, len(v), eofIfShort(n, p)
}

// eofIfShort is io.EOF when the value ended before p was filled, as
// io.ReaderAt has it.
func eofIfShort(n int, p []byte) error {
	if n < len(p) {
		return io.EOF
	}
	return nil
}

// unknownCommand reports whether err is a server's refusal of a command
// it does not know.
func unknownCommand(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "ERR unknown command")
}
