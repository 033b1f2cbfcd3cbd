package poll_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/meshsim/meshsim/sim/poll"
)

func TestUntil(t *testing.T) {
	boom := errors.New("boom")
	for _, tt := range []struct {
		name    string
		doneAt  int // the call that reports done; 0 never
		errAt   int // the call that fails; 0 never
		timeout time.Duration
		calls   int
		elapsed time.Duration
		err     error
	}{
		{name: "done at once", doneAt: 1, timeout: time.Minute, calls: 1, elapsed: 0},
		{name: "done on the fourth look", doneAt: 4, timeout: time.Minute, calls: 4, elapsed: 3 * time.Second},
		{name: "an error ends the wait", errAt: 3, timeout: time.Minute, calls: 3, elapsed: 2 * time.Second, err: boom},
		{name: "the context ends it", timeout: 2500 * time.Millisecond, calls: 3, elapsed: 2500 * time.Millisecond, err: context.DeadlineExceeded},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), tt.timeout)
				defer cancel()
				start := time.Now()
				calls := 0
				err := poll.Until(ctx, time.Second, func(context.Context) (bool, error) {
					calls++
					if calls == tt.errAt {
						return false, boom
					}
					return calls == tt.doneAt, nil
				})
				if !errors.Is(err, tt.err) || calls != tt.calls || time.Since(start) != tt.elapsed {
					t.Errorf("err %v, %d calls after %v; want %v, %d calls after %v", err, calls, time.Since(start), tt.err, tt.calls, tt.elapsed)
				}
			})
		})
	}
}

// A wake looks again at once, without waiting out the interval.
func TestUntilWoken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wake := make(chan struct{}, 1)
		start := time.Now()
		var at []time.Duration
		go func() {
			time.Sleep(300 * time.Millisecond)
			wake <- struct{}{}
		}()
		err := poll.UntilWoken(t.Context(), time.Second, wake, func(context.Context) (bool, error) {
			at = append(at, time.Since(start))
			return len(at) == 3, nil
		})
		want := []time.Duration{0, 300 * time.Millisecond, 1300 * time.Millisecond}
		if err != nil || len(at) != 3 || at[0] != want[0] || at[1] != want[1] || at[2] != want[2] {
			t.Errorf("err %v, looks at %v; want %v", err, at, want)
		}
	})
}
