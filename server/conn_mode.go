package server

import "fmt"

// readonly is READONLY: this connection's reads may be served from a copy
// that lags the latest writes (a follower of a replicated store), as
// Redis Cluster's READONLY lets a replica serve reads. Its writes are
// unaffected. A store with one copy serves every read from it anyway.
func (c *client) readonly([][]byte) {
	c.stale = true
	c.ok()
}

// readwrite is READWRITE: back to the default, reads of the latest state.
func (c *client) readwrite([][]byte) {
	c.stale = false
	c.ok()
}

// extension runs a command the store serves (Extension), and reports
// whether there was one.
func (c *client) extension(args [][]byte) bool {
	ext, ok := c.s.db.(Extension)
	if !ok {
		return false
	}
	reply, ok := ext.Command(args)
	if !ok {
		return false
	}
	c.reply(reply)
	return true
}

// reply writes a store's reply (see Extension).
func (c *client) reply(reply any) {
	switch r := reply.(type) {
	case error:
		if e, ok := asError(r); ok {
			c.err(e.RESPError())
		} else {
			c.err("ERR " + truncate(r.Error(), 1024))
		}
	case string:
		c.simple(r)
	case []byte:
		c.bulk(r)
	case int64:
		c.integer(r)
	case []string:
		c.array(len(r))
		for _, s := range r {
			c.bulkString(s)
		}
	case []any:
		c.array(len(r))
		for _, x := range r {
			c.reply(x)
		}
	default:
		c.err(fmt.Sprintf("ERR the store's reply of type %T cannot be sent", reply))
	}
}
