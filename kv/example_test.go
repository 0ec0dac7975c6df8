package kv_test

import (
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/crabkv/crabkv/kv"
)

func Example() {
	dir, err := os.MkdirTemp("", "crabkv-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// nil options: every write is fsynced before it returns, and the log is
	// compacted in the background once a third of it is stale.
	db, err := kv.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	if err := db.Put([]byte("user:1"), []byte(`{"name":"Ferris"}`)); err != nil {
		log.Fatal(err)
	}
	if err := db.Put([]byte("user:2"), []byte(`{"name":"Gopher"}`)); err != nil {
		log.Fatal(err)
	}
	v, err := db.Get([]byte("user:1"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("user:1 = %s\n", v)

	if err := db.Delete([]byte("user:1")); err != nil {
		log.Fatal(err)
	}
	if _, err := db.Get([]byte("user:1")); errors.Is(err, kv.ErrNotFound) {
		fmt.Println("user:1 is gone")
	}

	db.Ascend([]byte("user:"), func(key []byte) bool {
		fmt.Printf("key %s\n", key)
		return true
	})

	if err := db.Compact(); err != nil {
		log.Fatal(err)
	}
	st := db.Stats()
	fmt.Printf("%d key, %d stale bytes after compaction\n", st.Keys, st.StaleBytes)
	// Output:
	// user:1 = {"name":"Ferris"}
	// user:1 is gone
	// key user:2
	// 1 key, 0 stale bytes after compaction
}

// ExampleDB_Subscribe watches a compaction's progress.
func ExampleDB_Subscribe() {
	dir, _ := os.MkdirTemp("", "crabkv-example")
	defer os.RemoveAll(dir)
	db, err := kv.Open(dir, &kv.Options{NoSync: true})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	for i := range 1000 {
		db.Put([]byte("counter"), []byte(fmt.Sprint(i)))
	}

	events, cancel := db.Subscribe()
	defer cancel()
	go db.Compact()
	for ev := range events {
		switch ev.Kind {
		case kv.CompactionStarted:
			fmt.Printf("started: %d of %d bytes stale\n", ev.StaleBytes, ev.LogBytes)
		case kv.CompactionFinished:
			fmt.Printf("finished: %d -> %d bytes, kept %d records\n", ev.OldSize, ev.NewSize, ev.Kept)
			return
		case kv.CompactionFailed:
			log.Fatal(ev.Err)
		}
	}
	// Output:
	// started: 25864 of 25954 bytes stale
	// finished: 25954 -> 90 bytes, kept 1 records
}

// A transfer between two accounts is a batch: after a crash both
// balances are updated or neither is, and no reader sees one without the
// other.
func ExampleDB_Update() {
	dir, err := os.MkdirTemp("", "crabkv-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := kv.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	err = db.Update(func(b *kv.Batch) error {
		b.Put([]byte("balance:alice"), []byte("70"))
		b.Put([]byte("balance:bob"), []byte("130"))
		b.Delete([]byte("pending:transfer-1"))
		return nil // an error here writes nothing
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, k := range db.Keys([]byte("balance:")) {
		v, _ := db.Get([]byte(k))
		fmt.Printf("%s = %s\n", k, v)
	}
	// Output:
	// balance:alice = 70
	// balance:bob = 130
}
