package server

import (
	"errors"
	"strconv"
	"strings"

	"github.com/crabkv/crabkv/kv"
)

// command describes one command: its handler and its arity in Redis's
// convention (n: exactly n arguments counting the name; -n: at least n).
type command struct {
	name  string
	arity int
	flags []string
	// first, last and step locate the keys among the arguments, for COMMAND.
	first, last, step int
	run               func(c *client, args [][]byte)
}

// commands is filled by init, since some handlers read it (COMMAND).
var commands map[string]*command

func init() {
	list := []*command{
		{name: "ping", arity: -1, flags: []string{"fast"}, run: (*client).ping},
		{name: "echo", arity: 2, flags: []string{"fast"}, run: (*client).echo},
		{name: "quit", arity: -1, flags: []string{"fast"}, run: (*client).quitCmd},
		{name: "hello", arity: -1, flags: []string{"noauth", "fast"}, run: (*client).hello},
		{name: "auth", arity: -2, flags: []string{"noauth", "fast"}, run: (*client).auth},
		{name: "get", arity: 2, flags: []string{"readonly", "fast"}, first: 1, last: 1, step: 1, run: (*client).get},
		{name: "set", arity: -3, flags: []string{"write"}, first: 1, last: 1, step: 1, run: (*client).set},
		{name: "getdel", arity: 2, flags: []string{"write", "fast"}, first: 1, last: 1, step: 1, run: (*client).getdel},
		{name: "del", arity: -2, flags: []string{"write"}, first: 1, last: -1, step: 1, run: (*client).del},
		{name: "unlink", arity: -2, flags: []string{"write", "fast"}, first: 1, last: -1, step: 1, run: (*client).del},
		{name: "exists", arity: -2, flags: []string{"readonly", "fast"}, first: 1, last: -1, step: 1, run: (*client).exists},
		{name: "mget", arity: -2, flags: []string{"readonly", "fast"}, first: 1, last: -1, step: 1, run: (*client).mget},
		{name: "mset", arity: -3, flags: []string{"write"}, first: 1, last: -1, step: 2, run: (*client).mset},
		{name: "getrange", arity: 4, flags: []string{"readonly"}, first: 1, last: 1, step: 1, run: (*client).getrange},
		{name: "strlen", arity: 2, flags: []string{"readonly", "fast"}, first: 1, last: 1, step: 1, run: (*client).strlen},
		{name: "keys", arity: 2, flags: []string{"readonly"}, run: (*client).keys},
		{name: "scan", arity: -2, flags: []string{"readonly"}, run: (*client).scan},
		{name: "dbsize", arity: 1, flags: []string{"readonly", "fast"}, run: (*client).dbsize},
		{name: "info", arity: -1, flags: []string{"loading", "stale"}, run: (*client).info},
		{name: "command", arity: -1, flags: []string{"loading", "stale"}, run: (*client).commandCmd},
		{name: "client", arity: -2, flags: []string{"loading", "stale"}, run: (*client).clientCmd},
		{name: "select", arity: 2, flags: []string{"loading", "stale", "fast"}, run: (*client).selectCmd},
		{name: "flushdb", arity: -1, flags: []string{"write"}, run: (*client).flushdb},
		{name: "subscribe", arity: -2, flags: []string{"pubsub", "noscript", "loading", "stale"}, run: (*client).subscribe},
		{name: "unsubscribe", arity: -1, flags: []string{"pubsub", "noscript", "loading", "stale"}, run: (*client).unsubscribe},
		{name: "crabkv.compact", arity: 1, flags: []string{"write"}, run: (*client).compact},
		{name: "crabkv.stats", arity: 1, flags: []string{"readonly"}, run: (*client).stats},
	}
	commands = make(map[string]*command, len(list))
	for _, cmd := range list {
		commands[cmd.name] = cmd
	}
}

// dispatch runs one request. It never panics on any argument array: a
// handler's panic would take the whole server down, so handlers check
// their arguments, and the arity is checked here first.
func (c *client) dispatch(args [][]byte) {
	if len(args) == 0 {
		return
	}
	name := strings.ToLower(string(args[0]))
	cmd := commands[name]
	if cmd == nil {
		c.err("ERR unknown command '" + truncate(string(args[0]), 128) + "', with args beginning with: " + argsPreview(args[1:]))
		return
	}
	if !c.authed && !hasFlag(cmd, "noauth") && name != "quit" {
		c.err("NOAUTH Authentication required.")
		return
	}
	if (cmd.arity > 0 && len(args) != cmd.arity) || (cmd.arity < 0 && len(args) < -cmd.arity) {
		c.wrongArgs(name)
		return
	}
	if c.sub != nil && !allowedSubscribed(name) {
		c.err("ERR Can't execute '" + name + "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
		return
	}
	cmd.run(c, args)
}

func hasFlag(cmd *command, flag string) bool {
	for _, f := range cmd.flags {
		if f == flag {
			return true
		}
	}
	return false
}

func allowedSubscribed(name string) bool {
	switch name {
	case "subscribe", "unsubscribe", "ping", "quit":
		return true
	}
	return false
}

// argsPreview quotes the first arguments of an unknown command, as Redis's
// error does.
func argsPreview(args [][]byte) string {
	var b strings.Builder
	for i, a := range args {
		if i == 8 || b.Len() > 128 {
			break
		}
		b.WriteString("'" + truncate(string(a), 32) + "' ")
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// engineError replies with an engine error as Redis clients expect one.
func (c *client) engineError(err error) {
	switch {
	case errors.Is(err, kv.ErrEmptyKey):
		c.err("ERR empty keys are not supported")
	case errors.Is(err, kv.ErrKeyTooLarge):
		c.err("ERR key too large: the limit is " + strconv.Itoa(kv.DefaultMaxKeySize) + " bytes")
	case errors.Is(err, kv.ErrValueTooLarge):
		c.err("ERR " + err.Error())
	case errors.Is(err, kv.ErrReadOnly):
		c.err("READONLY You can't write against a read only store.")
	default:
		c.err("ERR " + strings.ReplaceAll(strings.ReplaceAll(err.Error(), "\r", " "), "\n", " "))
	}
}

// parseInt parses a decimal argument as Redis does.
func parseInt(b []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil
}
