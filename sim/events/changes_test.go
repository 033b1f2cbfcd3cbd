package events

import (
	"context"
	"testing"
	"testing/synctest"
)

// received reports whether ch holds a value, or is closed, once every
// goroutine of the test's bubble has settled (synctest.Wait): no sleep
// decides it.
func received(t *testing.T, ch <-chan struct{}) (got, closed bool) {
	t.Helper()
	synctest.Wait()
	select {
	case _, ok := <-ch:
		return ok, !ok
	default:
		return false, false
	}
}

// waitClosed fails the test unless ch, drained of a pending value, is
// closed once the bubble has settled.
func waitClosed(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	synctest.Wait()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		default:
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
			synctest.Test(t, func(t *testing.T) {
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
		})
	}
}

func TestChangesContextEnds(t *testing.T) { synctest.Test(t, testChangesContextEnds) }

func testChangesContextEnds(t *testing.T) {
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

func TestChangesClose(t *testing.T) { synctest.Test(t, testChangesClose) }

func testChangesClose(t *testing.T) {
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
