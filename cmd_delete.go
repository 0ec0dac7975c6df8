package main

var deleteVerb = verb{
	name:    "delete",
	args:    "<key>",
	summary: "remove a key",
	writes:  true,
	help: `
Delete removes key and its value. Deleting a key that is not there is not an
error. The deletion is synced to disk before crabkv exits; the space the old
value used is reclaimed by the next compaction.

With --quoted the key is a Go string literal, as crabkv shows a key that is
not printable on a terminal: crabkv delete --quoted '"bin\xff\x00"'`,
	run: runDelete,
}

func runDelete(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	quoted := quotedFlag(fs)
	args, code, ok := e.parse(v, fs, args, 1, 1)
	if !ok {
		return code
	}
	key, code, ok := e.keyArg(v, args[0], *quoted)
	if !ok {
		return code
	}
	db, err := e.open(false)
	if err != nil {
		return e.fail(err)
	}
	if err := db.Delete(key); err != nil {
		return e.closeDB(db, e.fail(err))
	}
	return e.closeDB(db, exitOK)
}
