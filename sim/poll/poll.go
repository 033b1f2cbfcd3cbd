// Package poll waits for a condition that can only be observed by asking:
// it calls a function now and then at an interval until the function
// reports done, fails, or the context ends. It is the one poll loop of
// meshsim; prefer an SDK waiter or the fakes' event stream where one fits.
package poll

import (
	"context"
	"time"
)

// Func is one look at the condition. done ends the wait successfully; a
// non-nil error ends it with that error.
type Func func(ctx context.Context) (done bool, err error)

// Until calls fn at once and then every interval until fn reports done or
// an error, or ctx is done, in which case it returns ctx's error. A caller
// that wants the last thing it saw in its error keeps it in fn's closure.
func Until(ctx context.Context, every time.Duration, fn Func) error {
	return UntilWoken(ctx, every, nil, fn)
}

// UntilWoken is Until that also looks again as soon as wake receives (a
// change notification), so that a change is seen within a round trip
// rather than an interval. A nil wake never fires.
func UntilWoken(ctx context.Context, every time.Duration, wake <-chan struct{}, fn Func) error {
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		done, err := fn(ctx)
		if err != nil || done {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		t.Reset(every)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-t.C:
		}
	}
}
