package kv

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crabkv/crabkv/compact"
	"github.com/crabkv/crabkv/walfmt"
)

// ckptClock is the fixed clock of the checkpoint tests' stores.
func ckptClock() time.Time { return time.Unix(1_800_000_000, 0) }

// ckptStore opens a NoSync store in a temporary directory, with
// checkpoints off until a test asks for one, and writes n keys, every
// tenth with a TTL. It returns the store and what it holds (a key that
// expires has its value followed by "+ttl").
func ckptStore(t *testing.T, n int) (*DB, string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	db, err := Open(dir, &Options{NoSync: true, Compaction: compact.Policy{Disabled: true}, CheckpointBytes: -1, Clock: ckptClock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	want := map[string]string{}
	for i := range n {
		ckptPut(t, db, want, fmt.Sprintf("key-%06d", i), fmt.Sprintf("value-%d", i), i%10 == 0)
	}
	return db, dir, want
}

func ckptPut(t *testing.T, db *DB, want map[string]string, k, v string, ttl bool) {
	t.Helper()
	var err error
	if ttl {
		err = db.PutTTL([]byte(k), []byte(v), time.Hour)
		v += "+ttl"
	} else {
		err = db.Put([]byte(k), []byte(v))
	}
	if err != nil {
		t.Fatal(err)
	}
	want[k] = v
}

// ckptWrites overwrites, deletes and adds n keys each, the added ones
// named with tag, and some of each with a TTL.
func ckptWrites(t *testing.T, db *DB, want map[string]string, rng *rand.Rand, tag string, n int) {
	t.Helper()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i := range n {
		k := keys[rng.IntN(len(keys))]
		ckptPut(t, db, want, k, "over-"+tag, i%7 == 0)
		if k = keys[rng.IntN(len(keys))]; want[k] != "" {
			if err := db.Delete([]byte(k)); err != nil {
				t.Fatal(err)
			}
			delete(want, k)
		}
		ckptPut(t, db, want, fmt.Sprintf("new-%s-%05d", tag, i), "new", i%5 == 0)
	}
	for k, v := range want {
		if v == "" {
			delete(want, k)
		}
	}
}

// runCheckpoint has db write a checkpoint, with hook called at its start
// and after each batch, and waits for it to end.
func runCheckpoint(t *testing.T, db *DB, key string, hook func(passed int)) {
	t.Helper()
	db.testHookCheckpoint = func(passed int) {
		if passed == 0 {
			db.lockMu()
			db.opts.CheckpointBytes = -1 // this one only
			db.unlockMu()
		}
		hook(passed)
	}
	db.lockMu()
	db.opts.CheckpointBytes = 1
	db.unlockMu()
	if err := db.Put([]byte(key), []byte("starts a checkpoint")); err != nil {
		t.Fatal(err)
	}
	waitCheckpoint(t, db)
}

// waitCheckpoint waits for db's checkpoint to end.
func waitCheckpoint(t *testing.T, db *DB) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); db.ckptRunning.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the checkpoint has not ended after a minute")
		}
	}
}

// crashCopy copies the files of dir that a killed process would leave (its
// log, hint and sidecar, as the page cache holds them) into a new
// directory, and returns it.
func crashCopy(t *testing.T, dir string) string {
	t.Helper()
	return copyFiles(t, dir, []string{logName, hintName, hintName + expHintSuffix})
}

// copyFiles copies the files names of dir that exist, as the page cache
// holds them, into a new directory, and returns it.
func copyFiles(t *testing.T, dir string, names []string) string {
	t.Helper()
	to := t.TempDir()
	for _, name := range names {
		from, err := os.Open(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(to, name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, from); err != nil {
			t.Fatal(err)
		}
		from.Close()
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// checkCrashCopy opens a crash copy of dir and checks that it holds want
// (with the TTLs marked) and that its Open replayed replayed bytes.
func checkCrashCopy(t *testing.T, dir string, want map[string]string, replayed int64) {
	t.Helper()
	db, err := Open(crashCopy(t, dir), &Options{Compaction: compact.Policy{Disabled: true}, Clock: ckptClock})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := db.Stats()
	if st.ReplayedBytes != replayed {
		t.Errorf("Open replayed %d bytes, want %d", st.ReplayedBytes, replayed)
	}
	ttls := 0
	for _, v := range want {
		if strings.HasSuffix(v, "+ttl") {
			ttls++
		}
	}
	if st.Keys != len(want) || st.ExpiringKeys != ttls {
		t.Errorf("after the crash: %d keys, %d expiring; want %d, %d", st.Keys, st.ExpiringKeys, len(want), ttls)
	}
	for k, v := range want {
		got, err := db.Get([]byte(k))
		if err != nil || string(got) != strings.TrimSuffix(v, "+ttl") {
			t.Fatalf("after the crash, Get(%s) = %q, %v; want %q", k, got, err, v)
		}
	}
}

// TestCheckpointWritesTheTableAsItWas has writers overwrite, delete and add
// keys throughout a checkpoint, and checks that the hint it writes is the
// table as it was when the checkpoint began, with that instant's counters,
// and that a crash after it opens with the hint and replays only the log
// after it. Writers copy the chunks they change aside for the checkpoint
// or, with room for one chunk only, write them themselves.
func TestCheckpointWritesTheTableAsItWas(t *testing.T) {
	for _, aside := range []int{0, 4096} {
		t.Run(fmt.Sprintf("aside=%d", aside), func(t *testing.T) {
			db, dir, want := ckptStore(t, 40_000)
			db.ckptAside = aside
			rng := rand.New(rand.NewPCG(1, uint64(aside)))
			var ref []slot
			var refC counters
			var refKeys int
			want["key-000001"] = "starts a checkpoint" // before the hook's writes
			runCheckpoint(t, db, "key-000001", func(passed int) {
				switch passed {
				case 0:
					db.mu.RLock()
					ref, refC, refKeys = slices.Clone(db.mu.index.slots), db.mu.c, db.mu.index.count
					db.mu.RUnlock()
					ckptWrites(t, db, want, rng, "a", 1500)
				case 4 * checkpointBatch:
					ckptWrites(t, db, want, rng, "b", 1500)
				}
			})
			if st := db.Stats(); st.Checkpoints != 1 || st.CheckpointError != nil {
				t.Fatalf("%d checkpoints, error %v; want 1, none", st.Checkpoints, st.CheckpointError)
			}
			if len(ref) != 1<<16 || db.Stats().Keys != len(want) {
				t.Fatalf("the table has %d slots, the store %d keys; want 65536 and %d (no growth)", len(ref), db.Stats().Keys, len(want))
			}
			h, slots := readHintFile(t, dir)
			if !slices.Equal(slots, ref) {
				diff := 0
				for i := range slots {
					if slots[i] != ref[i] {
						diff++
					}
				}
				t.Errorf("%d of the hint's %d slots differ from the table at the start", diff, len(slots))
			}
			if h.keys != uint64(refKeys) || h.covered != refC.size || h.live != refC.live || h.stale != refC.stale {
				t.Errorf("hint: %d keys, covers %d, live %d, stale %d; want %d, %d, %d, %d",
					h.keys, h.covered, h.live, h.stale, refKeys, refC.size, refC.live, refC.stale)
			}
			if !slices.Equal(h.chunks, sumChunks(ref)) {
				t.Error("the hint's chunk table does not match the table at the start")
			}
			checkCrashCopy(t, dir, want, db.Stats().LogBytes-refC.size)
		})
	}
}

// TestCheckpointAbandonedByGrowth grows the index while a checkpoint runs:
// the checkpoint is given up, silently, and the first write after the
// growth has ended starts the next, which lands, rather than a write a
// whole step of log later.
func TestCheckpointAbandonedByGrowth(t *testing.T) {
	db, dir, want := ckptStore(t, 3_000) // 4,096 slots
	want["key-000001"] = "starts a checkpoint"
	runCheckpoint(t, db, "key-000001", func(passed int) {
		if passed == 0 {
			for i := range 2_000 {
				ckptPut(t, db, want, fmt.Sprintf("grow-%05d", i), "v", false)
			}
		}
	})
	if st := db.Stats(); st.Checkpoints != 0 || st.CheckpointError != nil {
		t.Fatalf("%d checkpoints, error %v; want the one abandoned", st.Checkpoints, st.CheckpointError)
	}
	for _, name := range []string{hintName, checkpointTemp, checkpointExpTemp} {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s: %v; want none", name, err)
		}
	}
	// A step as long as the whole log: due again only because the
	// abandoned one does not count.
	db.testHookCheckpoint = nil
	db.lockMu()
	db.opts.CheckpointBytes = db.mu.c.size
	db.unlockMu()
	for i := 0; db.Stats().Checkpoints == 0; i++ {
		if i == 1_000 {
			t.Fatalf("no checkpoint after %d more writes: %+v", i, db.Stats())
		}
		ckptPut(t, db, want, fmt.Sprintf("more-%06d", i), "v", false)
		waitCheckpoint(t, db)
	}
	db.lockMu()
	db.opts.CheckpointBytes = -1
	db.unlockMu()
	h, _ := readHintFile(t, dir)
	checkCrashCopy(t, dir, want, db.Stats().LogBytes-h.covered)
}

// TestCheckpointBesideCompaction runs a compaction while a checkpoint
// writes the old log's index: the checkpoint must not put a hint of the
// old log in place after the compaction.
func TestCheckpointBesideCompaction(t *testing.T) {
	db, dir, want := ckptStore(t, 40_000)
	want["key-000001"] = "starts a checkpoint"
	runCheckpoint(t, db, "key-000001", func(passed int) {
		if passed == checkpointBatch {
			if err := db.Compact(); err != nil {
				t.Error(err)
			}
		}
	})
	if st := db.Stats(); st.Checkpoints != 0 || st.CheckpointError != nil || st.Compactions != 1 {
		t.Fatalf("%+v; want one compaction and no checkpoint, no error", st)
	}
	// The new log is too small for a compaction's hint: there is none.
	if _, err := os.Stat(filepath.Join(dir, hintName)); !os.IsNotExist(err) {
		t.Fatalf("hint after the compaction: %v; want none", err)
	}
	checkCrashCopy(t, dir, want, db.Stats().LogBytes-db.Stats().HeaderBytes)
}

// TestCheckpointStoppedByClose closes the store in the middle of a
// checkpoint: Close stops it, leaves no temporary file, and writes its own
// hint.
func TestCheckpointStoppedByClose(t *testing.T) {
	db, dir, want := ckptStore(t, 40_000)
	closed := make(chan error, 1)
	want["key-000001"] = "starts a checkpoint"
	runCheckpoint(t, db, "key-000001", func(passed int) {
		if passed == checkpointBatch {
			go func() { closed <- db.Close() }()
			for deadline := time.Now().Add(time.Minute); db.ctx.Err() == nil; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Error("Close has not begun after a minute")
					return
				}
			}
		}
	})
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{checkpointTemp, checkpointExpTemp} {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s: %v; want none", name, err)
		}
	}
	checkCrashCopy(t, dir, want, 0)
}

// TestCheckpointsBesideRandomWrites writes, overwrites and deletes keys at
// random, on one goroutine, while checkpoints come due every 64 KiB of log
// and run beside it; the index grows through several sizes meanwhile.
// Every few thousand writes it waits for the checkpoint under way, if
// any, and checks that a crash then would reopen the store as written.
func TestCheckpointsBesideRandomWrites(t *testing.T) {
	for _, aside := range []int{0, 8192} {
		t.Run(fmt.Sprintf("aside=%d", aside), func(t *testing.T) {
			db, dir, want := ckptStore(t, 0)
			db.ckptAside = aside
			db.lockMu()
			db.opts.CheckpointBytes = 64 << 10
			db.unlockMu()
			rng := rand.New(rand.NewPCG(2, uint64(aside)))
			keys := 0
			for round := range 8 {
				for i := range 4_000 {
					switch r := rng.IntN(10); {
					case r < 4 || keys == 0:
						ckptPut(t, db, want, fmt.Sprintf("k%07d", keys), fmt.Sprintf("v%d-%d", round, i), r == 0)
						keys++
					case r < 8:
						ckptPut(t, db, want, fmt.Sprintf("k%07d", rng.IntN(keys)), fmt.Sprintf("o%d-%d", round, i), r == 4)
					default:
						k := fmt.Sprintf("k%07d", rng.IntN(keys))
						if err := db.Delete([]byte(k)); err != nil {
							t.Fatal(err)
						}
						delete(want, k)
					}
				}
				waitCheckpoint(t, db)
				st := db.Stats()
				if st.CheckpointError != nil {
					t.Fatal(st.CheckpointError)
				}
				replayed := st.LogBytes - st.HeaderBytes
				if st.Checkpoints > 0 {
					h, _ := readHintFile(t, dir)
					replayed = st.LogBytes - h.covered
				}
				checkCrashCopy(t, dir, want, replayed)
			}
			if st := db.Stats(); st.Checkpoints < 4 {
				t.Errorf("%d checkpoints landed; want at least 4", st.Checkpoints)
			}
		})
	}
}

// TestTornTailAfterCheckpoint tears the last record of the log after a
// checkpoint's hint, as a crash in the middle of an append does: Open must
// cut it and keep the hint, replaying only the log after it, and must
// still cut nothing where the hint's end is not followed by a record.
func TestTornTailAfterCheckpoint(t *testing.T) {
	for _, zeros := range []int{0, 1 << 20} {
		t.Run(fmt.Sprintf("zeros=%d", zeros), func(t *testing.T) {
			db, dir, want := ckptStore(t, 20_000)
			want["key-000001"] = "starts a checkpoint"
			runCheckpoint(t, db, "key-000001", func(int) {})
			for i := range 2_000 {
				ckptPut(t, db, want, fmt.Sprintf("after-%05d", i), "v", false)
			}
			h, _ := readHintFile(t, dir)
			end := db.Stats().LogBytes
			crashed := crashCopy(t, dir)
			torn := walfmt.AppendPut(nil, []byte("torn"), bytes.Repeat([]byte("x"), 100))
			f, err := os.OpenFile(filepath.Join(crashed, logName), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(end); err != nil { // the reserved space a copy keeps
				t.Fatal(err)
			}
			if _, err := f.WriteAt(append(torn[:40], make([]byte, zeros)...), end); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			c, err := Open(crashed, &Options{Compaction: compact.Policy{Disabled: true}, Clock: ckptClock})
			if err != nil {
				t.Fatal(err)
			}
			st := c.Stats()
			c.Close()
			if st.ReplayedBytes != end-h.covered || st.TruncatedBytes != int64(40+zeros) || st.Keys != len(want) {
				t.Errorf("after a torn record past the hint: replayed %d bytes, cut %d, %d keys; want %d, %d, %d",
					st.ReplayedBytes, st.TruncatedBytes, st.Keys, end-h.covered, 40+zeros, len(want))
			}
			checkCrashCopy(t, crashed, want, 0)
		})
	}
}

// TestCheckpointSkipsALargeExpiryTable checks that no checkpoint starts
// while more keys expire than a checkpoint copies at its start (which
// holds the readers' lock for as long), and that one does once fewer do.
func TestCheckpointSkipsALargeExpiryTable(t *testing.T) {
	db, _, want := ckptStore(t, 0)
	for i := range checkpointExpiriesMax + 1 {
		ckptPut(t, db, want, fmt.Sprintf("ttl-%06d", i), "v", true)
	}
	db.lockMu()
	db.opts.CheckpointBytes = 1
	db.unlockMu()
	ckptPut(t, db, want, "plain", "v", false)
	waitCheckpoint(t, db)
	if st := db.Stats(); st.Checkpoints != 0 || st.CheckpointError != nil {
		t.Fatalf("%d checkpoints beside %d expiring keys, error %v; want none", st.Checkpoints, st.ExpiringKeys, st.CheckpointError)
	}
	if err := db.Delete([]byte("ttl-000000")); err != nil {
		t.Fatal(err)
	}
	ckptPut(t, db, want, "plain", "again", false)
	waitCheckpoint(t, db)
	db.lockMu()
	db.opts.CheckpointBytes = -1
	db.unlockMu()
	if st := db.Stats(); st.Checkpoints != 1 {
		t.Fatalf("%d checkpoints beside %d expiring keys, error %v; want one", st.Checkpoints, st.ExpiringKeys, st.CheckpointError)
	}
}
