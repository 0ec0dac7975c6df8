package tui

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/crabkv/crabkv/kv"
)

func TestDetectDelimiter(t *testing.T) {
	for _, c := range []struct {
		keys []string
		want byte
	}{
		{[]string{"user:1", "user:2", "a/b"}, ':'},
		{[]string{"a/b/c", "a/d", "x:y"}, '/'},
		{[]string{"plain", "keys"}, '/'},
		{nil, '/'},
	} {
		if got := detectDelimiter(c.keys); got != c.want {
			t.Errorf("detectDelimiter(%q) = %q, want %q", c.keys, got, c.want)
		}
	}
}

// refGroups counts, for every group prefix (a key's bytes up to and
// including a delimiter), the keys below it and their total size, the
// slow way.
func refGroups(sizes map[string]int, delim byte) map[string][2]int64 {
	out := map[string][2]int64{}
	for k, n := range sizes {
		for i := 0; i < len(k); i++ {
			if k[i] == delim {
				g := out[k[:i+1]]
				out[k[:i+1]] = [2]int64{g[0] + 1, g[1] + int64(n)}
			}
		}
	}
	return out
}

// treeGroups lists every group of the tree below n with its figures.
func treeGroups(n *treeNode, out map[string][2]int64) {
	for _, g := range n.groups {
		out[g.prefix] = [2]int64{int64(g.keys), g.bytes}
		treeGroups(g, out)
	}
}

func TestTreeCountsMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := map[string]int{}
	parts := []string{"a", "b", "user", "x:y", ""}
	for range 2000 {
		var segs []string
		for range 1 + rng.IntN(4) {
			segs = append(segs, parts[rng.IntN(len(parts))]+fmt.Sprint(rng.IntN(5)))
		}
		sizes[strings.Join(segs, "/")] = rng.IntN(500)
	}
	keys := make([]string, 0, len(sizes))
	for k := range sizes {
		keys = append(keys, k)
	}
	for _, order := range []string{"sorted", "shuffled"} {
		if order == "sorted" {
			slices.Sort(keys)
		} else {
			rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		}
		for _, delim := range treeDelimiters {
			root := newTreeNode("")
			var total int64
			for _, k := range keys {
				root.add(k, sizes[k], delim)
				total += int64(sizes[k])
			}
			got := map[string][2]int64{}
			treeGroups(root, got)
			want := refGroups(sizes, delim)
			if len(got) != len(want) {
				t.Fatalf("%s, %q: %d groups, want %d", order, delim, len(got), len(want))
			}
			for p, w := range want {
				if got[p] != w {
					t.Fatalf("%s, %q: group %q has %v (keys, bytes), want %v", order, delim, p, got[p], w)
				}
			}
			if root.keys != len(keys) || root.bytes != total {
				t.Fatalf("root: %d keys %d bytes, want %d and %d", root.keys, root.bytes, len(keys), total)
			}
		}
	}
}

// treeStore is a store with keys in groups: 3 under user/ (of 2 and 1
// deeper), 2 under cfg/, 1 alone.
func treeStore(tb testing.TB) *kv.DB {
	return openTestDB(tb, "",
		"user/1/name", "alice",
		"user/1/mail", "alice@example.com",
		"user/2/name", "bob",
		"cfg/a", "1234567890",
		"cfg/b", "x",
		"lonely", "value of lonely")
}

func TestTreeExpandsAndCollapses(t *testing.T) {
	m := loadedModel(t, treeStore(t))
	m = drive(t, m, "t")
	// user/: 5+17+3 = 25 bytes; cfg/: 11 bytes.
	wantScreen(t, m, `Tree by "/"`, "6 keys · 51 B", "▸ cfg/", "2 keys  11 B", "▸ user/", "3 keys  25 B", "lonely")
	m = drive(t, m, "j", "enter") // down to user/, and open it
	wantScreen(t, m, "▾ user/", "▸ 1/", "2 keys  22 B", "▸ 2/", "1 key  3 B")
	m = drive(t, m, "j", "right")
	wantScreen(t, m, "▾ 1/", "mail", "17 B", "name", "5 B")
	m = drive(t, m, "j", "enter") // the key user/1/mail: its value
	wantScreen(t, m, "alice@example.com")
	if m.viewer.Key() != "user/1/mail" {
		t.Fatalf("viewer shows %q", m.viewer.Key())
	}
	m = drive(t, m, "left") // from the key: closes its group
	wantScreen(t, m, "▸ 1/")
	if r, _ := m.tree.selected(); r.group == nil || r.group.prefix != "user/1/" {
		t.Fatalf("cursor on %+v after closing, want the group user/1/", r)
	}
	m = drive(t, m, "left", "left") // user/1/ is closed: close user/
	wantScreen(t, m, "▸ user/")
	m = drive(t, m, "esc")
	if m.state != stateBrowse {
		t.Fatalf("state %v after esc, want browsing", m.state)
	}
}

func TestTreeDetectsAndSwitchesDelimiter(t *testing.T) {
	db := openTestDB(t, "", "user:1:name", "a", "user:2:name", "bb", "user:2:mail", "ccc", "path/x", "dddd")
	m := drive(t, loadedModel(t, db), "t")
	wantScreen(t, m, `Tree by ":"`, "▸ user:", "3 keys  6 B", "path/x")
	m = drive(t, m, "s")
	wantScreen(t, m, `Tree by "/"`, "▸ path/", "1 key  4 B", "user:2:mail")
	if m.tree.Delimiter() != '/' || !m.tree.Done() {
		t.Fatalf("tree by %q, done %v", m.tree.Delimiter(), m.tree.Done())
	}
}

// TestInspectorTree runs the tree in a test terminal: it opens, fills in
// from the scan, and opens a group.
func TestInspectorTree(t *testing.T) {
	tm := startInspector(t, treeStore(t), Config{})
	waitFor(t, tm, "lonely")
	press(tm, "t")
	waitFor(t, tm, `Tree by "/"`, "6 keys · 51 B")
	press(tm, "j", "enter")
	waitFor(t, tm, "▾ user/", "2 keys  22 B")
	press(tm, "esc")
	m := quit(t, tm)
	if m.state != stateBrowse || !m.tree.Done() {
		t.Fatalf("state %v, scan done %v", m.state, m.tree.Done())
	}
}

// TestTreeScanInBatches builds the tree of more keys than one batch holds,
// through the Store's stream, and checks its figures against the store's.
func TestTreeScanInBatches(t *testing.T) {
	db := openTestDB(t, "")
	b := db.NewBatch()
	var total int64
	n := 3*treeBatch + 17
	for i := range n {
		v := strings.Repeat("v", i%97)
		b.Put([]byte(fmt.Sprintf("g%d/k%05d", i%7, i)), []byte(v))
		total += int64(len(v))
	}
	if err := db.Write(b); err != nil {
		t.Fatal(err)
	}
	m := drive(t, loadedModel(t, db), "t")
	wantScreen(t, m, groupDigits(n)+" keys · "+FormatBytes(total))
	if m.tree.root.keys != n || m.tree.root.bytes != total || len(m.tree.root.groups) != 7 {
		t.Fatalf("tree: %d keys, %d bytes, %d groups; want %d, %d, 7", m.tree.root.keys, m.tree.root.bytes, len(m.tree.root.groups), n, total)
	}
}
