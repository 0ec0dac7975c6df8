package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/crabkv/crabkv/kv"
)

// demoStaleTarget is the stale share fillDemoData leaves behind: enough for a
// compaction to show something, below the default automatic threshold of
// one third so that the engine does not compact on its own first.
const demoStaleTarget = 0.27

// fillDemoData fills an empty store with a sample data set: JSON user
// records, text sessions, config entries, binary blobs and a few keys and
// values holding control characters, scale times over. Some values are then
// overwritten and some keys deleted until stale records make up about 27%
// of the log. The data is the same on every run. A store that already holds
// keys is left alone.
func fillDemoData(db *kv.DB, scale int) error {
	if db.Stats().Keys > 0 {
		return nil
	}
	scale = max(scale, 1)
	rng := rand.New(rand.NewPCG(42, uint64(scale)))
	d := demoData{rng: rng, scale: scale}
	for _, step := range []func(*kv.DB) error{d.users, d.sessions, d.configs, d.blobs, d.oddities} {
		if err := step(db); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	if err := d.churn(db); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}

type demoData struct {
	rng   *rand.Rand
	scale int
}

var (
	demoNames  = []string{"ada", "grace", "linus", "barbara", "ken", "margaret", "dennis", "frances", "edsger", "radia"}
	demoCities = []string{"Lisbon", "Osaka", "Nairobi", "Montréal", "Reykjavík", "Tbilisi", "Lima", "Perth"}
	demoRoles  = []string{"admin", "editor", "viewer", "billing", "support"}
)

func (d demoData) user(i int) []byte {
	name := demoNames[d.rng.IntN(len(demoNames))]
	v := map[string]any{
		"id":       i,
		"name":     fmt.Sprintf("%s %c.", strings.ToUpper(name[:1])+name[1:], 'A'+rune(d.rng.IntN(26))),
		"email":    fmt.Sprintf("%s%d@example.org", name, i),
		"city":     demoCities[d.rng.IntN(len(demoCities))],
		"roles":    []string{demoRoles[d.rng.IntN(len(demoRoles))], demoRoles[d.rng.IntN(len(demoRoles))]},
		"active":   d.rng.IntN(5) > 0,
		"balance":  float64(d.rng.IntN(1000000)) / 100,
		"login_at": fmt.Sprintf("2025-%02d-%02dT%02d:%02d:00Z", 1+d.rng.IntN(12), 1+d.rng.IntN(28), d.rng.IntN(24), d.rng.IntN(60)),
	}
	b, _ := json.Marshal(v) // a map of plain values always marshals
	return b
}

func (d demoData) users(db *kv.DB) error {
	for i := range 1500 * d.scale {
		if err := db.Put(fmt.Appendf(nil, "user:%06d", i), d.user(i)); err != nil {
			return err
		}
	}
	return nil
}

func (d demoData) session() []byte {
	return fmt.Appendf(nil, "token=%016x\nuser=user:%06d\nexpires=2026-%02d-%02d\nagent=crabkv-demo/1.0 (%s)\n",
		d.rng.Uint64(), d.rng.IntN(1500*d.scale), 1+d.rng.IntN(12), 1+d.rng.IntN(28), demoCities[d.rng.IntN(len(demoCities))])
}

func sessionKey(i int) []byte { return fmt.Appendf(nil, "session:%08x", uint32(i)*2654435761) }

func (d demoData) sessions(db *kv.DB) error {
	for i := range 800 * d.scale {
		if err := db.Put(sessionKey(i), d.session()); err != nil {
			return err
		}
	}
	return nil
}

func (d demoData) configs(db *kv.DB) error {
	sections := []string{"cache", "http", "log", "replication", "storage"}
	for i := range 150 * d.scale {
		sec := sections[i%len(sections)]
		k := fmt.Appendf(nil, "config/%s/setting-%03d", sec, i/len(sections))
		v := fmt.Appendf(nil, "%d", d.rng.IntN(10000))
		if i%3 == 0 {
			v = fmt.Appendf(nil, `{"enabled":%t,"limit":%d,"tags":["%s"]}`, d.rng.IntN(2) == 0, d.rng.IntN(1<<16), sec)
		}
		if err := db.Put(k, v); err != nil {
			return err
		}
	}
	return db.Put([]byte("config/README"), []byte(demoReadme))
}

const demoReadme = `Configuration keys live under config/<section>/.

Values are plain numbers or small JSON objects.
	Tabs and
multiple lines are shown as text.
`

func (d demoData) blob() []byte {
	b := make([]byte, 256+d.rng.IntN(8<<10))
	for i := range b {
		b[i] = byte(d.rng.Uint32())
	}
	copy(b, "\x89PNG\r\n\x1a\n")
	return b
}

func (d demoData) blobs(db *kv.DB) error {
	for i := range 300 * d.scale {
		if err := db.Put(fmt.Appendf(nil, "blob/%05d.bin", i), d.blob()); err != nil {
			return err
		}
	}
	return nil
}

// oddities are keys and values that would misbehave if written to the
// terminal raw; the inspector shows them escaped.
func (d demoData) oddities(db *kv.DB) error {
	pairs := [][2]string{
		{"weird/\x1b[2Jclear-screen", "this key holds a clear-screen sequence"},
		{"weird/\x1b]0;pwned\x07title", "this key would retitle the window"},
		{"weird/tab\there", "a key with a tab"},
		{"weird/bidi-\u202eevil", "a key with a right-to-left override"},
		{"weird/ansi-value", "red \x1b[31mRED\x1b[0m and a bell \x07 in a value"},
		{"weird/" + strings.Repeat("long-", 30) + "key", "a key longer than the pane"},
	}
	for _, p := range pairs {
		if err := db.Put([]byte(p[0]), []byte(p[1])); err != nil {
			return err
		}
	}
	return nil
}

// churn overwrites and deletes keys until the stale share reaches the
// target.
func (d demoData) churn(db *kv.DB) error {
	for i := 0; i < 1_000_000; i++ {
		s := db.Stats()
		if s.LogBytes > 0 && float64(s.StaleBytes)/float64(s.LogBytes) >= demoStaleTarget {
			return nil
		}
		var err error
		switch n := d.rng.IntN(10); {
		case n < 5:
			id := d.rng.IntN(1500 * d.scale)
			err = db.Put(fmt.Appendf(nil, "user:%06d", id), d.user(id))
		case n < 7:
			err = db.Put(fmt.Appendf(nil, "blob/%05d.bin", d.rng.IntN(300*d.scale)), d.blob())
		case n < 9:
			err = db.Put(sessionKey(d.rng.IntN(800*d.scale)), d.session())
		default:
			err = db.Delete(sessionKey(d.rng.IntN(800 * d.scale)))
		}
		if err != nil {
			return err
		}
	}
	return nil
}
