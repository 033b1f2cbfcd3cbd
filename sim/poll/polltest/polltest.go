// Package polltest provides Eventually, the one way meshsim's tests wait
// for a condition that becomes true asynchronously.
package polltest

import (
	"context"
	"testing"
	"time"

	"github.com/meshsim/meshsim/sim/poll"
)

// Limit is how long Eventually waits before it fails the test. It is
// generous because tests run on busy machines: a correct component
// reaches the condition long before, and only a broken one waits it out.
// Inside a testing/synctest bubble the limit is measured on the bubble's
// fake clock.
const Limit = 30 * time.Second

// every is how often Eventually looks.
const every = 10 * time.Millisecond

// Eventually checks cond every few milliseconds until it holds, and fails
// the test (t.Fatalf, naming what it waited for) if it does not within
// Limit or when the test ends.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), Limit)
	defer cancel()
	start := time.Now()
	err := poll.Until(ctx, every, func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("waited %v for %s: %v", time.Since(start).Round(time.Millisecond), what, err)
	}
}
