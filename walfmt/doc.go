// Package walfmt defines the on-disk format of a CrabKv log, wal.log: a file
// header followed by checksummed records. It is a leaf package: it imports
// nothing else of CrabKv, so tools can read a log without the engine.
//
// # File header
//
// Every log starts with a header that identifies the file and its format
// version, so a foreign file or a log written by a future version is
// recognised with a clear error instead of being misread as corruption.
// Version 2 (written since CrabKv 0.2) has a 64-byte header:
//
//	offset  size  field
//	------  ----  ---------------------------------------------------------
//	     0     8  magic: the bytes "CRABKVWL"
//	     8     2  format version, little-endian (Version = 2)
//	    10     2  reserved, zero
//	    12     4  CRC-32C (Castagnoli) of bytes 0..11, little-endian
//	    16    16  log ID: random, new for every log file a writer creates
//	              (a new store, a compaction, a repair); a hint file names
//	              the log it describes by it
//	    32    16  hash key: random, new with every log; the secret key of
//	              the index's keyed hash (SipHash-2-4) of this log's keys
//	    48     4  sync window in bytes, little-endian: see "Sync window"
//	    52     8  reserved, zero
//	    60     4  CRC-32C of bytes 16..59
//
// The first 16 bytes are laid out as in every version, so that any version
// tells a newer log from a foreign file. Version 1 logs have only those 16
// bytes: no ID and no hash key. They are still read; a compaction rewrites
// them as version 2.
//
// # Records
//
// The header is followed by records, back to back, with no padding:
//
//	offset  size  field
//	------  ----  ---------------------------------------------------------
//	     0     4  CRC-32C (Castagnoli) of every byte after this field,
//	              through the end of the value, little-endian
//	     4     1  kind: 1 = put, 2 = delete (tombstone), 3 = batch
//	     5     1  flags: bit 0 = an expiry field is present; bit 1 = an
//	              operation inside a batch (see "Batches"); other bits zero
//	     6     1  value codec: 0 = raw; any other value names the codec
//	              that encoded a put's value (see "Value codecs"); 0 on
//	              every other kind
//	     7     1  reserved, zero
//	     8     4  key length K, little-endian, 1 <= K <= MaxKeyLen;
//	              always 0 for a batch
//	    12     4  value length V, little-endian, V <= MaxValueLen;
//	              always 0 for a delete
//	    16     8  expiry, Unix nanoseconds, little-endian; present only
//	              when flags bit 0 is set, and only on a put: the key is
//	              absent from that instant on (see "Expiry")
//	 16(+8)    K  key
//	 ...       V  value
//
// A record is valid when its lengths fit the limits and the bytes present,
// its reserved fields and unknown flag bits are zero, its kind is known, and
// its checksum matches. These constants are part of the on-disk format: they
// are never changed in place; a new layout gets a new Version.
//
// # Batches
//
// A batch record (kind 3, version 2 logs only) is one atomic write of
// several operations. Its key is empty, its flags are zero, and its value
// is the operations, back to back, at least one:
//
//	batch record
//	+--------------------+--------------------+-----+--------------------+
//	| header (16 bytes)  | operation 1        | ... | operation n        |
//	| kind 3, K = 0,     | a put or delete    |     |                    |
//	| V = sum of the ops | record, flags = 2  |     |                    |
//	+--------------------+--------------------+-----+--------------------+
//	 <------------- one checksum, the batch's, over all of it ----------->
//
// Each operation is laid out as a put or delete record of the log, with
// flags 2 (FlagBatchOp), or 3 for a put that expires (FlagBatchOp and
// FlagExpiry, with the expiry field), and its own checksum over its own
// bytes. The batch's checksum makes the batch valid or invalid as a whole,
// so a batch cut short by a crash is a torn record like any other and
// none of its operations is applied. The operations' own checksums let a
// reader that knows where one starts verify it alone: an index points at a
// batched key's operation, at its offset in the log, and a read checks
// that operation's checksum, not the whole batch's. FlagBatchOp is what
// tells an operation from a record: a record of the log with it set is
// invalid, so a reader resynchronising past damage never takes an
// operation inside a batch for a record. A batch is valid only when its
// operations fill its value exactly and each is valid; a batch never
// nests. Operations apply in order, a later one on a key overriding an
// earlier one.
//
// # Expiry
//
// A put record with flags bit 0 (FlagExpiry) carries an absolute expiry
// time in Unix nanoseconds, never 0: from that instant on, its key reads
// as absent, and the record is stale, as an overwritten one is. Nothing
// is written when a key expires; a compaction drops the expired record.
// A tombstone never carries an expiry. Expiring puts may appear in any
// version 2 log; logs written before expiries were used simply have none,
// and read as before.
//
// # Value codecs
//
// The codec byte of a put says how its value is stored: 0 raw, the bytes
// the writer gave; any other value names a codec (compression) that
// encoded them, and a reader must decode the value with it. The format
// assigns no codec but 0: the IDs are kept by the engine (CrabKv's kv
// package reserves 1 for S2, 2 for zstd and 3 for zstd with a dictionary
// kept in a file beside the log, and 1..15 for its own), so
// that a reader that meets an ID it does not know reports it by number
// instead of returning encoded bytes. The value length V is the stored,
// encoded length; the checksum covers the stored bytes. Each record names
// its own codec, so one log can hold values of several. Logs written before
// codecs were used have 0 everywhere, and read as before.
//
// # Reserved space
//
// A log may be followed by zero bytes: space a writer reserved ahead of its
// appends, so that a synced append does not also have to change the file's
// size. The log ends where the zeros start, when every byte from there to
// the end of the file is zero. No record starts with a zero byte pattern of
// that length that runs to the end: a record's kind is never zero.
//
// # Sync window
//
// A writer that makes its appends durable keeps this promise, part of the
// format's contract: it never has more than the window recorded in the log's
// header (SyncWindow, 1 MiB, in every log this package creates) bytes of
// records appended past the last durable point of the log, except a single
// record larger than the window, which is then alone. Version 1 logs record
// no window: for them it is zero, and damage followed by valid records is
// always corruption. A writer that syncs
// batches of appends (group commit) waits for the running sync before it
// appends past the window.
//
// A power loss can leave any part of those bytes unwritten (zeros, or what
// the pages held before) while later ones were written, so after a crash an
// invalid record can be followed by valid ones. The promise bounds where:
// every valid record after such damage ends within SyncWindow bytes of the
// damaged record's start. A writer that does not sync its appends (CrabKv's
// NoSync mode) makes no such promise, and a power loss can leave its log
// damaged anywhere in what it had not synced.
//
// # Endings
//
// A Reader tells apart three ways a log can end:
//
//   - a clean end: the last record ends exactly at the end of the file, or
//     only zero bytes follow it (Next returns io.EOF; Offset is where the
//     log ends);
//   - a torn tail: the last record is incomplete or fails its checksum, and no
//     valid record follows it — the trace of a crash during an append, safe to
//     cut away (Next returns a *CorruptionError that wraps ErrTornTail);
//   - damage with valid records after it (Next returns a *CorruptionError
//     that wraps ErrCorrupt). When every valid record after the damage ends
//     within SyncWindow bytes of the damaged record's start
//     (Reader.ValidPast at that limit reports false), a crash during a
//     batch of appends can have left it: it too is a torn tail, and the
//     whole span from the damaged record on may be cut away, since none of
//     it can have been durable. (Damage at rest that happens to lie there
//     looks the same, and is cut too.) Otherwise it is corruption in the
//     middle: data was damaged at rest and must not be dropped silently.
package walfmt
