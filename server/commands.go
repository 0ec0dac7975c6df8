package server

import (
	"errors"
	"strconv"
	"strings"
	"time"

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
	// idx is the command's place in commandList, which indexes its
	// metrics; noauth is whether it runs before AUTH.
	idx    int
	noauth bool
}

// commands finds a command by its lower-case name, and commandList lists
// them; init fills both, since some handlers read them (COMMAND).
var (
	commands    map[string]*command
	commandList []*command
	// The commands a write run carries, and GET, which lookupCommand
	// finds without the map.
	setCommand, delCommand, unlinkCommand, msetCommand, getCommand *command
	// The commands the event loop runs that take key stripes.
	mgetCommand, getrangeCommand *command
)

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
		{name: "msetnx", arity: -3, flags: []string{"write"}, first: 1, last: -1, step: 2, run: (*client).msetnx},
		{name: "getrange", arity: 4, flags: []string{"readonly"}, first: 1, last: 1, step: 1, run: (*client).getrange},
		{name: "strlen", arity: 2, flags: []string{"readonly", "fast"}, first: 1, last: 1, step: 1, run: (*client).strlen},
		{name: "keys", arity: 2, flags: []string{"readonly"}, run: (*client).keys},
		{name: "scan", arity: -2, flags: []string{"readonly"}, run: (*client).scan},
		{name: "dbsize", arity: 1, flags: []string{"readonly", "fast"}, run: (*client).dbsize},
		{name: "info", arity: -1, flags: []string{"loading", "stale"}, run: (*client).info},
		{name: "command", arity: -1, flags: []string{"loading", "stale"}, run: (*client).commandCmd},
		{name: "client", arity: -2, flags: []string{"loading", "stale"}, run: (*client).clientCmd},
		{name: "config", arity: -2, flags: []string{"admin", "noscript", "loading", "stale"}, run: (*client).configCmd},
		{name: "select", arity: 2, flags: []string{"loading", "stale", "fast"}, run: (*client).selectCmd},
		{name: "flushdb", arity: -1, flags: []string{"write"}, run: (*client).flushdb},
		{name: "subscribe", arity: -2, flags: []string{"pubsub", "noscript", "loading", "stale"}, run: (*client).subscribe},
		{name: "unsubscribe", arity: -1, flags: []string{"pubsub", "noscript", "loading", "stale"}, run: (*client).unsubscribe},
		{name: "crabkv.compact", arity: 1, flags: []string{"write"}, run: (*client).compact},
		{name: "crabkv.stats", arity: 1, flags: []string{"readonly"}, run: (*client).stats},
		{name: "readonly", arity: 1, flags: []string{"fast", "loading", "stale"}, run: (*client).readonly},
		{name: "readwrite", arity: 1, flags: []string{"fast", "loading", "stale"}, run: (*client).readwrite},
	}
	register(list...)
	setCommand, delCommand, unlinkCommand, msetCommand = commands["set"], commands["del"], commands["unlink"], commands["mset"]
	getCommand = commands["get"]
	mgetCommand, getrangeCommand = commands["mget"], commands["getrange"]
}

// register adds cmds to commands and commandList. The files that declare
// commands call it from their init functions.
func register(cmds ...*command) {
	if commands == nil {
		commands = map[string]*command{}
	}
	for _, cmd := range cmds {
		if len(cmd.name) > maxCommandName {
			panic("server: command name longer than maxCommandName: " + cmd.name)
		}
		if commands[cmd.name] != nil {
			panic("server: command registered twice: " + cmd.name)
		}
		cmd.idx = len(commandList)
		cmd.noauth = hasFlag(cmd, "noauth") || cmd.name == "quit"
		commands[cmd.name] = cmd
		commandList = append(commandList, cmd)
	}
}

// lookupCommand finds a command by its name in any case, without
// allocating; nil if there is none.
func lookupCommand(name []byte) *command {
	// GET and SET, most of what a store is sent, skip the map's hash.
	// b|0x20 lower-cases a letter, and only the two cases of a letter
	// give its lower case.
	if len(name) == 3 && name[1]|0x20 == 'e' && name[2]|0x20 == 't' {
		switch name[0] | 0x20 {
		case 'g':
			return getCommand
		case 's':
			return setCommand
		}
	}
	var buf [maxCommandName]byte
	if len(name) > len(buf) {
		return nil
	}
	for i, b := range name {
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		buf[i] = b
	}
	return commands[string(buf[:len(name)])] // the conversion does not allocate
}

// maxCommandName is at least the longest command name.
const maxCommandName = 24

// dispatchCmd runs one request whose command (nil if unknown) the caller
// looked up, and counts it in the metrics.
func (c *client) dispatchCmd(cmd *command, args [][]byte) {
	start := c.lastNow
	mark := len(c.out)
	c.exec(cmd, args)
	idx := len(commandList)
	if cmd != nil {
		idx = cmd.idx
	}
	// An error reply starts with '-'; a flush in between (a subscription)
	// leaves the buffer shorter than mark, and then the reply was not one.
	failed := len(c.out) > mark && c.out[mark] == '-'
	c.lastNow = time.Since(c.clock)
	c.counts.observe(idx, failed, c.lastNow-start)
}

// exec runs one request. It never panics on any argument array: a
// handler's panic would take the whole server down, so handlers check
// their arguments, and the arity is checked here first.
func (c *client) exec(cmd *command, args [][]byte) {
	if cmd == nil && c.authed && c.sub == nil && c.extension(args) {
		return
	}
	if cmd == nil {
		c.err("ERR unknown command '" + truncate(string(args[0]), 128) + "', with args beginning with: " + argsPreview(args[1:]))
		return
	}
	if !c.authed && !cmd.noauth {
		c.err("NOAUTH Authentication required.")
		return
	}
	if (cmd.arity > 0 && len(args) != cmd.arity) || (cmd.arity < 0 && len(args) < -cmd.arity) {
		c.wrongArgs(cmd.name)
		return
	}
	if c.sub != nil && !allowedSubscribed(cmd.name) {
		c.err("ERR Can't execute '" + cmd.name + "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
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
	if e, ok := asError(err); ok {
		c.err(e.RESPError())
		return
	}
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

// parseInt parses an integer argument as Redis does (string2ll): an
// optional minus, then 0 alone or digits without a leading zero, within
// int64. A plus sign, "01" and "-0" are not integers: a client that sends
// them to Redis gets an error, and gets the same here.
func parseInt(b []byte) (int64, bool) {
	digits := b
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || digits[0] < '0' || digits[0] > '9' || (digits[0] == '0' && len(b) > 1) {
		return 0, false
	}
	return parseDecimal(b)
}
