package server

// loopInline reports which commands the loop runs itself for a store: the
// ones that never wait for long. The writes of a store that syncs wait for
// the disk, and a store other than the engine (a replicated one) may wait
// for its peers, so they are handed off.
func loopInline(store Store, noSync bool) []bool {
	inline := make([]bool, len(commandList))
	if _, ok := store.(*dbStore); !ok {
		for _, name := range []string{"ping", "echo", "quit", "select"} {
			inline[commands[name].idx] = true
		}
		return inline
	}
	names := []string{"ping", "echo", "quit", "hello", "auth", "get", "exists", "mget", "getrange",
		"strlen", "dbsize", "select", "readonly", "readwrite", "ttl", "pttl"}
	if noSync {
		names = append(names, "set", "getdel", "del", "unlink", "mset", "msetnx",
			"expire", "pexpire", "expireat", "pexpireat", "setex", "psetex", "persist")
	}
	for _, name := range names {
		inline[commands[name].idx] = true
	}
	return inline
}
