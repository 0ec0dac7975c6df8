package server

import (
	"sort"
	"strings"
)

// Version is the server version HELLO and INFO report.
const Version = "0.1.0"

func (c *client) ping(args [][]byte) {
	switch {
	case len(args) > 2:
		c.wrongArgs("ping")
	case c.sub != nil:
		msg := []byte{}
		if len(args) == 2 {
			msg = args[1]
		}
		c.array(2)
		c.bulkString("pong")
		c.bulk(msg)
	case len(args) == 2:
		c.bulk(args[1])
	default:
		c.simple("PONG")
	}
}

func (c *client) echo(args [][]byte) { c.bulk(args[1]) }

func (c *client) quitCmd([][]byte) {
	c.ok()
	c.quit = true
}

// hello is HELLO [protover [AUTH username password] [SETNAME name]]. Only
// RESP2 is spoken.
func (c *client) hello(args [][]byte) {
	if len(args) >= 2 {
		v, ok := parseInt(args[1])
		switch {
		case !ok:
			c.err("ERR Protocol version is not an integer or out of range")
			return
		case v != 2:
			c.err("NOPROTO sorry, this protocol version is not supported")
			return
		}
	}
	var name []byte
	setName := false
	for i := 2; i < len(args); i++ {
		switch strings.ToUpper(string(args[i])) {
		case "AUTH":
			if i+2 >= len(args) {
				c.syntaxError()
				return
			}
			if !c.login(args[i+1], args[i+2]) {
				return
			}
			i += 2
		case "SETNAME":
			if i+1 >= len(args) {
				c.syntaxError()
				return
			}
			name, setName = args[i+1], true
			i++
		default:
			c.syntaxError()
			return
		}
	}
	if !c.authed {
		c.err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if setName && !c.setName(name) {
		return
	}
	c.array(14)
	c.bulkString("server")
	c.bulkString("crabkv")
	c.bulkString("version")
	c.bulkString(Version)
	c.bulkString("proto")
	c.integer(2)
	c.bulkString("id")
	c.integer(c.id)
	c.bulkString("mode")
	c.bulkString("standalone")
	c.bulkString("role")
	c.bulkString("master")
	c.bulkString("modules")
	c.array(0)
}

// auth is AUTH [username] password; the only user is "default".
func (c *client) auth(args [][]byte) {
	if len(args) > 3 {
		c.syntaxError()
		return
	}
	user, pass := []byte("default"), args[len(args)-1]
	if len(args) == 3 {
		user = args[1]
	}
	if c.s.opts.Password == "" && len(args) == 2 {
		// Only the password alone: with a user name, the default user,
		// which then takes any password, logs in (login), as in Redis.
		c.err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
		return
	}
	if c.login(user, pass) {
		c.ok()
	}
}

// login checks a username and password and replies with an error when they
// are wrong.
func (c *client) login(user, pass []byte) bool {
	okPass := c.s.checkPassword(pass)
	if string(user) == "default" && (okPass || c.s.opts.Password == "") {
		c.authenticate()
		return true
	}
	c.err("WRONGPASS invalid username-password pair or user is disabled.")
	return false
}

func (c *client) clientCmd(args [][]byte) {
	sub := strings.ToUpper(string(args[1]))
	switch {
	case sub == "ID" && len(args) == 2:
		c.integer(c.id)
	case sub == "GETNAME" && len(args) == 2:
		c.state.Lock()
		name := c.state.name
		c.state.Unlock()
		if name == "" {
			c.null()
		} else {
			c.bulkString(name)
		}
	case sub == "SETNAME" && len(args) == 3:
		if c.setName(args[2]) {
			c.ok()
		}
	case sub == "SETINFO" && len(args) == 4:
		c.ok()
	case sub == "ID", sub == "GETNAME", sub == "SETNAME", sub == "SETINFO":
		c.err("ERR wrong number of arguments for 'client|" + strings.ToLower(sub) + "' command")
	default:
		c.err("ERR unknown subcommand '" + truncate(string(args[1]), 64) + "'. Try CLIENT HELP.")
	}
}

// setName sets the connection's name, which may not contain spaces or
// newlines, as in Redis.
func (c *client) setName(name []byte) bool {
	for _, b := range name {
		if b <= ' ' || b > '~' {
			c.err("ERR Client names cannot contain spaces, newlines or special characters.")
			return false
		}
	}
	c.state.Lock()
	c.state.name = string(name)
	c.state.Unlock()
	return true
}

func (c *client) selectCmd(args [][]byte) {
	n, ok := parseInt(args[1])
	switch {
	case !ok:
		c.notInteger()
	case n != 0:
		c.err("ERR DB index is out of range")
	default:
		c.ok()
	}
}

// commandCmd is COMMAND, COMMAND COUNT, COMMAND INFO and COMMAND DOCS:
// enough for redis-cli's completion and hints.
func (c *client) commandCmd(args [][]byte) {
	if len(args) == 1 {
		names := sortedCommandNames()
		c.array(len(names))
		for _, n := range names {
			c.commandInfo(commands[n])
		}
		return
	}
	switch strings.ToUpper(string(args[1])) {
	case "COUNT":
		c.integer(int64(len(commands)))
	case "INFO":
		c.array(len(args) - 2)
		for _, a := range args[2:] {
			if cmd := commands[strings.ToLower(string(a))]; cmd != nil {
				c.commandInfo(cmd)
			} else {
				c.null()
			}
		}
	case "DOCS":
		// No documentation is kept; redis-cli falls back to its own.
		c.array(0)
	default:
		c.err("ERR unknown subcommand '" + truncate(string(args[1]), 64) + "'. Try COMMAND HELP.")
	}
}

func (c *client) commandInfo(cmd *command) {
	c.array(6)
	c.bulkString(cmd.name)
	c.integer(int64(cmd.arity))
	c.array(len(cmd.flags))
	for _, f := range cmd.flags {
		c.simple(f)
	}
	c.integer(int64(cmd.first))
	c.integer(int64(cmd.last))
	c.integer(int64(cmd.step))
}

func sortedCommandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
