package sidecar

import (
	"encoding/json"
	"net/http"
	"sync/atomic"

	"github.com/meshsim/meshsim/sim/sidecar/admin"
)

// queueStats counts requests for admin.Stats with a few atomic operations per
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
func (q *queueStats) read() admin.Stats {
	s := admin.Stats{InFlight: q.inFlight.Load(), Waiting: q.waiting.Load(), Requests: q.requests.Load()}
	// The new period's peak starts at the current value; a request that
	// enters between the loads and the swaps raises it as it should.
	s.PeakInFlight = max(q.peakInFlight.Swap(s.InFlight), s.InFlight)
	s.PeakWaiting = max(q.peakWaiting.Swap(s.Waiting), s.Waiting)
	return s
}

// Stats returns the proxy's queueing figures and starts a new peak period
// (see admin.Stats.PeakInFlight), as a read of its admin API's
// admin.StatsPath does.
func (p *Proxy) Stats() admin.Stats { return p.queue.read() }

func (p *Proxy) serveStats(w http.ResponseWriter, _ *http.Request) {
	b, err := json.Marshal(p.Stats())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n'))
}
