package sidecar

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
)

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

// queueStats counts requests for Stats with a few atomic operations per
// request, and no allocation.
type queueStats struct {
	inFlight, waiting         atomic.Int64
	peakInFlight, peakWaiting atomic.Int64
	requests                  atomic.Uint64
}

// raise makes peak at least v.
func raise(peak *atomic.Int64, v int64) {
	for {
		p := peak.Load()
		if v <= p || peak.CompareAndSwap(p, v) {
			return
		}
	}
}

// enter counts a request received; leave, when it is answered.
func (q *queueStats) enter() {
	q.requests.Add(1)
	raise(&q.peakInFlight, q.inFlight.Add(1))
}

func (q *queueStats) leave() { q.inFlight.Add(-1) }

// wait counts a request sent upstream until its response headers arrive;
// done, when they have (or the attempts failed).
func (q *queueStats) wait() { raise(&q.peakWaiting, q.waiting.Add(1)) }

func (q *queueStats) done() { q.waiting.Add(-1) }

// read returns the stats and starts a new peak period.
func (q *queueStats) read() Stats {
	s := Stats{InFlight: q.inFlight.Load(), Waiting: q.waiting.Load(), Requests: q.requests.Load()}
	// The new period's peak starts at the current value; a request that
	// enters between the loads and the swaps raises it as it should.
	s.PeakInFlight = max(q.peakInFlight.Swap(s.InFlight), s.InFlight)
	s.PeakWaiting = max(q.peakWaiting.Swap(s.Waiting), s.Waiting)
	return s
}

// Stats returns the proxy's queueing figures and starts a new peak period
// (see Stats.PeakInFlight), as a read of its admin API's StatsPath does.
func (p *Proxy) Stats() Stats { return p.queue.read() }

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
		return Stats{}, fmt.Errorf("sidecar admin GET %s: 404: this sidecar has no meshsim stats (the embedded sidecar has them; Envoy does not)", u)
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

func (p *Proxy) serveStats(w http.ResponseWriter, _ *http.Request) {
	b, err := json.Marshal(p.Stats())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n'))
}
