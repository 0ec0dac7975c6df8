package kv

// AscendRange calls fn with each key in [start, end) (nil: unbounded), in
// byte order, until fn returns false. It reads keys only, a chunk at a
// time, as Scan does and with its guarantees, so a caller that stops after
// a few keys pays for those and a seek, not for the whole range: this is
// what a paged listing resumed from its last key needs. A key whose record
// is damaged is left out, as Keys does; the first one met is returned (the
// error wraps walfmt.ErrCorrupt), after the keys that could be read.
func (db *DB) AscendRange(start, end []byte, fn func(key []byte) bool) error {
	it := db.NewIterator(start, end)
	it.keysOnly, it.skipDamage = true, true
	for it.Next() {
		if !fn(it.Key()) {
			break
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	return it.damaged
}
