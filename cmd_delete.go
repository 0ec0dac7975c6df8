package main

var deleteVerb = verb{
	name:    "delete",
	args:    "<key>",
	summary: "remove a key",
	help: `
Delete removes key and its value. Deleting a key that is not there is not an
error. The deletion is synced to disk before crabkv exits; the space the old
value used is reclaimed by the next compaction.`,
	run: runDelete,
}

func runDelete(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	args, code, ok := e.parse(v, fs, args, 1, 1)
	if !ok {
		return code
	}
	if err := checkKey(args[0]); err != nil {
		return e.fail(err)
	}
	key := []byte(args[0])
	db, err := e.open(false)
	if err != nil {
		return e.fail(err)
	}
	if err := db.Delete(key); err != nil {
		return e.closeDB(db, e.fail(err))
	}
	return e.closeDB(db, exitOK)
}
