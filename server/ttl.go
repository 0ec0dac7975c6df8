package server

import (
	"errors"
	"math"
	"strings"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// Expiring keys, mapped onto the store's own (see kv.DB.PutTTL): SET's EX,
// PX, EXAT, PXAT and KEEPTTL, SETEX, PSETEX, and TTL, PTTL, EXPIRE, PEXPIRE, EXPIREAT,
// PEXPIREAT and PERSIST. A key is absent from the instant it expires, as
// in Redis; the store, not the server, keeps the time.

func init() {
	register(
		&command{name: "ttl", arity: 2, flags: []string{"readonly", "fast"}, first: 1, last: 1, step: 1, run: (*client).ttl},
		&command{name: "pttl", arity: 2, flags: []string{"readonly", "fast"}, first: 1, last: 1, step: 1, run: (*client).ttl},
		&command{name: "expire", arity: -3, flags: []string{"write", "fast"}, first: 1, last: 1, step: 1, run: (*client).expire},
		&command{name: "pexpire", arity: -3, flags: []string{"write", "fast"}, first: 1, last: 1, step: 1, run: (*client).expire},
		&command{name: "expireat", arity: -3, flags: []string{"write", "fast"}, first: 1, last: 1, step: 1, run: (*client).expire},
		&command{name: "pexpireat", arity: -3, flags: []string{"write", "fast"}, first: 1, last: 1, step: 1, run: (*client).expire},
		&command{name: "setex", arity: 4, flags: []string{"write", "denyoom"}, first: 1, last: 1, step: 1, run: (*client).setex},
		&command{name: "psetex", arity: 4, flags: []string{"write", "denyoom"}, first: 1, last: 1, step: 1, run: (*client).setex},
		&command{name: "persist", arity: 2, flags: []string{"write", "fast"}, first: 1, last: 1, step: 1, run: (*client).persist},
	)
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
	n, ok := parseInt(args[0])
	if !ok {
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
		switch {
		case err == nil && !at.IsZero():
			return st.Write([]Op{{Key: key, Value: value, ExpiresAt: at}})
		case err != nil && !errors.Is(err, kv.ErrNotFound):
			return err // a failed read must not drop the key's expiry
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

// expireCond is the condition of EXPIRE's options NX, XX, GT and LT, as
// bits.
type expireCond uint8

const (
	expireNX expireCond = 1 << iota // the key has no expiry
	expireXX                        // the key has an expiry
	expireGT                        // the new expiry is later than the key's
	expireLT                        // the new expiry is earlier than the key's
)

// parseExpireCond parses EXPIRE's options, as Redis 7 does (before the
// time, whose error comes second), or returns an error message.
func parseExpireCond(args [][]byte) (expireCond, string) {
	var cond expireCond
	for _, a := range args {
		switch strings.ToUpper(string(a)) {
		case "NX":
			cond |= expireNX
		case "XX":
			cond |= expireXX
		case "GT":
			cond |= expireGT
		case "LT":
			cond |= expireLT
		default:
			return 0, "ERR Unsupported option " + truncate(string(a), 64)
		}
	}
	switch {
	case cond&expireNX != 0 && cond&(expireXX|expireGT|expireLT) != 0:
		return 0, "ERR NX and XX, GT or LT options at the same time are not compatible"
	case cond&expireGT != 0 && cond&expireLT != 0:
		return 0, "ERR GT and LT options at the same time are not compatible"
	}
	return cond, ""
}

// holds reports whether a key whose expiry is old (the zero time: none)
// may be given the expiry at. A key without expiry counts as one that
// never expires: GT never holds for it, LT always does.
func (cond expireCond) holds(old, at time.Time) bool {
	switch {
	case cond&expireNX != 0 && !old.IsZero(),
		cond&expireXX != 0 && old.IsZero(),
		cond&expireGT != 0 && (old.IsZero() || !at.After(old)),
		cond&expireLT != 0 && !old.IsZero() && !at.Before(old):
		return false
	}
	return true
}

// expire is EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT, with NX, XX, GT and
// LT: 1 when the expiry was set, 0 for an absent key or one the condition
// excludes. A time not in the future deletes the key. The key's lock is
// held from the read of its expiry to the write.
func (c *client) expire(args [][]byte) {
	name := strings.ToLower(string(args[0]))
	cond, msg := parseExpireCond(args[3:])
	if msg != "" {
		c.err(msg)
		return
	}
	n, ok := parseInt(args[2])
	if !ok {
		c.err("ERR value is not an integer or out of range")
		return
	}
	ms := n
	if !strings.HasPrefix(name, "p") {
		// Seconds, in milliseconds: Redis refuses only what does not fit.
		if n > math.MaxInt64/1000 || n < math.MinInt64/1000 {
			c.err("ERR invalid expire time in '" + name + "' command")
			return
		}
		ms = n * 1000
	}
	const msMax = math.MaxInt64 / int64(time.Millisecond)
	if ms > msMax {
		// Past 2262, the last instant the store holds (see README).
		c.err("ERR invalid expire time in '" + name + "' command")
		return
	}
	// A time before 1678, or more than 292 years back, is in the past all
	// the same: it deletes the key, as Redis does.
	ns := max(ms, -msMax) * int64(time.Millisecond)
	absolute := strings.HasSuffix(name, "at")
	key := args[1]
	defer c.s.keys.lock(key)()
	if cond != 0 {
		old, at, err := c.expiries(key, ns, absolute)
		if err != nil {
			c.expireReply(err)
			return
		}
		if !cond.holds(old, at) {
			c.integer(0)
			return
		}
	}
	var err error
	if absolute {
		err = c.s.db.ExpireAt(key, time.Unix(0, ns))
	} else {
		err = c.s.db.Expire(key, time.Duration(ns))
	}
	c.expireReply(err)
}

// expiries returns key's expiry (the zero time for none) and the one
// EXPIRE would give it, ns from now or, if absolute, at ns Unix time, on
// one time line so that holds can compare them. A relative time is
// compared with the time the key has left by the store's clock (its TTL),
// never the machine's: the write that follows adds ns to the store's
// clock, which may be a test's or a cluster leader's.
func (c *client) expiries(key []byte, ns int64, absolute bool) (old, at time.Time, err error) {
	if absolute {
		old, err = c.s.db.ExpiresAt(Read{Fresh: true}, key)
		return old, time.Unix(0, ns), err
	}
	left, err := c.s.db.TTL(Read{Fresh: true}, key)
	if err != nil || left < 0 {
		return time.Time{}, time.Unix(0, ns), err
	}
	return time.Unix(0, int64(left)), time.Unix(0, ns), nil
}

// expireReply answers EXPIRE after a write, or a read, that gave err.
func (c *client) expireReply(err error) {
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
