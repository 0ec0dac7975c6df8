package tui

import (
	"errors"
	"testing"
	"time"

	"github.com/crabkv/crabkv/kv"
)

// TestEditChangedThenGoneHadExpiry edits k, which expires in an hour,
// while another writer rewrites it with a short expiry: the first save is
// refused ("changed"). When k has expired, or been deleted, by the second
// ctrl+s, that save would create it again with the expiry "kept", never to
// expire: it must write nothing and say the key is gone, so that the save
// after waits for a TTL, as a save after "gone" does.
func TestEditChangedThenGoneHadExpiry(t *testing.T) {
	for _, how := range []string{"expired", "deleted"} {
		t.Run(how, func(t *testing.T) {
			clock := newTestClock()
			db := openClockDB(t, clock, nil)
			mustPut(t, db, "a", "A1", 0)
			mustPut(t, db, "k", "tok", time.Hour)
			m := loadedModel(t, db)
			m = pressModel(t, m, "j")
			m = applyCmd(m, m.syncSelection(true))
			m = pressModel(t, m, "e")
			if m.form.Key() != "k" || !m.form.HadExpiry() {
				t.Fatalf("form on %q (had expiry %v), want k with its expiry", m.form.Key(), m.form.HadExpiry())
			}
			mustPut(t, db, "k", "other", time.Second) // another writer
			m = pressModel(t, m, "Z")
			m, save := pressCmd(m, "ctrl+s")
			m = applyCmd(m, save)
			if _, err := db.Get([]byte("k")); err != nil {
				t.Fatalf("k after the refused save: %v", err)
			}
			if how == "expired" {
				clock.Advance(2 * time.Second)
			} else if err := db.Delete([]byte("k")); err != nil {
				t.Fatal(err)
			}
			m, save = pressCmd(m, "ctrl+s")
			m = applyCmd(m, save)
			e, err := db.Entry([]byte("k"))
			switch {
			case errors.Is(err, kv.ErrNotFound):
			case err != nil:
				t.Fatal(err)
			case e.Expires.IsZero():
				t.Fatalf("k, which had an expiry, came back never to expire with the TTL field empty (status %q)", m.status.text)
			}
			// Asked once more, it still waits for a TTL: the guard of a
			// save after "gone".
			m, save = pressCmd(m, "ctrl+s")
			m = applyCmd(m, save)
			if _, err := db.Entry([]byte("k")); !errors.Is(err, kv.ErrNotFound) {
				t.Errorf("k after a third ctrl+s with the TTL field empty: %v, want it still gone (status %q)", err, m.status.text)
			}
		})
	}
}
