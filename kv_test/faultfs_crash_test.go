package kv_test

import (
	"errors"
	"math/rand/v2"
	"os"
	"testing"
)

// TestInjectedCrashIsAtomic checks the crash model the crash suites rest
// on: a crash that faultFS injects at one goroutine's operation must be
// atomic with the operations of the others. Here a write of another
// goroutine has been let through by faultFS but has not reached the file
// system when the crash strikes: it must fail, since the image the crash
// took does not hold it. Were it to succeed, a store would acknowledge a
// synced write that the image lost, and a suite would report a loss the
// store never made (or, turned around, miss one it did).
func TestInjectedCrashIsAtomic(t *testing.T) {
	mem := newMemFS()
	ffs := newFaultFS(mem)
	if err := ffs.MkdirAll(memDir, 0o755); err != nil {
		t.Fatal(err)
	}
	a, err := ffs.OpenFile(memDir+"/a", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ffs.OpenFile(memDir+"/b", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := mem.SyncDir(memDir); err != nil {
		t.Fatal(err)
	}

	// a's write is the first mutating operation from here, let through;
	// b's, the second, crashes the machine.
	var crashed *memFS
	crash := crashAfter(1, func() { crashed = mem.CrashHalt(keepAll, rand.New(rand.NewPCG(1, 2))) })
	passed, struck := make(chan struct{}), make(chan struct{})
	ffs.SetInject(func(op fsOp, name string, flag int) error {
		err := crash(op, name, flag)
		if err == nil && op == opWrite && name == memDir+"/a" {
			// The write is let through; it reaches the file system only
			// after the other goroutine's operation has crashed it.
			close(passed)
			<-struck
		}
		return err
	})

	done := make(chan error, 1)
	go func() {
		_, err := a.WriteAt([]byte("late"), 0)
		done <- err
	}()
	<-passed
	if _, err := b.WriteAt([]byte("x"), 0); !errors.Is(err, errCrashed) {
		t.Fatalf("the write at the crash returned %v, want the crash", err)
	}
	close(struck)
	werr := <-done
	data, _ := crashed.ReadFile(memDir + "/a")
	if werr == nil && len(data) == 0 {
		t.Fatalf("a write let through before the crash returned no error, but the crash's image does not hold it")
	}
	if !errors.Is(werr, errCrashed) {
		t.Errorf("a write that reached the file system after the crash returned %v, want the crash", werr)
	}
}
