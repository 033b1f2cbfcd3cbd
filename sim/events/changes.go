package events

import (
	"context"
	"sync"
)

// Changes tells watchers that some state changed, without saying what: a
// watcher re-reads the state it cares about. Notifications coalesce: each
// watch channel has a buffer of one, so a slow reader sees one value for many
// changes and Notify never blocks.
//
// The fakes use it for their Watch methods. The zero value is ready to use;
// Changes is safe for concurrent use and must not be copied after first use.
type Changes struct {
	mu       sync.Mutex
	watchers map[chan struct{}]func() bool // channel → stop of its context.AfterFunc
	closed   bool
}

// Watch returns a channel that receives a value after each Notify that
// follows the call (several of them may come as one). Call Watch before
// reading the state, then read it again on every value. The channel is closed
// when ctx ends or Close is called; after Close, Watch returns a closed
// channel.
func (c *Changes) Watch(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		close(ch)
		return ch
	}
	if c.watchers == nil {
		c.watchers = make(map[chan struct{}]func() bool)
	}
	c.watchers[ch] = context.AfterFunc(ctx, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, ok := c.watchers[ch]; ok {
			delete(c.watchers, ch)
			close(ch)
		}
	})
	return ch
}

// Notify wakes every watcher whose channel does not already hold a value. It
// never blocks, so it may be called with the caller's own locks held.
func (c *Changes) Notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch := range c.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Close closes every watch channel; later calls to Watch return a closed
// channel and Notify does nothing. Close is idempotent.
func (c *Changes) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for ch, stop := range c.watchers {
		stop()
		delete(c.watchers, ch)
		close(ch)
	}
}
