package main

import (
	"net"
	"strings"
	"testing"
)

// --connect reports a server it cannot reach before it takes the screen,
// and takes no verb.
func TestConnectErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	te := newTestEnv(t)
	te.stdoutTTY = true
	te.mustRun(t, exitError, "--connect", "redis://"+closed)
	if msg := te.errOut.String(); !strings.Contains(msg, "connection refused") {
		t.Errorf("stderr %q does not say the connection was refused", msg)
	}
	te.mustRun(t, exitError, "--connect", "redis://"+closed, "keys")
	if msg := te.errOut.String(); !strings.Contains(msg, "takes no verb") {
		t.Errorf("stderr %q", msg)
	}
	te.stdoutTTY = false
	te.mustRun(t, exitError, "--connect", "redis://"+closed)
	if msg := te.errOut.String(); !strings.Contains(msg, "needs a terminal") {
		t.Errorf("stderr %q", msg)
	}
}
