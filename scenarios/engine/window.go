package engine

import (
	"slices"
	"sync"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
)

// window keeps the outcomes of the requests sent in the last span, for the
// gates that judge a deployment by what happened just now.
type window struct {
	span time.Duration

	mu   sync.Mutex
	obs  []outcome // in arrival order
	head int       // obs[:head] are older than span, awaiting compaction
}

type outcome struct {
	sent    time.Time
	ok      bool
	latency time.Duration
}

func newWindow(span time.Duration) *window { return &window{span: span} }

func (w *window) add(o rundir.Observation) {
	if !o.IsRequest() {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.obs = append(w.obs, outcome{sent: o.Sent, ok: o.OK(), latency: o.Latency})
	cutoff := o.Sent.Add(-w.span)
	for w.head < len(w.obs) && w.obs[w.head].sent.Before(cutoff) {
		w.head++
	}
	if w.head > len(w.obs)/2 {
		w.obs = append(w.obs[:0], w.obs[w.head:]...)
		w.head = 0
	}
}

// stats summarises the requests sent since t: how many, how many failed,
// and their p99 latency.
func (w *window) stats(since time.Time) (n, failed int, p99 time.Duration) {
	w.mu.Lock()
	var lat []time.Duration
	for _, o := range w.obs[w.head:] {
		if o.sent.Before(since) {
			continue
		}
		n++
		if !o.ok {
			failed++
		}
		lat = append(lat, o.latency)
	}
	w.mu.Unlock()
	if n == 0 {
		return 0, 0, 0
	}
	slices.Sort(lat)
	return n, failed, lat[(len(lat)*99+99)/100-1]
}
