// Package admin is the embedded sidecar's admin API as its callers and the
// sidecar share it: the faults path, the Faults and their wire form, and a
// client. It has no data-plane dependencies, so the engine can steer a
// sidecar without importing the proxy.
package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// FaultsPath is the admin endpoint of the sidecar's faults: GET returns
// them, POST sets the ones its body names and DELETE clears them all.
const FaultsPath = "/meshsim/faults"

// Envoy's admin endpoints that tell whether the proxy is initialized:
// ServerInfoPath answers JSON whose "state" is LIVE once the first
// complete configuration is applied (what App Mesh's documented Envoy
// health check greps for), ReadyPath 200 "LIVE" then and 503 before.
const (
	ServerInfoPath = "/server_info"
	ReadyPath      = "/ready"
)

// The states of ServerInfoPath, as Envoy names them.
const (
	StateLive         = "LIVE"
	StateInitializing = "INITIALIZING"
)

// SidecarHealthCheck is the health check command App Mesh documents for
// its Envoy container; it succeeds once the proxy is LIVE.
var SidecarHealthCheck = []string{"CMD-SHELL", "curl -s http://localhost:9901" + ServerInfoPath + " | grep state | grep -q " + StateLive}

// maxFaultDelay bounds the latency a fault may add.
const maxFaultDelay = 10 * time.Minute

// Faults are the failures the sidecar injects, as Envoy's fault filter
// does, into the requests it forwards, on every listener. In a meshsim
// world a task's callers reach its application directly (there is no
// iptables redirect to the inbound listener), so what a fault changes is
// the task's calls to its backends (on the egress listener) and, for the
// App Mesh ingress gateway, the load entering the mesh.
type Faults struct {
	// Delay is added before each request is forwarded; a request whose
	// client goes away during the delay is not forwarded.
	Delay time.Duration
	// DropPercent is the share of requests (0-100), picked at random,
	// that are dropped instead of forwarded: an HTTP/1.1 request has its
	// connection reset (TCP RST), an HTTP/2 request (and so a gRPC call)
	// has its stream reset (RST_STREAM with INTERNAL_ERROR).
	DropPercent float64
}

// Patch is Faults on the wire: the body of a POST to FaultsPath, with
// either field optional (an absent field keeps its fault; "0s" or 0 clears
// it).
type Patch struct {
	Delay       *string  `json:"delay,omitempty"`
	DropPercent *float64 `json:"dropPercent,omitempty"`
}

// MarshalJSON writes f as {"delay": "200ms", "dropPercent": 20}.
func (f Faults) MarshalJSON() ([]byte, error) {
	d := f.Delay.String()
	return json.Marshal(Patch{Delay: &d, DropPercent: &f.DropPercent})
}

// UnmarshalJSON reads what MarshalJSON writes; absent fields are zero.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var in Patch
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	out := Faults{}
	if err := in.Apply(&out); err != nil {
		return err
	}
	*f = out
	return nil
}

// Apply sets the fields of f that in names, checking their values.
func (in Patch) Apply(f *Faults) error {
	if in.Delay != nil {
		d, err := time.ParseDuration(*in.Delay)
		if err != nil || d < 0 || d > maxFaultDelay {
			return fmt.Errorf("delay %q: want a duration from 0s to %s, such as 200ms", *in.Delay, maxFaultDelay)
		}
		f.Delay = d
	}
	if in.DropPercent != nil {
		p := *in.DropPercent
		if !(p >= 0 && p <= 100) {
			return fmt.Errorf("dropPercent %v: want 0 to 100", p)
		}
		f.DropPercent = p
	}
	return nil
}

// SetDelay asks the sidecar whose admin listener is at addr (host:port) to
// delay every request it forwards by d (0 clears the delay), keeping its
// other faults.
func SetDelay(ctx context.Context, c *http.Client, addr string, d time.Duration) error {
	s := d.String()
	return callAdmin(ctx, c, http.MethodPost, addr, Patch{Delay: &s})
}

// SetDropPercent asks the sidecar at addr to drop percent (0-100) of the
// requests it forwards, keeping its other faults.
func SetDropPercent(ctx context.Context, c *http.Client, addr string, percent float64) error {
	return callAdmin(ctx, c, http.MethodPost, addr, Patch{DropPercent: &percent})
}

// ClearFaults asks the sidecar at addr to stop injecting faults.
func ClearFaults(ctx context.Context, c *http.Client, addr string) error {
	return callAdmin(ctx, c, http.MethodDelete, addr, nil)
}

func callAdmin(ctx context.Context, c *http.Client, method, addr string, body any) error {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := "http://" + addr + FaultsPath
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("sidecar admin %s %s: %w", method, u, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("sidecar admin: %w", err)
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 1<<10))
	switch {
	case res.StatusCode == http.StatusOK:
		return nil
	case res.StatusCode == http.StatusNotFound:
		return fmt.Errorf("sidecar admin %s %s: 404: this sidecar has no meshsim fault API (the embedded sidecar has it; Envoy does not)", method, u)
	}
	return fmt.Errorf("sidecar admin %s %s: %s: %s", method, u, res.Status, bytes.TrimSpace(msg))
}

// StatsPath is the admin endpoint of the sidecar's queueing figures: GET
// returns its Stats.
const StatsPath = "/meshsim/stats"

// Stats are a sidecar's queueing figures: how many requests it holds and
// how many of those wait for their upstream. A run samples them to tell a
// proxy that queues (the host is short of CPU, or a backend is slow) from
// one that passes requests straight through.
type Stats struct {
	// InFlight counts the requests in the proxy now: received, and not yet
	// answered in full (a long-lived stream counts for as long as it is
	// open).
	InFlight int64 `json:"inFlight"`
	// Waiting counts the requests of InFlight sent upstream and waiting for
	// the response headers, retries and their backoff included.
	Waiting int64 `json:"waiting"`
	// PeakInFlight and PeakWaiting are the largest InFlight and Waiting
	// since the previous read of the stats (since the start for the
	// first): each read starts a new period, so one reader at a time (the
	// run) gets the peak of each of its sampling intervals.
	PeakInFlight int64 `json:"peakInFlight"`
	PeakWaiting  int64 `json:"peakWaiting"`
	// Requests counts the requests received since the proxy started.
	Requests uint64 `json:"requests"`
}

// ErrNoStats is the error ReadStats wraps when the sidecar does not serve
// StatsPath.
var ErrNoStats = errors.New("this sidecar has no meshsim stats (the embedded sidecar has them; Envoy does not)")

// ReadStats reads the queueing figures of the sidecar whose admin listener
// is at addr (host:port).
func ReadStats(ctx context.Context, c *http.Client, addr string) (Stats, error) {
	u := "http://" + addr + StatsPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, http.NoBody)
	if err != nil {
		return Stats{}, fmt.Errorf("sidecar admin GET %s: %w", u, err)
	}
	res, err := c.Do(req)
	if err != nil {
		return Stats{}, fmt.Errorf("sidecar admin: %w", err)
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode == http.StatusNotFound:
		return Stats{}, fmt.Errorf("sidecar admin GET %s: 404: %w", u, ErrNoStats)
	case res.StatusCode != http.StatusOK:
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 1<<10))
		return Stats{}, fmt.Errorf("sidecar admin GET %s: %s: %s", u, res.Status, msg)
	}
	var s Stats
	if err := json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&s); err != nil {
		return Stats{}, fmt.Errorf("sidecar admin GET %s: %w", u, err)
	}
	return s, nil
}
