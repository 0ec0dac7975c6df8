// Package kv is the CrabKv engine: a key-value store kept in one append-only,
// checksummed log (wal.log, format in package walfmt) and an in-memory index
// from each key to its latest record in the log.
//
// A Get is one index lookup and one positioned read. A Put or Delete appends
// a record and, unless Options.NoSync is set, waits until it is on stable
// storage. Overwritten and deleted records stay in the log as stale bytes
// until compaction rewrites the live records into a fresh log that atomically
// replaces the old one; compaction runs in the background when the policy
// says it is due, and on demand with Compact.
//
// A DB is safe for concurrent use: readers run in parallel, writers are
// serialized, and neither waits for a compaction except for its final swap.
// One process at a time may open a directory for writing; the lock is an OS
// file lock, released by the kernel if the process dies.
package kv
