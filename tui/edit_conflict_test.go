package tui

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/crabkv/crabkv/kv"
)

// TestEditConflictChanged edits k in the built-in editor while another
// writer changes it: the save must write nothing and say that k changed;
// a second ctrl+s, which the status offers, overwrites it.
func TestEditConflictChanged(t *testing.T) {
	db := openTestDB(t, "", "k", "version 1")
	tm := startInspector(t, db, Config{})
	waitFor(t, tm, "key k", "offset ")
	press(tm, "e")
	waitFor(t, tm, "editing k")
	if err := db.Put([]byte("k"), []byte("version 2")); err != nil {
		t.Fatal(err)
	}
	typeText(tm, "Z")
	press(tm, "ctrl+s")
	waitFor(t, tm, "k changed since the edit began")
	if got := getValue(t, db, "k"); got != "version 2" {
		t.Fatalf("the save wrote over the other writer's value: k = %q", got)
	}
	press(tm, "ctrl+s")
	waitFor(t, tm, "saved k")
	quit(t, tm)
	if got := getValue(t, db, "k"); got != "Zversion 1" {
		t.Errorf("after the second ctrl+s, k = %q, want %q", got, "Zversion 1")
	}
}

// TestEditConflictDeleted edits k while another writer deletes it, and
// while it expires: the save must not bring it back unasked, and, as k
// had an expiry, not without one unasked either.
func TestEditConflictDeleted(t *testing.T) {
	for _, how := range []string{"deleted", "expired"} {
		t.Run(how, func(t *testing.T) {
			db := openTestDB(t, "", "a", "1")
			ttl := time.Hour
			if how == "expired" {
				ttl = time.Second
			}
			if err := db.PutTTL([]byte("k"), []byte("token"), ttl); err != nil {
				t.Fatal(err)
			}
			tm := startInspector(t, db, Config{})
			waitFor(t, tm, "key a", "offset ")
			press(tm, "j")
			waitFor(t, tm, "key k", "expires in")
			press(tm, "e")
			waitFor(t, tm, "editing k")
			if how == "deleted" {
				if err := db.Delete([]byte("k")); err != nil {
					t.Fatal(err)
				}
			} else {
				time.Sleep(1500 * time.Millisecond)
			}
			typeText(tm, "Z")
			press(tm, "ctrl+s")
			waitFor(t, tm, "k is gone since the edit began")
			if v, err := db.Get([]byte("k")); !errors.Is(err, kv.ErrNotFound) {
				t.Fatalf("the save brought k back: %q, %v", v, err)
			}
			// k had an expiry: written again with it "kept", it would
			// never expire. The save asks for one first.
			press(tm, "ctrl+s")
			waitFor(t, tm, "k had an expiry")
			press(tm, "tab")
			typeText(tm, "none")
			press(tm, "ctrl+s")
			waitFor(t, tm, "created k")
			quit(t, tm)
			if got := getValue(t, db, "k"); got != "Ztoken" {
				t.Errorf("after the TTL is given, k = %q, want Ztoken", got)
			}
		})
	}
}

// TestExternalEditConflict edits k in $EDITOR while another writer
// changes it: nothing is written, and the edit is kept in its file, which
// the status names.
func TestExternalEditConflict(t *testing.T) {
	dir := t.TempDir()
	started, goOn, kept := filepath.Join(dir, "started"), filepath.Join(dir, "go"), filepath.Join(dir, "path")
	db := openTestDB(t, "", "k", "tab\tversion 1")
	getenv := editorScript(t, `echo "$1" > `+kept+`; touch `+started+`; while [ ! -f `+goOn+` ]; do sleep 0.02; done; printf X >> "$1"`)
	tm := startInspector(t, db, Config{Getenv: getenv})
	waitFor(t, tm, "key k", "offset ")
	press(tm, "e")
	waitForFile(t, started)
	if err := db.Put([]byte("k"), []byte("version 2")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goOn, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, tm, "k changed since the edit began")
	quit(t, tm)
	if got := getValue(t, db, "k"); got != "version 2" {
		t.Errorf("the save wrote over the other writer's value: k = %q", got)
	}
	checkEditKept(t, kept, "tab\tversion 1X")
}

// TestExternalEditKeptOnFailedSave edits in $EDITOR a value whose save
// then fails: the edited file must stay, for the edit not to be lost.
func TestExternalEditKeptOnFailedSave(t *testing.T) {
	kept := filepath.Join(t.TempDir(), "path")
	db := openTestDB(t, "", "k", "tab\there")
	getenv := editorScript(t, `echo "$1" > `+kept+`; printf 'EDIT' >> "$1"`)
	tm := startInspector(t, db, Config{Getenv: getenv, OpenWriter: func() (*kv.DB, error) {
		return nil, errors.New("locked by pid 4242")
	}})
	waitFor(t, tm, "key k", "offset ")
	press(tm, "e")
	waitFor(t, tm, "locked by pid 4242")
	quit(t, tm)
	checkEditKept(t, kept, "tab\thereEDIT")
}

// waitForFile waits until path exists.
func waitForFile(tb testing.TB, path string) {
	tb.Helper()
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s never appeared", path)
		}
	}
}

// checkEditKept checks that the file the stand-in editor named in kept
// still holds want.
func checkEditKept(tb testing.TB, kept, want string) {
	tb.Helper()
	p, err := os.ReadFile(kept)
	if err != nil {
		tb.Fatal(err)
	}
	path := strings.TrimSpace(string(p))
	got, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("the edited file is gone: %v", err)
	}
	if string(got) != want {
		tb.Errorf("the edited file holds %q, want %q", got, want)
	}
	_ = os.Remove(path)
}

// TestViKeepsEveryByte: Vim, as vi or named alone in $EDITOR, is started
// in binary mode, which adds no final newline and reads CR LF as bytes; an
// editor given with arguments runs as given, and so does a vi that is not
// Vim, which has no -b.
func TestViKeepsEveryByte(t *testing.T) {
	resolved := map[string]string{
		"vi":            "/usr/bin/vim.basic",
		"vim":           "/usr/bin/vim",
		"/usr/bin/nvim": "/usr/bin/nvim",
		"nano":          "/usr/bin/nano",
		"busybox-vi":    "/bin/busybox",
	}
	defer func(r func(string) string) { resolveEditor = r }(resolveEditor)
	resolveEditor = func(name string) string { return resolved[name] }
	for env, want := range map[string]string{
		"":              "vi -b",
		"vim":           "vim -b",
		"/usr/bin/nvim": "/usr/bin/nvim -b",
		"vim -u NONE":   "vim -u NONE",
		"nano":          "nano",
		"code --wait":   "code --wait",
		"busybox-vi":    "busybox-vi",
	} {
		got := strings.Join(editorCommand(func(name string) string {
			if name == "EDITOR" {
				return env
			}
			return ""
		}), " ")
		if got != want {
			t.Errorf("EDITOR=%q: runs %q, want %q", env, got, want)
		}
	}
}

// TestLongLinesGoToEditor: a value with a very long line is edited in
// $EDITOR: the built-in editor took seconds a keystroke on a line of a
// mebibyte.
func TestLongLinesGoToEditor(t *testing.T) {
	if reason := inPlaceProblem([]byte(strings.Repeat("abcdefgh", 1<<17))); reason == "" {
		t.Error("a line of 1 MiB goes to the built-in editor")
	}
	if reason := inPlaceProblem([]byte(strings.Repeat("short line\n", 5000))); reason != "" {
		t.Errorf("5000 short lines go to $EDITOR: %s", reason)
	}
}

// applyCmd runs cmd and hands the messages it returns to m, as the program
// would.
func applyCmd(m Model, cmd tea.Cmd) Model {
	for _, msg := range runCmdNoTicks(cmd) {
		next, _ := m.Update(msg)
		m = next.(Model)
	}
	return m
}

// pressCmd presses k and returns the command it started, unrun.
func pressCmd(m Model, k string) (Model, tea.Cmd) {
	next, cmd := m.Update(keyMsg(k))
	return next.(Model), cmd
}

// TestEditConflictLateAnswer saves an edit of a that another writer
// changed, and, before the answer comes back, leaves a's form for b's:
// the answer must not arm b's form to overwrite unasked, nor close it.
func TestEditConflictLateAnswer(t *testing.T) {
	db := openTestDB(t, "", "a", "A1", "b", "B1")
	m := loadedModel(t, db)
	m = applyCmd(m, m.syncSelection(true))
	m = pressModel(t, m, "e", "Z")
	m, saveA := pressCmd(m, "ctrl+s")
	if err := db.Put([]byte("a"), []byte("A2")); err != nil {
		t.Fatal(err)
	}
	m = pressModel(t, m, "esc", "j")
	m = applyCmd(m, m.syncSelection(true))
	m = pressModel(t, m, "e")
	if m.state != stateForm || m.form.Key() != "b" {
		t.Fatalf("state %d, form on %q; want b's form", m.state, m.form.Key())
	}
	m = applyCmd(m, saveA) // a's answer: changed
	if m.state != stateForm || m.form.Key() != "b" {
		t.Fatalf("a's answer closed b's form (state %d, form on %q)", m.state, m.form.Key())
	}
	if !strings.Contains(m.status.text, "a changed since the edit began") || strings.Contains(m.status.text, "ctrl+s") {
		t.Errorf("status %q: want a's refusal, with no offer to overwrite", m.status.text)
	}
	if err := db.Put([]byte("b"), []byte("B2")); err != nil {
		t.Fatal(err)
	}
	m = pressModel(t, m, "Y")
	m, saveB := pressCmd(m, "ctrl+s")
	m = applyCmd(m, saveB)
	if got := getValue(t, db, "b"); got != "B2" {
		t.Errorf("b's first save wrote over another writer's change: b = %q", got)
	}
	if !strings.Contains(m.status.text, "b changed since the edit began") {
		t.Errorf("status %q, want b's refusal", m.status.text)
	}
}

// TestEditDoubleSave presses ctrl+s twice before the first save answers:
// the second must wait for it, not race it and report "not saved".
func TestEditDoubleSave(t *testing.T) {
	db := openTestDB(t, "", "a", "A1")
	m := loadedModel(t, db)
	m = applyCmd(m, m.syncSelection(true))
	m = pressModel(t, m, "e", "Z")
	m, first := pressCmd(m, "ctrl+s")
	m, second := pressCmd(m, "ctrl+s")
	m = applyCmd(m, first)
	m = applyCmd(m, second)
	if got := getValue(t, db, "a"); got != "ZA1" {
		t.Fatalf("a = %q, want ZA1", got)
	}
	if !strings.Contains(m.status.text, "saved a") || strings.Contains(m.status.text, "not saved") {
		t.Errorf("status %q, want saved a", m.status.text)
	}
}

// TestEditGoneKeyHadExpiry edits a key that expires meanwhile: the save
// that would create it again with its expiry "kept" would bring it back
// never to expire, so it waits for a TTL, and writes with the one given.
func TestEditGoneKeyHadExpiry(t *testing.T) {
	db := openTestDB(t, "", "a", "A1")
	if err := db.PutTTL([]byte("k"), []byte("tok"), time.Second); err != nil {
		t.Fatal(err)
	}
	m := loadedModel(t, db)
	m = pressModel(t, m, "j")
	m = applyCmd(m, m.syncSelection(true))
	m = pressModel(t, m, "e")
	if m.form.Key() != "k" {
		t.Fatalf("form on %q, want k", m.form.Key())
	}
	time.Sleep(1200 * time.Millisecond)
	m = pressModel(t, m, "Z")
	m, save := pressCmd(m, "ctrl+s")
	m = applyCmd(m, save)
	if !strings.Contains(m.status.text, "k is gone since the edit began") {
		t.Fatalf("status %q, want k gone", m.status.text)
	}
	m, save = pressCmd(m, "ctrl+s")
	m = applyCmd(m, save)
	if _, err := db.Get([]byte("k")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("the second ctrl+s, with the TTL field empty, brought k back: %v", err)
	}
	if !strings.Contains(m.status.text, "had an expiry") {
		t.Errorf("status %q, want the question of k's expiry", m.status.text)
	}
	m = pressModel(t, m, "tab")
	m = pressModel(t, m, "1", "h")
	m, save = pressCmd(m, "ctrl+s")
	m = applyCmd(m, save)
	if e, err := db.Entry([]byte("k")); err != nil || e.Expires.IsZero() || time.Until(e.Expires) > 2*time.Hour {
		t.Errorf("after a TTL of 1h: k expires %v, %v (status %q)", e.Expires, err, m.status.text)
	}
}

// TestSaveAnswerForOtherForm: a new key's save, answered "exists" after
// the user left its form for b's, must not ask about it over b's form, nor
// let a y write b's form over another writer's change.
func TestSaveAnswerForOtherForm(t *testing.T) {
	db := openTestDB(t, "", "a", "A1", "b", "B1")
	m := loadedModel(t, db)
	m = pressModel(t, m, "n", "a", "tab", "V")
	m, save := pressCmd(m, "ctrl+s")
	m = pressModel(t, m, "esc", "j")
	m = applyCmd(m, m.syncSelection(true))
	m = pressModel(t, m, "e", "Z")
	if err := db.Put([]byte("b"), []byte("B2")); err != nil {
		t.Fatal(err)
	}
	m = applyCmd(m, save) // a's answer: exists
	if m.state != stateForm || m.form.Key() != "b" {
		t.Fatalf("after a's late answer: state %d, form on %q; want b's form", m.state, m.form.Key())
	}
	m, cmd := pressCmd(m, "y")
	m = applyCmd(m, cmd)
	if got := getValue(t, db, "b"); got != "B2" {
		t.Errorf("b = %q: another writer's value was overwritten unasked", got)
	}
}

// TestNewKeyRenamedDuringSave edits the key field of a new key while its
// save is on the way: the answer is still the form's (ctrl+s works after
// it), and the overwrite question, about the key saved, writes that key
// with the value saved, not what the field holds since.
func TestNewKeyRenamedDuringSave(t *testing.T) {
	db := openTestDB(t, "", "a", "A1", "ab", "AB")
	m := loadedModel(t, db)
	m = pressModel(t, m, "n", "a", "tab", "V", "tab", "tab")
	m, save := pressCmd(m, "ctrl+s")
	m = pressModel(t, m, "end", "b")
	m = applyCmd(m, save)
	if m.state != stateConfirmOverwrite || !strings.Contains(m.status.text, "a exists") {
		t.Fatalf("state %d, status %q: want the question about a", m.state, m.status.text)
	}
	m, put := pressCmd(m, "y")
	m = applyCmd(m, put)
	if got := getValue(t, db, "ab"); got != "AB" {
		t.Errorf("ab = %q: overwritten, though the question was about a", got)
	}
	if got := getValue(t, db, "a"); got != "V" {
		t.Errorf("a = %q after y, want V", got)
	}

	// A new key renamed while its save succeeds: the form is closed, and
	// nothing is stuck.
	m = pressModel(t, m, "n", "c", "tab", "W", "tab", "tab")
	m, save = pressCmd(m, "ctrl+s")
	m = pressModel(t, m, "end", "d")
	m = applyCmd(m, save)
	if m.saving || m.state != stateBrowse || !strings.Contains(m.status.text, "created c") {
		t.Errorf("after c's save: state %d, saving %v, status %q; want browsing, created c", m.state, m.saving, m.status.text)
	}
}

// TestReopenedFormOldAnswer saves an edit of a, leaves the form and opens
// a's again: the first save's late "changed" must not arm the new form, nor
// end the wait for the new form's own save.
func TestReopenedFormOldAnswer(t *testing.T) {
	db := openTestDB(t, "", "a", "A1")
	m := loadedModel(t, db)
	m = applyCmd(m, m.syncSelection(true))
	m = pressModel(t, m, "e", "Z")
	m, first := pressCmd(m, "ctrl+s")
	if err := db.Put([]byte("a"), []byte("A2")); err != nil {
		t.Fatal(err)
	}
	m = pressModel(t, m, "esc")
	m = applyCmd(m, m.syncSelection(true))
	m = pressModel(t, m, "e", "Q")
	m, second := pressCmd(m, "ctrl+s")
	m = applyCmd(m, first)
	if m.overwriteEdit || !m.saving {
		t.Errorf("the first form's answer acted on the second: overwrite %v, saving %v", m.overwriteEdit, m.saving)
	}
	if err := db.Put([]byte("a"), []byte("A3")); err != nil {
		t.Fatal(err)
	}
	m = applyCmd(m, second)
	if got := getValue(t, db, "a"); got != "A3" {
		t.Errorf("a = %q: the second save overwrote another writer's A3", got)
	}
}
