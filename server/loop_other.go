//go:build !linux

package server

import (
	"errors"
	"net"
)

// eventLoop is Linux's (see loop_linux.go); elsewhere every connection is
// served by a goroutine of its own.
type eventLoop struct{}

func (s *Server) loopFor(net.Listener) *eventLoop { return nil }

func (l *eventLoop) add(*client) error { return errNoLoop }

func (l *eventLoop) stopIfIdle() {}

func (l *eventLoop) wake() {}

var errNoLoop = errors.New("no event loop on this system")
