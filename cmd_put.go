package main

import (
	"fmt"
	"io"

	"github.com/crabkv/crabkv/kv"
)

var putVerb = verb{
	name:    "put",
	args:    "<key> <value|->",
	summary: "store a value; - reads it from standard input",
	writes:  true,
	help: `
Put stores value under key, replacing any earlier value. The write is synced
to disk before crabkv exits. A value of "-" is read from standard input,
byte for byte, so binary data and files can be stored:

  crabkv put photo - < photo.jpg

To store the literal value "-", pipe it in: printf - | crabkv put key -
Keys that start with "-" must come after "--": crabkv put -- -key value
With --quoted the key is a Go string literal, as crabkv shows a key that is
not printable on a terminal: crabkv put --quoted '"bin\xff\x00"' value
With --ttl the key expires after that long: crabkv put --ttl 90s session v
With --codec s2 or zstd the value is stored compressed when that saves an
eighth of it; every read gives back the original bytes.`,
	run: runPut,
}

func runPut(e *env, v *verb, args []string) int {
	fs := e.flagSet(v)
	quoted := quotedFlag(fs)
	codecName := codecFlag(fs)
	ttl := fs.Duration("ttl", 0, "expire the key after this long (90s, 10m, 1h30m); 0: never")
	args, code, ok := e.parse(v, fs, args, 2, 2)
	if !ok {
		return code
	}
	key, code, ok := e.keyArg(v, args[0], *quoted)
	if !ok {
		return code
	}
	value := []byte(args[1])
	if args[1] == "-" {
		var err error
		if value, err = readValue(e.stdin); err != nil {
			return e.fail(err)
		}
	}
	c, err := codecNamed(*codecName)
	if err != nil {
		return e.fail(err)
	}
	db, err := e.openWith(&kv.Options{Codec: c})
	if err != nil {
		return e.fail(err)
	}
	if *ttl < 0 {
		return e.closeDB(db, e.fail(fmt.Errorf("--ttl %s: must be positive", *ttl)))
	}
	if *ttl > 0 {
		err = db.PutTTL(key, value, *ttl)
	} else {
		err = db.Put(key, value)
	}
	if err != nil {
		return e.closeDB(db, e.fail(err))
	}
	return e.closeDB(db, exitOK)
}

// readValue reads a value from r. It stops one byte past the size limit so
// that piping in a huge file fails fast instead of filling memory first.
func readValue(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, kv.DefaultMaxValueSize+1))
	if err != nil {
		return nil, fmt.Errorf("read value from standard input: %w", err)
	}
	if len(b) > kv.DefaultMaxValueSize {
		return nil, sentence(kv.ErrValueTooLarge, "the value on standard input is over the limit of %d bytes",
			kv.DefaultMaxValueSize)
	}
	return b, nil
}
