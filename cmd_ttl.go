package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/crabkv/crabkv/internal/ndjson"
	"github.com/crabkv/crabkv/kv"
)

var ttlVerb = verb{
	name:    "ttl",
	args:    "<key>",
	summary: "print how long a key has before it expires",
	help: `
TTL prints the time key has left before it expires, rounded down to the
millisecond (for example 1m29.5s), or "no expiry" for a key that never
expires. If the key is absent, expired included, it prints nothing on
standard output, says so on standard error and exits with status 1.

With --json it prints {"key":...,"ttl_ms":N}, N being -1 for a key without
an expiry, and "expires_at" (Unix milliseconds) for a key with one. A key
that is not valid UTF-8 comes as "key_base64", as in get --json.`,
	run: runTTL,
}

var expireVerb = verb{
	name:    "expire",
	args:    "<key> <duration>",
	summary: "make a key expire after a duration (90s, 10m, 2h)",
	writes:  true,
	help: `
Expire makes key expire once duration has passed, whether or not it had an
expiry; its value stays as it is. The duration is a Go duration: 90s, 10m,
1h30m. A duration of 0 or less deletes the key at once. An absent key
exits with status 1.`,
	run: runExpire,
}

var persistVerb = verb{
	name:    "persist",
	args:    "<key>",
	summary: "remove a key's expiry",
	writes:  true,
	help: `
Persist removes key's expiry, so that it stays until it is deleted. A key
without an expiry is left as it is; an absent key exits with status 1.`,
	run: runPersist,
}

func runTTL(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	quoted := quotedFlag(fs)
	asJSON := jsonFlag(fs)
	args, code, ok := e.parse(v, fs, args, 1, 1)
	if !ok {
		return code
	}
	key, code, ok := e.keyArg(v, args[0], *quoted)
	if !ok {
		return code
	}
	db, err := e.open(true)
	if err != nil {
		return e.fail(err)
	}
	// One read for both: the expiry, from which the time left follows.
	at, err := db.ExpiresAt(key)
	if errors.Is(err, kv.ErrNotFound) {
		return e.closeDB(db, e.notFound(key))
	}
	if err != nil {
		return e.closeDB(db, e.fail(err))
	}
	left := time.Until(at).Truncate(time.Millisecond)
	var out []byte
	switch {
	case *asJSON:
		// The key as every verb's --json writes it (key_base64 when it
		// is not UTF-8, escapes for what is not printable), then the
		// numbers.
		ttl := int64(-1)
		if !at.IsZero() {
			ttl = max(left.Milliseconds(), 0)
		}
		out = appendJSONInt(jsonObject(jsonField{"key", key}), "ttl_ms", ttl)
		if !at.IsZero() {
			out = ndjson.AppendExpiresAt(out, at)
		}
	case at.IsZero():
		out = []byte("no expiry\n")
	default:
		out = fmt.Appendf(nil, "%s\n", max(left, 0))
	}
	if _, err := e.stdout.Write(out); err != nil {
		return e.closeDB(db, e.fail(fmt.Errorf("write: %w", err)))
	}
	return e.closeDB(db, exitOK)
}

func runExpire(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	quoted := quotedFlag(fs)
	args, code, ok := e.parse(v, fs, args, 2, 2)
	if !ok {
		return code
	}
	key, code, ok := e.keyArg(v, args[0], *quoted)
	if !ok {
		return code
	}
	d, err := time.ParseDuration(args[1])
	if err != nil {
		return e.fail(fmt.Errorf("duration %q: want a Go duration such as 90s, 10m or 1h30m", args[1]))
	}
	return e.writeExpiry(key, func(db *kv.DB) error { return db.Expire(key, d) })
}

func runPersist(e *env, v *verb, args []string) int {
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
	return e.writeExpiry(key, func(db *kv.DB) error { return db.Persist(key) })
}

// writeExpiry opens the store for writing and runs set, which changes
// key's expiry.
func (e *env) writeExpiry(key []byte, set func(*kv.DB) error) int {
	db, err := e.open(false)
	if err != nil {
		return e.fail(err)
	}
	err = set(db)
	if errors.Is(err, kv.ErrNotFound) {
		return e.closeDB(db, e.notFound(key))
	}
	if err != nil {
		return e.closeDB(db, e.fail(err))
	}
	return e.closeDB(db, exitOK)
}

// notFound says on standard error that key is absent, and returns the
// exit code for it.
func (e *env) notFound(key []byte) int {
	// Best effort: the exit code says the key was not found.
	_, _ = fmt.Fprintf(e.stderr, "crabkv: key %s not found\n", strconv.Quote(string(key)))
	return exitNotFound
}

// codecFlag defines --codec, for the verbs that write values.
func codecFlag(fs *flag.FlagSet) *string {
	return fs.String("codec", "raw", "store values compressed with this codec: raw, s2, zstd or zstd-dict (only where that saves an eighth)")
}

// codecNamed returns the built-in codec called name.
func codecNamed(name string) (kv.Codec, error) {
	for _, c := range []kv.Codec{kv.Raw, kv.S2, kv.Zstd, kv.ZstdDict} {
		if c.Name() == name {
			return c, nil
		}
	}
	return nil, fmt.Errorf("--codec %q: want raw, s2, zstd or zstd-dict", name)
}
