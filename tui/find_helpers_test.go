package tui

import (
	"reflect"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
)

// driver runs a model's commands as the program would, in tests: it hands
// each command's message back to the model at once when it comes within a
// moment, and keeps the command waiting otherwise (a tick, the event feed,
// a slow batch of a scan), so that its message can still be delivered.
type driver struct {
	tb   testing.TB
	m    Model
	late []chan tea.Msg
}

// drive sends each key to m, then delivers messages until the tree's
// scan, if one runs, and the history's loads are over.
func drive(tb testing.TB, m Model, keys ...string) Model {
	tb.Helper()
	d := &driver{tb: tb, m: m}
	for _, k := range keys {
		d.settle(keyMsg(k))
		for d.m.tree.scan != nil || d.m.hist.loading {
			if !d.waitLate() {
				tb.Fatal("the scan or the history load never ended")
			}
		}
	}
	return d.m
}

// settle applies msg and every message that follows from it at once.
func (d *driver) settle(msg tea.Msg) {
	queue := []tea.Msg{msg}
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 100000 {
			d.tb.Fatal("the messages do not settle")
		}
		msg, queue = queue[0], queue[1:]
		if _, ok := msg.(keysLoadedMsg); ok {
			continue
		}
		tm, cmd := d.m.Update(msg)
		d.m = tm.(Model)
		queue = append(queue, d.run(cmd)...)
	}
}

// run runs cmd, and the commands of a batch, returning the messages that
// come within a moment.
func (d *driver) run(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	ch := make(chan tea.Msg, 1)
	go func() { ch <- cmd() }()
	var msg tea.Msg
	select {
	case msg = <-ch:
	case <-time.After(50 * time.Millisecond):
		d.late = append(d.late, ch)
		return nil
	}
	if batch, ok := msg.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, c := range batch {
			out = append(out, d.run(c)...)
		}
		return out
	}
	return []tea.Msg{msg}
}

// waitLate delivers the message of one command kept waiting, and reports
// whether one came.
func (d *driver) waitLate() bool {
	cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(time.After(waitTimeout))}}
	for _, ch := range d.late {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
	}
	i, v, _ := reflect.Select(cases)
	if i == 0 {
		return false
	}
	d.late = append(d.late[:i-1], d.late[i:]...)
	d.settle(v.Interface().(tea.Msg))
	return true
}

// wantScreen checks that m's screen holds every one of want.
func wantScreen(tb testing.TB, m Model, want ...string) {
	tb.Helper()
	v := m.View()
	for _, w := range want {
		if !strings.Contains(v, w) {
			tb.Fatalf("screen lacks %q:\n%s", w, v)
		}
	}
}
