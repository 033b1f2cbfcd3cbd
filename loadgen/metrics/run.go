package metrics

import (
	"sync"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
)

// Run aggregates a run's observations as they arrive: per step (by the
// step index each observation carries) and, for the gates, the requests
// sent within a recent span. It is safe for concurrent use.
type Run struct {
	span time.Duration

	mu    sync.Mutex
	steps map[int]*Step
	// added counts every observation added, requests or not: the position
	// the next one takes in the run directory's observations.
	added  int
	recent []indexed // requests in arrival order
	head   int       // recent[:head] ended before the span, awaiting compaction
}

type indexed struct {
	o rundir.Observation
	i int // position among all observations
}

// NewRun returns an empty run aggregate that keeps the requests sent in the
// last span for Window.
func NewRun(span time.Duration) *Run { return &Run{span: span, steps: map[int]*Step{}} }

// Add aggregates o. A caller that writes observations to the run directory
// adds them in the order it writes them, so that a Window's Through counts
// the same observations in the file.
func (r *Run) Add(o rundir.Observation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := r.added
	r.added++
	if !o.IsRequest() {
		return
	}
	s := r.steps[o.Step]
	if s == nil {
		s = NewStep()
		r.steps[o.Step] = s
	}
	s.Add(&o)
	r.recent = append(r.recent, indexed{o, i})
	cutoff := Completed(&o).Add(-r.span)
	for r.head < len(r.recent) && Completed(&r.recent[r.head].o).Before(cutoff) {
		r.head++
	}
	if r.head > len(r.recent)/2 {
		r.recent = append(r.recent[:0], r.recent[r.head:]...)
		r.head = 0
	}
}

// Completed is when o's outcome came back: its scheduled time plus its
// latency (which is measured from the schedule).
func Completed(o *rundir.Observation) time.Time { return o.Scheduled.Add(o.Latency) }

// Step returns a copy of the counts of step i so far.
func (r *Run) Step(i int) Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.steps[i]; s != nil {
		return s.Counts()
	}
	return Counts{Versions: map[string]int{}}
}

// StepQuantiles returns the latency quantiles of step i so far.
func (r *Run) StepQuantiles(i int) Quantiles {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.steps[i]; s != nil {
		return s.Latency.Quantiles()
	}
	return Quantiles{}
}

// Window is what the requests that completed in [From, To) came to, among
// the first Through observations of the run. A live gate judges "the last
// few seconds" by completion, so that requests still in flight are not
// missing from its window.
type Window struct {
	From, To time.Time
	Through  int
	Tally
}

// Window aggregates the requests that completed in [from, to) and have
// arrived so far (within the span kept). Its Through lets the reports recompute it
// from the run directory with WindowOf.
func (r *Run) Window(from, to time.Time) Window {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := Window{From: from, To: to, Through: r.added, Tally: *NewTally()}
	for i := range r.recent[r.head:] {
		if o := &r.recent[r.head+i].o; inWindow(o, from, to) {
			w.Add(o)
		}
	}
	return w
}

// WindowOf is Window computed from a run directory's observations (in
// their file order): the requests that completed in [from, to) among the
// first through of them.
func WindowOf(obs []rundir.Observation, from, to time.Time, through int) Window {
	w := Window{From: from, To: to, Through: through, Tally: *NewTally()}
	for i := range obs[:min(through, len(obs))] {
		if o := &obs[i]; inWindow(o, from, to) {
			w.Add(o)
		}
	}
	return w
}

func inWindow(o *rundir.Observation, from, to time.Time) bool {
	c := Completed(o)
	return !c.Before(from) && c.Before(to)
}
