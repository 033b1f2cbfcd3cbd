package engine

import (
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/meshsim/meshsim/loadgen/metrics"
	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/scenarios/engine/status"
	"github.com/meshsim/meshsim/sim/contract"
)

// historyLen is how many seconds of history each version keeps for the
// dashboard's sparklines.
const historyLen = 60

// live assembles what the run looks like now for the status: per version
// from the aggregator the reports use (the step's counts, errors by class
// and latency quantiles, and a second-by-second history), the streams'
// state from the same aggregator, the tasks from the world's events, and
// the instrument's latest samples. It counts nothing itself.
type live struct {
	agg   *metrics.Run
	tasks *taskBook
	now   func() time.Time

	mu         sync.Mutex
	taskStates map[string]status.Task // by task id
	instrument status.Instrument
	seconds    []map[string]status.Second // the last historyLen seconds, oldest first
	lastSecond time.Time
}

func newLive(agg *metrics.Run, tasks *taskBook) *live {
	return &live{agg: agg, tasks: tasks, now: time.Now, taskStates: map[string]status.Task{}}
}

// observe follows the tasks' lifecycle from ECS's task.state events.
func (l *live) observe(e rundir.Event) {
	if l == nil || e.Source != contract.SourceECS || e.Type != contract.EventTaskState {
		return
	}
	id := e.Resource[strings.LastIndexByte(e.Resource, '/')+1:]
	version := l.tasks.version(e.Detail[contract.DetailTaskDefinition])
	l.mu.Lock()
	defer l.mu.Unlock()
	l.taskStates[id] = status.Task{Service: e.Detail[contract.DetailService], Version: version, ID: id, State: e.Detail[contract.DetailTo]}
}

// sample takes the instrument's latest host and load-generator figures.
func (l *live) sample(s rundir.InstrumentSample) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch s.Kind {
	case rundir.SampleHost:
		l.instrument.CPUs = s.CPUs
		if s.ProcessCPU != nil && s.Interval > 0 {
			l.instrument.CPU = float64(*s.ProcessCPU) / float64(s.Interval)
		}
		if s.SchedP99 != nil {
			l.instrument.SchedP99 = *s.SchedP99
		}
		if s.Load1 != nil {
			l.instrument.Load1 = *s.Load1
		}
	case rundir.SampleLoadgen:
		l.instrument.Lag, l.instrument.MaxLag = s.Lag, s.MaxLag
	}
}

// view returns the run's live figures in step (configured weights given),
// taking a second of history when one has passed since the last.
func (l *live) view(step int, weights []status.VersionWeight) *status.Live {
	if l == nil {
		return nil
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSecond) >= time.Second {
		l.takeSecond(now)
	}
	v := &status.Live{Instrument: l.instrument}
	st := l.agg.StepVersions(step)
	for _, name := range liveVersions(weights, st, l.seconds) {
		v.Versions = append(v.Versions, l.version(name, weights, st))
	}
	sc := l.agg.Streams()
	v.Streams = status.Streams{Open: sc.Open, Broken: sc.Broken, Ended: sc.Ended, Breaks: sc.Breaks, Resumes: sc.Resumes, Gaps: sc.Gaps}
	for _, t := range l.taskStates {
		v.Tasks = append(v.Tasks, t)
	}
	sort.Slice(v.Tasks, func(i, j int) bool {
		a, b := v.Tasks[i], v.Tasks[j]
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.ID < b.ID
	})
	return v
}

// takeSecond appends the second before now to the history.
func (l *live) takeSecond(now time.Time) {
	sec := l.agg.Recent(now.Add(-time.Second), now)
	m := make(map[string]status.Second, len(sec.Versions))
	answered := 0
	for _, t := range sec.Versions {
		answered += t.Requests
	}
	for name, t := range sec.Versions {
		s := status.Second{Rate: float64(t.Requests), Failed: int64(t.Failed), P99: t.Latency.Quantiles().P99}
		if answered > 0 {
			s.Share = float64(t.Requests) / float64(answered)
		}
		m[name] = s
	}
	l.seconds = append(l.seconds, m)
	if n := len(l.seconds); n > historyLen {
		l.seconds = append(l.seconds[:0], l.seconds[n-historyLen:]...)
	}
	l.lastSecond = now
}

// version is one version's live figures.
func (l *live) version(name string, weights []status.VersionWeight, st map[string]metrics.Summary) status.VersionLive {
	v := status.VersionLive{Version: name, Weight: -1}
	for _, w := range weights {
		if w.Version == name {
			v.Weight = w.Weight
		}
	}
	answered := 0
	for _, t := range st {
		answered += t.Requests
	}
	if t, ok := st[name]; ok {
		v.Requests, v.Failed = int64(t.Requests), int64(t.Failed)
		if answered > 0 {
			v.Share = float64(t.Requests) / float64(answered)
		}
		if len(t.ErrorsByKind) > 0 {
			v.Errors = make(map[string]int64, len(t.ErrorsByKind))
			for k, n := range t.ErrorsByKind {
				v.Errors[k] = int64(n)
			}
		}
		v.P50, v.P99 = t.Latency.P50, t.Latency.P99
	}
	v.History = make([]status.Second, len(l.seconds))
	for i, m := range l.seconds {
		v.History[i] = m[name]
	}
	if n := len(v.History); n > 0 {
		v.Rate = v.History[n-1].Rate
	}
	return v
}

// liveVersions are the configured versions in order, then the others that
// answered in the step or the last minute, sorted.
func liveVersions(weights []status.VersionWeight, st map[string]metrics.Summary, seconds []map[string]status.Second) []string {
	seen := map[string]bool{}
	var out, extra []string
	for _, w := range weights {
		if !seen[w.Version] {
			seen[w.Version] = true
			out = append(out, w.Version)
		}
	}
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			extra = append(extra, name)
		}
	}
	for name := range st {
		add(name)
	}
	for _, m := range seconds {
		for name := range m {
			add(name)
		}
	}
	sort.Strings(extra)
	return append(out, extra...)
}
