package ecs

import "time"

// Clock is where the fake reads the time and gets its timers: the
// timestamps it reports (createdAt, startedAt, …) and every wait of its
// controllers (health checks, bake times, hook timeouts, stop timeouts,
// reconciliation). Options.Clock injects one; the default is the real
// clock, which testing/synctest fakes in tests.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once, after d.
	NewTimer(d time.Duration) Timer
	// NewTicker returns a ticker that fires every d.
	NewTicker(d time.Duration) Ticker
}

// Timer is a one-shot timer of a Clock.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// Ticker is a periodic timer of a Clock.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// realClock is the time package's clock.
type realClock struct{}

func (realClock) Now() time.Time                   { return time.Now() }
func (realClock) NewTimer(d time.Duration) Timer   { return realTimer{time.NewTimer(d)} }
func (realClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// now is the fake's current time.
func (f *Fake) now() time.Time { return f.opts.Clock.Now() }
