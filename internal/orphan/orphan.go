// Package orphan ends a test's child process once the test that started it
// is gone.
//
// Several tests run a second copy of their own binary that writes until it
// is killed. If the parent dies first — killed, or stopped by go test's
// -timeout — nobody kills the child, and it would go on writing into the
// parent's temporary directory until the disk fills. A child calls
// ExitWithParent first.
package orphan

import (
	"fmt"
	"os"
	"time"
)

// poll is how often the parent is looked for.
const poll = 100 * time.Millisecond

// ExitWithParent starts a goroutine that ends the process, with status 4,
// once its parent has exited. On Unix an orphan is given a new parent (init
// or a subreaper), which os.Getppid reports; where the parent's ID never
// changes (Windows) it does nothing.
func ExitWithParent() {
	parent := os.Getppid()
	if parent == 1 {
		// A test's child that init has adopted already: its parent died
		// before it got here.
		exit(parent)
	}
	go func() {
		for range time.Tick(poll) {
			if os.Getppid() != parent {
				exit(parent)
			}
		}
	}()
}

func exit(parent int) {
	fmt.Fprintf(os.Stderr, "orphan: parent process %d has exited; exiting\n", parent)
	os.Exit(4)
}
