package cluster

import (
	"context"
	"sync"
)

// progress is an index that only grows, and lets readers wait for it to
// reach a value. It is safe for concurrent use.
type progress struct {
	mu    sync.Mutex // guards the fields below
	index uint64
	ch    chan struct{} // closed and replaced when index grows
}

func (p *progress) init(i uint64) {
	p.mu.Lock()
	p.index, p.ch = i, make(chan struct{})
	p.mu.Unlock()
}

func (p *progress) get() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.index
}

// advance moves the index to i if i is past it; a restore may move it
// anywhere, with set.
func (p *progress) advance(i uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i > p.index {
		p.index = i
		close(p.ch)
		p.ch = make(chan struct{})
	}
}

// set moves the index to i, forwards or back, and wakes the waiters.
func (p *progress) set(i uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.index = i
	close(p.ch)
	p.ch = make(chan struct{})
}

// wait returns once the index is at least i, or ctx is done.
func (p *progress) wait(ctx context.Context, i uint64) error {
	for {
		p.mu.Lock()
		idx, ch := p.index, p.ch
		p.mu.Unlock()
		if idx >= i {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
