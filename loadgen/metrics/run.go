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
	// streams is each stream's last event kind, by stream id;
	// streamTotals counts its breaks, resumes and gaps.
	streams      map[string]string
	streamTotals StreamCounts
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
		r.addStream(&o)
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
// the first Through observations of the run, in all and per version (a
// canary analysis compares the versions measured in the same window). A live gate judges "the last
// few seconds" by completion, so that requests still in flight are not
// missing from its window.
type Window struct {
	From, To time.Time
	Through  int
	Step
}

// Window aggregates the requests that completed in [from, to) and have
// arrived so far (within the span kept). Its Through lets the reports recompute it
// from the run directory with WindowOf.
func (r *Run) Window(from, to time.Time) Window {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := Window{From: from, To: to, Through: r.added, Step: *NewStep()}
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
	w := Window{From: from, To: to, Through: through, Step: *NewStep()}
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

// Recent aggregates, per version, the requests that completed in
// [from, to) among those kept (the live dashboard's last second). It reads
// the newest requests first and stops at those that completed well
// before from: requests arrive in about the order they complete.
func (r *Run) Recent(from, to time.Time) *Step {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := NewStep()
	stop := from.Add(-recentSlack)
	for i := len(r.recent) - 1; i >= r.head; i-- {
		o := &r.recent[i].o
		c := Completed(o)
		if c.Before(stop) {
			break
		}
		if !c.Before(from) && c.Before(to) {
			s.Add(o)
		}
	}
	return s
}

// recentSlack is how far out of completion order requests may arrive.
const recentSlack = 5 * time.Second

// StreamCounts is the state of the run's long-lived streams by their last
// event: open (delivering: opened or resumed), broken (awaiting a resume),
// ended; and the breaks, resumes and message gaps so far.
type StreamCounts struct {
	Open, Broken, Ended   int
	Breaks, Resumes, Gaps int
}

// Streams returns the state of the run's streams.
func (r *Run) Streams() StreamCounts {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.streamTotals
	for _, kind := range r.streams {
		switch kind {
		case rundir.KindStreamOpen, rundir.KindStreamResume:
			c.Open++
		case rundir.KindStreamBreak:
			c.Broken++
		case rundir.KindStreamEnd:
			c.Ended++
		}
	}
	return c
}

// addStream follows a stream event; r.mu is held.
func (r *Run) addStream(o *rundir.Observation) {
	if o.Stream == nil || o.Stream.ID == "" {
		return
	}
	switch o.Kind {
	case rundir.KindStreamGap:
		r.streamTotals.Gaps++
		return
	case rundir.KindStreamBreak:
		r.streamTotals.Breaks++
	case rundir.KindStreamResume:
		r.streamTotals.Resumes++
	}
	if r.streams == nil {
		r.streams = map[string]string{}
	}
	r.streams[o.Stream.ID] = o.Kind
}

// StepVersions summarizes step i so far per version that answered: its
// counts, failures by kind and latency quantiles.
func (r *Run) StepVersions(i int) map[string]Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]Summary{}
	if s := r.steps[i]; s != nil {
		for v, t := range s.Versions {
			out[v] = t.Summary()
		}
	}
	return out
}
