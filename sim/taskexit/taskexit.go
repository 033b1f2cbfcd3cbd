// Package taskexit records how a task's process ends: the first reason it
// exited, a channel closed once it has, and the watch that ends it when its
// context is done or its configured crash falls due. sim/sampleapp and
// sim/grpcapp share it.
package taskexit

import (
	"context"
	"sync"
	"time"
)

// Exit records why a task exited. Make one with New.
type Exit struct {
	once sync.Once
	done chan struct{} // closed when the task has exited, for whatever reason
	err  error         // why; valid once done is closed
}

// New returns the Exit of a running task.
func New() *Exit { return &Exit{done: make(chan struct{})} }

// Exited records that the task exited because of err (nil for a clean
// exit). The first reason wins; later calls do nothing.
func (e *Exit) Exited(err error) {
	e.once.Do(func() {
		e.err = err
		close(e.done)
	})
}

// Done is closed once the task has exited.
func (e *Exit) Done() <-chan struct{} { return e.done }

// Err is the reason the task exited. It blocks until Done is closed.
func (e *Exit) Err() error {
	<-e.done
	return e.err
}

// Watch ends the task and records its exit. It calls close when ctx is
// done; when crashAfter is positive and that long passes first, it records
// crashErr and calls close. It returns once stopped (closed when the task
// has stopped serving, for whatever reason) is closed, having recorded a
// clean exit unless a reason came first. Run it in its own goroutine.
func (e *Exit) Watch(ctx context.Context, stopped <-chan struct{}, close func() error, crashAfter time.Duration, crashErr error) {
	var crash <-chan time.Time
	if crashAfter > 0 {
		t := time.NewTimer(crashAfter)
		defer t.Stop()
		crash = t.C
	}
	select {
	case <-ctx.Done():
		close()
	case <-crash:
		// Close first: a crashed process's ports are closed by the time
		// anyone sees it exited.
		close()
		e.Exited(crashErr)
	case <-stopped:
	}
	<-stopped
	e.Exited(nil)
}
