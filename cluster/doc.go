// Package cluster replicates a CrabKv store with raft: each node runs a
// hashicorp/raft node whose finite-state machine is the store in its data
// directory, the way rqlite runs SQLite and etcd runs bbolt. Raft's own
// log and stable store are raft-boltdb; its snapshots are files.
//
// # Writes
//
// A write — a put, a delete, or a batch of them — is one raft entry (its
// encoding is in command.go). Node.Write proposes it on the leader and
// returns once a majority has committed it and this node has applied it,
// with the store's error if the store refused it. Every node applies the
// same entries in the same order, each entry as one atomic batch of the
// store, so a batch is all or nothing on every node. Whether an entry is
// refused depends only on the entry and the store's size limits, which
// every node must share.
//
// # Expiring keys
//
// An expiring put carries the absolute instant its key expires, decided
// once by the leader as it proposes the write (store_ttl.go), so that
// every node applies the same record however late it applies it. Each
// node then judges expiry by its own clock: the members' clocks are
// assumed to agree roughly. Snapshots carry each key's expiry.
//
// # The applied index
//
// Each batch the state machine writes carries, in the same atomic record,
// the index of the last raft entry it covers (key ReservedPrefix+"applied").
// So the store and its applied index never disagree, even after a crash,
// and a restart resumes where the store is: raft replays its log from the
// last snapshot, and the entries the store already holds are skipped, not
// written again (raft's NoSnapshotRestoreOnStart). Were the index in a
// sidecar file, a crash between the two writes would re-apply an entry,
// which a write that depends on the current value could not survive.
//
// # Snapshots
//
// A snapshot is a checksummed stream of the live records (snapshot.go),
// taken without copying the store: the key set is listed at once, and
// while the stream is written each key's old value is saved just before
// its first overwrite. Raft truncates its log after a snapshot, keeping
// Config.TrailingLogs entries; a node too far behind, or new, receives the
// snapshot instead. Restore rebuilds the store in a fresh directory and
// swaps it in only once it is complete and synced (restore.go): a store is
// never half-restored, and Open finishes or discards a swap a crash cut.
//
// # Reads
//
// Reads are linearizable by default: the leader notes its commit index,
// confirms with a majority that it still leads, and waits until its store
// has applied that index (a new leader first commits a barrier of its own
// term). ReadOptions.Stale reads a node's store as it is, on any node.
//
// # Over RESP
//
// Store is a Node as the store of a server.Server (crabkv serve
// --cluster): writes through the log, linearizable reads unless a
// connection sent READONLY, followers redirecting clients to the leader
// with -MOVED, -CLUSTERDOWN without a leader, CRABKV.CLUSTER
// STATUS|JOIN|LEAVE, CLUSTER SLOTS and INFO's cluster section. Each
// member's client address is kept in the log under reserved keys, so any
// node can name the leader's.
//
// # Errors
//
// A call only the leader serves returns *ErrNotLeader, naming the leader,
// elsewhere; ErrNoLeader when no leader is known (a RESP front-end
// answers -CLUSTERDOWN). ErrLeadershipLost, or a context that ends first,
// means a write's outcome is unknown.
package cluster
