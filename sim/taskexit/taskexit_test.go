package taskexit_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/meshsim/meshsim/sim/taskexit"
)

var errCrash = errors.New("crashed")

// TestWatch ends a task each way Watch knows and checks the exit it
// records and whether it closed the task.
func TestWatch(t *testing.T) {
	for _, tt := range []struct {
		name       string
		crashAfter time.Duration
		cancel     bool // ctx is cancelled
		stop       bool // the task stops serving by itself
		wantClosed bool
		wantErr    error
	}{
		{name: "ctx done", cancel: true, wantClosed: true},
		{name: "crash", crashAfter: 10 * time.Millisecond, wantClosed: true, wantErr: errCrash},
		{name: "stopped", stop: true},
		{name: "stopped before the crash", crashAfter: time.Hour, stop: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				e := taskexit.New()
				stopped := make(chan struct{})
				closed := false
				closeTask := func() error {
					closed = true
					close(stopped)
					return nil
				}
				watched := make(chan struct{})
				go func() {
					defer close(watched)
					e.Watch(ctx, stopped, closeTask, tt.crashAfter, errCrash)
				}()
				if tt.cancel || tt.stop {
					// Every goroutine of the bubble is blocked: Watch waits.
					synctest.Wait()
					select {
					case <-e.Done():
						t.Fatal("Done closed while the task runs")
					default:
					}
				}
				if tt.cancel {
					cancel()
				}
				if tt.stop {
					close(stopped)
				}
				<-watched
				<-e.Done()
				if closed != tt.wantClosed {
					t.Errorf("task closed: %v, want %v", closed, tt.wantClosed)
				}
				if err := e.Err(); err != tt.wantErr {
					t.Errorf("Err() = %v, want %v", err, tt.wantErr)
				}
				// On the bubble's clock, a crash is exactly crashAfter after
				// the start; any other exit takes no time.
				want := time.Duration(0)
				if tt.wantErr == errCrash {
					want = tt.crashAfter
				}
				if d := time.Since(start); d != want {
					t.Errorf("exited after %v, want %v", d, want)
				}
			})
		})
	}
}

// TestExitedFirstReasonWins records two reasons.
func TestExitedFirstReasonWins(t *testing.T) {
	e := taskexit.New()
	e.Exited(errCrash)
	e.Exited(nil)
	if err := e.Err(); err != errCrash {
		t.Errorf("Err() = %v, want %v", err, errCrash)
	}
}
