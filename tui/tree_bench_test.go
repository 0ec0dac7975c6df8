package tui

import (
	"testing"

	"github.com/crabkv/crabkv/kv"
)

// BenchmarkTreeScan measures building the key tree of the million-key
// store: the scan in key order with each key's size, and the tree.
func BenchmarkTreeScan(b *testing.B) {
	db, err := kv.Open(millionKeyStore(b), &kv.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s := NewDBStore(db, nil).(sizeScanner)
	b.ResetTimer()
	for range b.N {
		root := newTreeNode("")
		if err := s.ScanSizes(func(k string, n int) bool {
			root.add(k, n, ':')
			return true
		}); err != nil {
			b.Fatal(err)
		}
		if root.keys != benchKeys {
			b.Fatalf("%d keys in the tree", root.keys)
		}
	}
}

// BenchmarkTreeBatch measures what the UI goroutine does with one batch
// of the scan: adding treeBatch keys to the tree and listing its rows.
func BenchmarkTreeBatch(b *testing.B) {
	keys := make([]treeLeaf, treeBatch)
	for i := range keys {
		keys[i] = treeLeaf{key: "user:" + groupDigits(i) + ":name", size: 20}
	}
	for range b.N {
		t := Tree{common: NewCommon(), root: newTreeNode(""), delim: ':', seq: 1, scan: &treeScan{}}
		t.SetSize(50, 30)
		t.root.open = true
		t.add(treeBatchMsg{seq: 1, keys: keys, done: true})
	}
}
