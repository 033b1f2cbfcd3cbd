package polltest_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/meshsim/meshsim/sim/poll/polltest"
)

func TestEventuallyHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		ready := start.Add(2 * time.Second)
		polltest.Eventually(t, "the clock to pass 2s", func() bool { return !time.Now().Before(ready) })
		if d := time.Since(start); d < 2*time.Second || d > 2*time.Second+20*time.Millisecond {
			t.Errorf("returned after %v, want just after 2s", d)
		}
	})
}

// fatalRecorder records a Fatalf instead of ending the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = format
	panic(r)
}

func TestEventuallyFailsAfterLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &fatalRecorder{TB: t}
		start := time.Now()
		func() {
			defer func() {
				if p := recover(); p != rec {
					t.Errorf("Eventually of a condition that never holds did not fail the test (recovered %v)", p)
				}
			}()
			polltest.Eventually(rec, "never", func() bool { return false })
		}()
		if d := time.Since(start); d != polltest.Limit {
			t.Errorf("failed after %v, want %v", d, polltest.Limit)
		}
	})
}
