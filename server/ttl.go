package server

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// Expiring keys, mapped onto the store's own (see kv.DB.PutTTL): SET's EX,
// PX, EXAT, PXAT and KEEPTTL, SETEX, PSETEX, and TTL, PTTL, EXPIRE, PEXPIRE, EXPIREAT,
// PEXPIREAT and PERSIST. A key is absent from the instant it expires, as
// in Redis; the store, not the server, keeps the time.

func init() {
	for _, cmd := range []*command{
		{name: "ttl", arity: 2, flags: []string{"readonly", "fast"}, first: 1, last: 1, step: 1, run: (*client).ttl},
		{name: "pttl", arity: 2, flags: []string{"readonly", "fast"}, first: 1, last: 1, step: 1, run: (*client).ttl},
		{name: "expire", arity: 3, flags: []string{"write", "fast"}, first: 1, last: 1, step: 1, run: (*client).expire},
		{name: "pexpire", arity: 3, flags: []string{"write", "fast"}, first: 1, last: 1, step: 1, run: (*client).expire},
		{name: "expireat", arity: 3, flags: []string{"write", "fast"}, first: 1, last: 1, step: 1, run: (*client).expire},
		{name: "pexpireat", arity: 3, flags: []string{"write", "fast"}, first: 1, last: 1, step: 1, run: (*client).expire},
		{name: "setex", arity: 4, flags: []string{"write", "denyoom"}, first: 1, last: 1, step: 1, run: (*client).setex},
		{name: "psetex", arity: 4, flags: []string{"write", "denyoom"}, first: 1, last: 1, step: 1, run: (*client).setex},
		{name: "persist", arity: 2, flags: []string{"write", "fast"}, first: 1, last: 1, step: 1, run: (*client).persist},
	} {
		commands[cmd.name] = cmd
	}
}

// setTTL is SET's expiry option: none (the key loses any expiry, as in
// Redis), a relative TTL, an absolute time, or KEEPTTL.
type setTTL struct {
	ttl  time.Duration // EX, PX
	at   time.Time     // EXAT, PXAT
	keep bool          // KEEPTTL
	set  bool          // one of them was given
}

// parseSetTTL parses the expiry option opt of SET, whose argument, if it
// takes one, is args[0]; it returns how many arguments it used, or an
// error message.
func (t *setTTL) parse(opt string, args [][]byte) (int, string) {
	if t.set {
		return 0, "ERR syntax error"
	}
	t.set = true
	if opt == "KEEPTTL" {
		t.keep = true
		return 0, ""
	}
	if len(args) == 0 {
		return 0, "ERR syntax error"
	}
	n, err := strconv.ParseInt(string(args[0]), 10, 64)
	if err != nil {
		return 0, "ERR value is not an integer or out of range"
	}
	unit := time.Second
	if opt == "PX" || opt == "PXAT" {
		unit = time.Millisecond
	}
	if n <= 0 || n > math.MaxInt64/int64(unit) {
		return 0, "ERR invalid expire time in 'set' command"
	}
	switch opt {
	case "EX":
		t.ttl = time.Duration(n) * time.Second
	case "PX":
		t.ttl = time.Duration(n) * time.Millisecond
	case "EXAT":
		t.at = time.Unix(n, 0)
	case "PXAT":
		t.at = time.UnixMilli(n)
	}
	return 1, ""
}

// putTTL writes key with the expiry t asks for. The caller holds key's
// lock when t keeps the expiry, so that it cannot change in between.
func (c *client) putTTL(t setTTL, key, value []byte) error {
	st := c.s.db
	switch {
	case t.ttl > 0:
		return st.Write([]Op{{Key: key, Value: value, TTL: t.ttl}})
	case !t.at.IsZero():
		return st.Write([]Op{{Key: key, Value: value, ExpiresAt: t.at}})
	case t.keep:
		at, err := st.ExpiresAt(Read{Fresh: true}, key)
		if err == nil && !at.IsZero() {
			return st.Write([]Op{{Key: key, Value: value, ExpiresAt: at}})
		}
	}
	return st.Put(key, value)
}

// setex is SETEX and PSETEX: SET key value EX|PX ttl.
func (c *client) setex(args [][]byte) {
	name := strings.ToLower(string(args[0]))
	opt := "EX"
	if name == "psetex" {
		opt = "PX"
	}
	var t setTTL
	if _, msg := t.parse(opt, args[2:3]); msg != "" {
		c.err(strings.Replace(msg, "'set'", "'"+name+"'", 1))
		return
	}
	key := args[1]
	defer c.s.keys.share(key)()
	if err := c.putTTL(t, key, args[3]); err != nil {
		c.engineError(err)
		return
	}
	c.ok()
}

// ttl is TTL and PTTL: the time left in seconds (rounded) or
// milliseconds, -1 for a key without expiry, -2 for an absent key.
func (c *client) ttl(args [][]byte) {
	d, err := c.s.db.TTL(c.read(false), args[1])
	switch {
	case errors.Is(err, kv.ErrNotFound), errors.Is(err, kv.ErrEmptyKey):
		c.integer(-2)
	case err != nil:
		c.engineError(err)
	case d < 0:
		c.integer(-1)
	case strings.EqualFold(string(args[0]), "pttl"):
		c.integer((d + time.Millisecond/2).Milliseconds())
	default:
		c.integer(int64((d + time.Second/2) / time.Second))
	}
}

// expire is EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT: 1 when the expiry was
// set, 0 for an absent key. A time not in the future deletes the key.
func (c *client) expire(args [][]byte) {
	n, err := strconv.ParseInt(string(args[2]), 10, 64)
	if err != nil {
		c.err("ERR value is not an integer or out of range")
		return
	}
	name := strings.ToLower(string(args[0]))
	unit := time.Second
	if strings.HasPrefix(name, "p") {
		unit = time.Millisecond
	}
	if n > math.MaxInt64/int64(unit) || n < math.MinInt64/int64(unit) {
		c.err("ERR invalid expire time in '" + name + "' command")
		return
	}
	key := args[1]
	defer c.s.keys.lock(key)()
	if strings.HasSuffix(name, "at") {
		err = c.s.db.ExpireAt(key, time.Unix(0, n*int64(unit)))
	} else {
		err = c.s.db.Expire(key, time.Duration(n)*unit)
	}
	switch {
	case errors.Is(err, kv.ErrNotFound), errors.Is(err, kv.ErrEmptyKey):
		c.integer(0)
	case err != nil:
		c.engineError(err)
	default:
		c.integer(1)
	}
}

// persist is PERSIST: 1 when the key had an expiry and has none now, 0
// when it had none or is absent.
func (c *client) persist(args [][]byte) {
	key := args[1]
	defer c.s.keys.lock(key)()
	d, err := c.s.db.TTL(Read{Fresh: true}, key)
	if err == nil && d >= 0 {
		err = c.s.db.Persist(key)
		if err == nil {
			c.integer(1)
			return
		}
	}
	switch {
	case err == nil, errors.Is(err, kv.ErrNotFound), errors.Is(err, kv.ErrEmptyKey):
		c.integer(0)
	default:
		c.engineError(err)
	}
}
