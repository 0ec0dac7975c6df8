package kv

// loadOrderFile returns the key order a file records for the log idx
// describes; there is none yet.
func (db *DB) loadOrderFile(src *logView, idx *index) *orderSnap { return nil }
