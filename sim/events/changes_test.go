package events

import (
	"context"
	"testing"
	"time"
)

// received reports whether ch yields a value (not a close) within a short
// wait; closed reports whether it was closed instead.
func received(t *testing.T, ch <-chan struct{}) (got, closed bool) {
	t.Helper()
	select {
	case _, ok := <-ch:
		return ok, !ok
	case <-time.After(50 * time.Millisecond):
		return false, false
	}
}

func waitClosed(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("watch channel not closed")
		}
	}
}

func TestChangesNotify(t *testing.T) {
	tests := []struct {
		name    string
		notify  int  // Notify calls after Watch
		wantGot bool // a value, then nothing more
	}{
		{name: "no change", notify: 0, wantGot: false},
		{name: "one change", notify: 1, wantGot: true},
		{name: "changes coalesce", notify: 5, wantGot: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Changes // the zero value is ready to use
			c.Notify()    // before any Watch: nobody to tell, must not block
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			a, b := c.Watch(ctx), c.Watch(ctx)
			for range tt.notify {
				c.Notify()
			}
			for _, ch := range []<-chan struct{}{a, b} {
				if got, closed := received(t, ch); got != tt.wantGot || closed {
					t.Fatalf("first receive: value %v closed %v, want value %v", got, closed, tt.wantGot)
				}
				if got, closed := received(t, ch); got || closed {
					t.Fatalf("second receive: value %v closed %v, want nothing", got, closed)
				}
			}
		})
	}
}

func TestChangesContextEnds(t *testing.T) {
	var c Changes
	ctx, cancel := context.WithCancel(context.Background())
	ch := c.Watch(ctx)
	other := c.Watch(context.Background())
	cancel()
	waitClosed(t, ch)
	c.Notify() // the ended watcher is gone; the other one still hears
	if got, _ := received(t, other); !got {
		t.Error("the watcher whose context is alive missed a Notify")
	}

	done, stop := context.WithCancel(context.Background())
	stop()
	waitClosed(t, c.Watch(done)) // a context that has already ended
}

func TestChangesClose(t *testing.T) {
	var c Changes
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before := c.Watch(ctx)
	c.Notify()
	c.Close()
	waitClosed(t, before)
	waitClosed(t, c.Watch(ctx))
	c.Notify()
	c.Close() // idempotent
	cancel()  // after Close, ending the context must not close twice
}
