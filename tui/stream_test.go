package tui

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

// maxHeld is the most of a streamed value the viewer may hold in mode:
// one part, and for text the bytes that finish its last character.
func maxHeld(mode ViewMode) int {
	if mode == ModeHex {
		return maxHexRender
	}
	return maxTextRender + utf8.UTFMax - 1
}

// checkHeld fails the test if the viewer holds more than one part of its
// streamed value.
func checkHeld(tb testing.TB, v Viewer, when string) {
	tb.Helper()
	if !v.streamed {
		tb.Fatalf("%s: the value is not streamed", when)
	}
	if len(v.value) > maxHeld(v.mode) {
		tb.Fatalf("%s: the viewer holds %d bytes of the value, more than a part in %s", when, len(v.value), v.mode)
	}
}

// TestViewerStreamsLargeValue checks that a value over the render limit
// is paged through to its last byte, in text and in hex, while the viewer
// holds one part of it at a time.
func TestViewerStreamsLargeValue(t *testing.T) {
	const n = 5 << 20 / 13 // 5 MiB of 13-byte lines
	value := numberedLines(n)
	db := openTestDB(t, "", "a-small", "tiny", "big", string(value))
	m := loadedModel(t, db)
	m = update(t, m, keyMsg("down")) // select "big"
	if m.viewer.Key() != "big" {
		t.Fatalf("selected %q", m.viewer.Key())
	}
	checkHeld(t, m.viewer, "loaded")
	if view := m.viewer.View(); !strings.Contains(view, "line 0000000") || !strings.Contains(view, "part 1/5") {
		t.Fatalf("the first part is not shown:\n%s", view)
	}
	if _, ok := m.viewer.Value(); ok {
		t.Error("Value reports a streamed value as held whole")
	}

	m = update(t, m, keyMsg("tab")) // focus the value
	m = update(t, m, keyMsg("G"))
	checkHeld(t, m.viewer, "after G")
	if m.viewer.base+len(m.viewer.value) != len(value) {
		t.Fatalf("after G the viewer holds bytes %d-%d, not the end of %d", m.viewer.base, m.viewer.base+len(m.viewer.value), len(value))
	}
	last := fmt.Sprintf("line %07d", n-1)
	if view := m.View(); !strings.Contains(view, last) || !strings.Contains(view, "part 5/5") {
		t.Fatalf("G did not reach %q:\n%s", last, view)
	}
	if !bytes.Equal(m.viewer.value, value[m.viewer.base:]) {
		t.Fatal("the last part holds the wrong bytes")
	}

	m = update(t, m, keyMsg("g"))
	checkHeld(t, m.viewer, "after g")
	if view := m.View(); !strings.Contains(view, "line 0000000") {
		t.Fatalf("g did not return to the start:\n%s", view)
	}
	// Paging down past the end of the first part loads the second.
	m.viewer.vp.GotoBottom()
	m = update(t, m, keyMsg("pgdown"))
	checkHeld(t, m.viewer, "after paging on")
	if m.viewer.part != 1 || m.viewer.base != maxTextRender {
		t.Fatalf("paging past the first part shows part %d from %d", m.viewer.part, m.viewer.base)
	}

	m = update(t, m, keyMsg("v")) // json
	m = update(t, m, keyMsg("v")) // hex
	if m.viewer.Mode() != ModeHex {
		t.Fatalf("mode %s", m.viewer.Mode())
	}
	checkHeld(t, m.viewer, "in hex")
	m = update(t, m, keyMsg("G"))
	checkHeld(t, m.viewer, "after G in hex")
	lastRow := fmt.Sprintf("%08x", (len(value)-1)/16*16)
	if view := m.View(); !strings.Contains(view, lastRow) {
		t.Fatalf("G did not reach the last hex row %s:\n%s", lastRow, view)
	}
}

// TestViewerDropsLatePart checks that a part that arrives after the
// viewer asked for another is not shown.
func TestViewerDropsLatePart(t *testing.T) {
	value := numberedLines(3 << 20 / 13)
	db := openTestDB(t, "", "big", string(value))
	m := loadedModel(t, db)
	m = update(t, m, keysLoadedMsg{keys: db.Keys(nil)})
	m = update(t, m, keyMsg("tab"))
	tm, toEnd := m.Update(keyMsg("G"))
	tm, toTop := tm.Update(keyMsg("g"))
	m = tm.(Model)
	if toEnd == nil || toTop == nil {
		t.Fatal("moving between parts of a streamed value loads nothing")
	}
	top, end := runCmd(toTop), runCmd(toEnd)
	for _, msg := range append(top, end...) { // the reply for G comes last
		tm, _ = m.Update(msg)
		m = tm.(Model)
	}
	if m.viewer.part != 0 || m.viewer.base != 0 {
		t.Fatalf("a late reply replaced the part asked for last: part %d from %d", m.viewer.part, m.viewer.base)
	}
	if view := m.View(); !strings.Contains(view, "line 0000000") {
		t.Fatalf("the first part is not shown:\n%s", view)
	}
}

// TestViewerStreamedPartsCutOnCharacters checks that the parts of a
// streamed text value, whose part size falls inside characters, join up
// into the value with no byte lost or repeated.
func TestViewerStreamedPartsCutOnCharacters(t *testing.T) {
	value := []byte(strings.Repeat("€", 3<<20/3+1)) // 3 bytes each
	db := openTestDB(t, "", "euro", string(value))
	v := NewViewer(NewCommon())
	v.store = NewDBStore(db, nil)
	v.SetSize(80, 20)
	msg := loadValueCmd(v.store, 1, "euro")().(valueLoadedMsg)
	if msg.err != nil || !msg.streamed {
		t.Fatalf("loaded %v, streamed %v", msg.err, msg.streamed)
	}
	v.SetStreamed(msg.key, msg.value, msg.info)
	if v.mode != ModeText {
		t.Fatalf("mode %s", v.mode)
	}
	var joined []byte
	parts := partCount(len(value), ModeText)
	for p := range parts {
		if cmd := v.showPart(p, false); cmd != nil {
			v.SetPart(cmd().(partLoadedMsg))
		}
		checkHeld(t, v, fmt.Sprintf("part %d", p))
		start, end := partRange(v.span(), v.mode, p)
		part := v.value[start-v.base : end-v.base]
		if !utf8.Valid(part) {
			t.Fatalf("part %d, bytes %d-%d, cuts a character", p, start, end)
		}
		joined = append(joined, part...)
	}
	if !bytes.Equal(joined, value) {
		t.Fatalf("the parts join into %d bytes, not the value's %d", len(joined), len(value))
	}
}

// TestStreamedValueEditAndCopy checks that the external editor gets the
// whole of a streamed value, read when asked for, and that copying it is
// refused with its size.
func TestStreamedValueEditAndCopy(t *testing.T) {
	value := numberedLines(2 << 20 / 13)
	db := openTestDB(t, "", "big", string(value))
	m := loadedModel(t, db)
	m = update(t, m, keysLoadedMsg{keys: db.Keys(nil)})
	checkHeld(t, m.viewer, "loaded")

	cmd := m.startExternalEdit()
	if cmd == nil {
		t.Fatal("no editor for a streamed value")
	}
	ready, ok := cmd().(editorReadyMsg)
	if !ok || ready.err != nil {
		t.Fatalf("editor not ready: %#v", ready.err)
	}
	defer os.Remove(ready.path)
	got, err := os.ReadFile(ready.path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, value) || !bytes.Equal(ready.orig, value) {
		t.Fatalf("the editor got %d bytes of the %d-byte value", len(got), len(value))
	}

	if cmd := m.startCopy(true); cmd != nil {
		t.Fatal("a streamed value was copied")
	}
	if !strings.Contains(m.status.text, "too large for the terminal's clipboard") {
		t.Fatalf("status %q", m.status.text)
	}
}
