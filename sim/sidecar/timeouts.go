package sidecar

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Envoy's defaults for the timeouts a route or listener leaves unset.
const (
	// defaultRouteTimeout is RouteAction.timeout's default; an explicit 0
	// disables it.
	defaultRouteTimeout = 15 * time.Second
	// defaultStreamIdleTimeout is HttpConnectionManager.stream_idle_timeout's
	// default; an explicit 0 disables it.
	defaultStreamIdleTimeout = 5 * time.Minute
)

// The causes a proxied request's context is cancelled with when one of its
// timeouts expires. Each has its own local reply, as in Envoy.
var (
	// errRouteTimeout: the route timeout, which starts once the whole
	// request has been received and bounds the response.
	errRouteTimeout = errors.New("route timeout")
	// errStreamIdle: no data in either direction for the idle timeout.
	errStreamIdle = errors.New("stream idle timeout")
	// errMaxDuration: the stream lived for its maximum duration (the
	// route's max_stream_duration or the call's grpc-timeout).
	errMaxDuration = errors.New("max stream duration")
)

// requestTimeouts are the timeouts that apply to one request.
type requestTimeouts struct {
	route       time.Duration // from the end of the request; 0: none
	idle        time.Duration // 0: none
	maxDuration time.Duration // from the start; 0: none
	// grpcHeader is the grpc-timeout to send upstream instead of the
	// client's; dropGRPCHeader says to send none.
	grpcHeader     string
	dropGRPCHeader bool
}

// timeoutsFor works out the timeouts of request r on route rt of a
// listener (see timeoutsOf) and sets the grpc-timeout header to send
// upstream.
func timeoutsFor(r *http.Request, rt *compiledRoute, ls *listenerState) requestTimeouts {
	t := timeoutsOf(rt, ls, isGRPC(r), func() string { return r.Header.Get("Grpc-Timeout") })
	if t.grpcHeader != "" {
		r.Header["Grpc-Timeout"] = []string{t.grpcHeader}
	} else if t.dropGRPCHeader {
		delete(r.Header, "Grpc-Timeout")
	}
	return t
}

// timeoutsOf works out the timeouts of a request (a gRPC call when grpc,
// whose grpc-timeout header grpcTimeout returns) on route rt of a
// listener, as Envoy's router and connection manager do. When the route
// has a max_stream_duration ("new timeouts"), the route timeout does not
// apply and the grpc-timeout header sent upstream is set to the stream's
// duration limit, or removed when there is none.
func timeoutsOf(rt *compiledRoute, ls *listenerState, grpc bool, grpcTimeout func() string) requestTimeouts {
	t := requestTimeouts{idle: ls.streamIdle, maxDuration: ls.maxStreamDuration}
	if rt.idleSet {
		t.idle = rt.idle
	}
	sd := rt.stream
	if sd == nil {
		t.route = rt.timeout
		return t
	}
	header, ok := time.Duration(0), false
	if grpc {
		header, ok = parseGRPCTimeout(grpcTimeout())
	}
	switch {
	case ok && sd.grpcHeaderMaxSet:
		t.maxDuration = header
		if sd.grpcHeaderMax > 0 && t.maxDuration > sd.grpcHeaderMax {
			t.maxDuration = sd.grpcHeaderMax
		}
		if sd.grpcHeaderOffset > 0 {
			t.maxDuration = max(t.maxDuration-sd.grpcHeaderOffset, 0)
		}
	case sd.maxSet:
		t.maxDuration = sd.max
	}
	if grpc {
		if t.maxDuration > 0 {
			t.grpcHeader = formatGRPCTimeout(t.maxDuration)
		} else {
			t.dropGRPCHeader = true
		}
	}
	return t
}

// parseGRPCTimeout parses a grpc-timeout header value: at most 8 digits
// and a unit, H, M, S, m, u or n.
func parseGRPCTimeout(v string) (time.Duration, bool) {
	if len(v) < 2 || len(v) > 9 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	var unit time.Duration
	switch v[len(v)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, false
	}
	return time.Duration(n) * unit, true
}

// formatGRPCTimeout formats d as a grpc-timeout value in the finest unit
// from milliseconds up that fits in 8 digits, rounding up.
func formatGRPCTimeout(d time.Duration) string {
	const maxValue = 99999999
	units := []struct {
		d    time.Duration
		name string
	}{{time.Millisecond, "m"}, {time.Second, "S"}, {time.Minute, "M"}, {time.Hour, "H"}}
	for _, u := range units {
		n := (d + u.d - 1) / u.d
		if n <= maxValue {
			return strconv.FormatInt(int64(n), 10) + u.name
		}
	}
	return strconv.Itoa(maxValue) + "H"
}

// deadlines enforces a request's timeouts with one timer. The route
// timeout is armed when the request ends (requestDone); activity in either
// direction (touch) pushes the idle deadline back without touching the
// timer, which re-arms itself when it fires early. When a timeout expires
// it cancels the request's context with the timeout's cause.
type deadlines struct {
	start  time.Time
	idle   time.Duration
	last   atomic.Int64 // offset from start of the last activity
	cancel context.CancelCauseFunc

	mu      sync.Mutex
	timer   *time.Timer
	at      time.Duration // offset the timer is armed for; 0: none
	route   time.Duration // the route timeout, not yet armed
	routeAt time.Duration // offset of the route deadline; 0: none
	maxAt   time.Duration // offset of the max duration deadline; 0: none
	stopped bool
	// response is the upstream response body once the response started.
	// The HTTP/2 transport does not notice a cancelled context while it
	// waits for the request body (a client that keeps its stream open),
	// so an expired timeout closes the response body to end the stream.
	response io.Closer
}

// begin starts enforcing t; requestDone reports whether the request has
// already been received in full.
func (d *deadlines) begin(t requestTimeouts, cancel context.CancelCauseFunc, requestDone bool) {
	d.start = time.Now()
	d.cancel = cancel
	d.idle = t.idle
	d.route = t.route
	d.maxAt = t.maxDuration
	d.mu.Lock()
	if requestDone {
		d.armRoute(0)
	}
	d.arm(0)
	d.mu.Unlock()
}

// touch records activity on the stream.
func (d *deadlines) touch() {
	if d.idle > 0 {
		d.last.Store(int64(time.Since(d.start)))
	}
}

// requestDone arms the route timeout: the whole request has been received.
func (d *deadlines) requestDone() {
	if d.route == 0 {
		return
	}
	d.mu.Lock()
	now := time.Since(d.start)
	d.armRoute(now)
	d.arm(now)
	d.mu.Unlock()
}

func (d *deadlines) armRoute(now time.Duration) {
	if d.route > 0 && d.routeAt == 0 {
		d.routeAt = now + d.route
	}
}

// next returns the earliest deadline and its cause, or 0.
func (d *deadlines) next() (time.Duration, error) {
	at, cause := time.Duration(0), error(nil)
	consider := func(t time.Duration, c error) {
		if t > 0 && (at == 0 || t < at) {
			at, cause = t, c
		}
	}
	consider(d.maxAt, errMaxDuration)
	consider(d.routeAt, errRouteTimeout)
	if d.idle > 0 {
		consider(time.Duration(d.last.Load())+d.idle, errStreamIdle)
	}
	return at, cause
}

// arm sets the timer for the earliest deadline; d.mu is held.
func (d *deadlines) arm(now time.Duration) {
	if d.stopped {
		return
	}
	at, _ := d.next()
	switch {
	case at == d.at:
	case at == 0:
		d.timer.Stop()
	case d.timer == nil:
		d.timer = time.AfterFunc(at-now, d.fire)
	default:
		d.timer.Reset(at - now)
	}
	d.at = at
}

func (d *deadlines) fire() {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return
	}
	now := time.Since(d.start)
	at, cause := d.next()
	if at > now {
		d.at = 0 // the idle deadline moved: sleep again
		d.arm(now)
		d.mu.Unlock()
		return
	}
	d.stopped = true
	res := d.response
	d.mu.Unlock()
	d.cancel(cause)
	if res != nil {
		res.Close()
	}
}

// setResponse records the upstream response body.
func (d *deadlines) setResponse(body io.Closer) {
	d.mu.Lock()
	d.response = body
	d.mu.Unlock()
}

// stop ends enforcement.
func (d *deadlines) stop() {
	d.mu.Lock()
	d.stopped = true
	if d.timer != nil {
		d.timer.Stop()
	}
	d.mu.Unlock()
}
