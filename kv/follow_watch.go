package kv

import (
	"io"
	"path/filepath"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// watchDir wakes a follower when the log or a compaction's file in dir
// changes. Where file events are not available it returns a watcher that
// does nothing, and the follower relies on polling. The forwarding
// goroutine is counted in wg and ends when the returned Closer is closed.
func watchDir(dir string, wake chan<- struct{}, wg *sync.WaitGroup) io.Closer {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nopCloser{}
	}
	if err := w.Add(dir); err != nil {
		_ = w.Close() // unused watcher; the follower falls back to polling
		return nopCloser{}
	}
	wg.Go(func() {
		for {
			select {
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if name := filepath.Base(ev.Name); name == logName || name == tempName {
					select {
					case wake <- struct{}{}:
					default:
					}
				}
			case _, ok := <-w.Errors:
				if !ok {
					return
				}
			}
		}
	})
	return w
}
