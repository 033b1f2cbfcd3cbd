package sidecar

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// TestDeadlines checks the timeouts a request's deadlines enforce on the
// fake clock of a synctest bubble: activity pushes the idle deadline back
// however long the stream lives, and each timeout fires exactly when due,
// with its cause.
func TestDeadlines(t *testing.T) {
	tests := []struct {
		name        string
		timeouts    requestTimeouts
		requestDone bool          // the request was received in full at begin
		touchEvery  time.Duration // activity on the stream; 0: none
		doneAt      time.Duration // requestDone is called then; 0: never
		wantAt      time.Duration
		wantCause   error
	}{
		{name: "idle without activity", timeouts: requestTimeouts{idle: 200 * time.Millisecond},
			wantAt: 200 * time.Millisecond, wantCause: errStreamIdle},
		{name: "activity keeps an idle stream open until the max duration",
			timeouts:   requestTimeouts{idle: 200 * time.Millisecond, maxDuration: 1500 * time.Millisecond},
			touchEvery: 150 * time.Millisecond, wantAt: 1500 * time.Millisecond, wantCause: errMaxDuration},
		{name: "route timeout from the end of the request",
			timeouts: requestTimeouts{route: 300 * time.Millisecond, idle: time.Hour},
			doneAt:   500 * time.Millisecond, wantAt: 800 * time.Millisecond, wantCause: errRouteTimeout},
		{name: "route timeout of a request received at once",
			timeouts: requestTimeouts{route: 300 * time.Millisecond}, requestDone: true,
			wantAt: 300 * time.Millisecond, wantCause: errRouteTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancelCause(context.Background())
				defer cancel(nil)
				start := time.Now()
				var d deadlines
				d.begin(tt.timeouts, cancel, tt.requestDone)
				defer d.stop()
				stop := make(chan struct{})
				defer close(stop)
				if tt.touchEvery > 0 {
					go func() {
						tick := time.NewTicker(tt.touchEvery)
						defer tick.Stop()
						for {
							select {
							case <-tick.C:
								d.touch()
							case <-stop:
								return
							}
						}
					}()
				}
				if tt.doneAt > 0 {
					go func() {
						select {
						case <-time.After(tt.doneAt):
							d.requestDone()
						case <-stop:
						}
					}()
				}
				<-ctx.Done()
				if at := time.Since(start); at != tt.wantAt {
					t.Errorf("cancelled at %v, want %v", at, tt.wantAt)
				}
				if cause := context.Cause(ctx); !errors.Is(cause, tt.wantCause) {
					t.Errorf("cause %v, want %v", cause, tt.wantCause)
				}
			})
		})
	}
}

// TestDeadlinesStop checks that a stopped request is never cancelled.
func TestDeadlinesStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		defer cancel(nil)
		var d deadlines
		d.begin(requestTimeouts{idle: 100 * time.Millisecond, route: 100 * time.Millisecond}, cancel, true)
		time.Sleep(50 * time.Millisecond)
		d.stop()
		time.Sleep(time.Hour)
		if err := context.Cause(ctx); err != nil {
			t.Errorf("a stopped request was cancelled: %v", err)
		}
	})
}
