package server

import (
	"slices"
	"strconv"
	"strings"
)

// configParams returns the settings CONFIG GET reports, by Redis's names:
// those that describe CrabKv's behaviour in Redis's terms, so that tools
// such as redis-benchmark, which ask for "save" and "appendonly", find
// them. The store is its append-only log; it takes no snapshots.
func (s *Server) configParams() map[string]string {
	fsync := "always"
	if s.opts.NoSync {
		fsync = "no"
	}
	timeout := "0"
	if s.opts.IdleTimeout > 0 {
		timeout = strconv.FormatInt(int64(s.opts.IdleTimeout.Seconds()), 10)
	}
	return map[string]string{
		"appendonly":         "yes",
		"appendfsync":        fsync,
		"save":               "",
		"databases":          "1",
		"dir":                s.db.Dir(),
		"maxclients":         strconv.Itoa(s.opts.MaxConns),
		"timeout":            timeout,
		"proto-max-bulk-len": strconv.Itoa(s.opts.MaxBulkLen),
	}
}

// configCmd is CONFIG GET pattern [pattern ...]; CONFIG SET and the other
// subcommands are refused: the server is configured by its options.
func (c *client) configCmd(args [][]byte) {
	switch sub := strings.ToUpper(string(args[1])); sub {
	case "GET":
		if len(args) < 3 {
			c.wrongArgs("config|get")
			return
		}
		params := c.s.configParams()
		var names []string
		for name := range params {
			for _, pat := range args[2:] {
				if match([]byte(strings.ToLower(string(pat))), []byte(name)) {
					names = append(names, name)
					break
				}
			}
		}
		slices.Sort(names)
		c.array(2 * len(names))
		for _, n := range names {
			c.bulkString(n)
			c.bulkString(params[n])
		}
	case "SET", "RESETSTAT", "REWRITE":
		c.err("ERR CONFIG " + sub + " is not supported: crabkv is configured by the options it was started with (see crabkv serve --help)")
	default:
		c.err("ERR unknown subcommand '" + truncate(string(args[1]), 64) + "'. Try CONFIG HELP.")
	}
}
