package loadgen

import (
	"sync/atomic"
	"time"
)

// A Meter follows a generator's sends against its schedule while it runs,
// so that the run can tell, second by second, whether the generator keeps
// up: how many sends were due, how many went out, and how far behind
// schedule it fell. The observations record each request's own lag (Sent
// − Scheduled) once it completes; a Meter sees the lag of requests not yet
// sent, and of stream messages, which have no observation.
//
// Give a Meter to one generator (HTTPConfig.Meter, GRPCUnaryConfig.Meter,
// StreamConfig.Meter) and read it with Read from one goroutine. Recording
// costs a send one atomic store when on schedule, a few more when late,
// and never allocates. The zero Meter is ready to use.
type Meter struct {
	began    atomic.Int64 // unix nanoseconds; 0 until the generator starts
	interval atomic.Int64 // nanoseconds between scheduled sends; 0 unscheduled
	sent     atomic.Uint64
	maxLag   atomic.Int64 // nanoseconds, since the previous Read
}

// MeterReading is what a Meter saw up to one moment.
type MeterReading struct {
	// Scheduled says whether the generator sends on a schedule (HTTP and
	// unary gRPC load; stream messages are sent per stream and have no
	// overall schedule). Due is then the number of sends whose scheduled
	// time had come, and Lag how overdue the next send was (0 when on
	// schedule).
	Scheduled bool
	Due       uint64
	Lag       time.Duration
	// Sent counts the sends made since the generator started.
	Sent uint64
	// MaxLag is the longest a send went out after its scheduled time since
	// the previous Read.
	MaxLag time.Duration
}

// start records that a scheduled generator began at began with one send
// per interval (zero for a generator without a schedule).
func (m *Meter) start(began time.Time, interval time.Duration) {
	if m == nil {
		return
	}
	m.interval.Store(int64(interval))
	m.began.Store(began.UnixNano())
}

// pace records, for a generator on a schedule, that sent sends have gone
// out and the next (scheduled at (sent+1)·interval) is being paced at
// elapsed since the start. Called once per send, from one goroutine.
func (m *Meter) pace(elapsed time.Duration, sent uint64, interval time.Duration) {
	if m == nil {
		return
	}
	m.sent.Store(sent)
	if lag := elapsed - time.Duration(sent+1)*interval; lag > 0 {
		raise(&m.maxLag, int64(lag))
	}
}

// sentLate records one send that went out lag after its scheduled time
// (zero or less: on time), for generators without an overall schedule.
func (m *Meter) sentLate(lag time.Duration) {
	if m == nil {
		return
	}
	m.sent.Add(1)
	if lag > 0 {
		raise(&m.maxLag, int64(lag))
	}
}

// Read returns what the meter saw up to now, and starts a new period for
// MaxLag.
func (m *Meter) Read(now time.Time) MeterReading {
	r := MeterReading{Sent: m.sent.Load(), MaxLag: time.Duration(m.maxLag.Swap(0))}
	began, interval := m.began.Load(), m.interval.Load()
	if began == 0 || interval <= 0 {
		return r
	}
	r.Scheduled = true
	if elapsed := now.UnixNano() - began; elapsed > 0 {
		r.Due = uint64(elapsed / interval)
	}
	if r.Sent < r.Due {
		r.Lag = time.Duration(now.UnixNano() - (began + int64(r.Sent+1)*interval))
		r.MaxLag = max(r.MaxLag, r.Lag)
	}
	return r
}

// raise makes v at least x.
func raise(v *atomic.Int64, x int64) {
	for {
		cur := v.Load()
		if x <= cur || v.CompareAndSwap(cur, x) {
			return
		}
	}
}
