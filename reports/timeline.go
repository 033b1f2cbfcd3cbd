package reports

import (
	"sort"
	"strings"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/sim/contract"
)

// Timeline is the run over time, in buckets of Interval from Start, for
// report.html's charts: per bucket the share each version served, the
// failures by class, the latency quantiles per version and the streams'
// state; and the world events that explain them.
type Timeline struct {
	Start    time.Time     `json:"start"`
	Interval time.Duration `json:"intervalNs"`
	// Versions are the versions that answered, sorted.
	Versions []string `json:"versions"`
	// ErrorKinds are the failure classes seen, sorted.
	ErrorKinds []string        `json:"errorKinds,omitempty"`
	Buckets    []TimeBucket    `json:"buckets"`
	Events     []TimelineEvent `json:"events,omitempty"`
	// Streams is set when the run held long-lived streams.
	Streams bool `json:"streams,omitempty"`
}

// TimeBucket is one interval of the run: the requests scheduled in it.
type TimeBucket struct {
	Requests int `json:"requests"`
	Failed   int `json:"failed"`
	// Served counts the requests each version answered.
	Served map[string]int `json:"served,omitempty"`
	// Errors counts the failures by class.
	Errors map[string]int `json:"errors,omitempty"`
	// P50 and P99 are each version's latency quantiles.
	P50 map[string]time.Duration `json:"p50Ns,omitempty"`
	P99 map[string]time.Duration `json:"p99Ns,omitempty"`
	// Open and Broken are the streams delivering and awaiting a resume at
	// the bucket's end; Breaks and Resumes what happened in it.
	Open    int `json:"openStreams,omitempty"`
	Broken  int `json:"brokenStreams,omitempty"`
	Breaks  int `json:"streamBreaks,omitempty"`
	Resumes int `json:"streamResumes,omitempty"`
}

// TimelineEvent is a world event marked on the charts.
type TimelineEvent struct {
	At time.Time `json:"at"`
	// Kind is one of the EventKind constants.
	Kind string `json:"kind"`
	Text string `json:"text"`
}

// The kinds of world events the charts mark.
const (
	EventKindTaskStopping    = "task stopping"
	EventKindEndpointRemoved = "endpoint removed"
	EventKindRouteUpdate     = "route update"
	EventKindGate            = "gate decision"
	EventKindRollback        = "rollback"
)

// maxBuckets bounds a timeline's buckets: a long run gets wider ones.
const maxBuckets = 600

// timeline buckets the run's requests and stream events by when they were
// scheduled (happened), and picks the world events the charts mark.
func timeline(run *rundir.Run, steps []StepReport) *Timeline {
	var start, end time.Time
	for i := range run.Observations {
		o := &run.Observations[i]
		if start.IsZero() || o.Scheduled.Before(start) {
			start = o.Scheduled
		}
		if o.Scheduled.After(end) {
			end = o.Scheduled
		}
	}
	for _, s := range steps {
		if !s.Start.IsZero() && (start.IsZero() || s.Start.Before(start)) {
			start = s.Start
		}
		if s.End.After(end) {
			end = s.End
		}
	}
	if start.IsZero() || !end.After(start) {
		return nil
	}
	tl := &Timeline{Start: start.Truncate(time.Second), Interval: time.Second}
	if span := end.Sub(tl.Start); span > maxBuckets*time.Second {
		tl.Interval = (span/maxBuckets + time.Second).Truncate(time.Second)
	}
	n := int(end.Sub(tl.Start)/tl.Interval) + 1
	tl.Buckets = make([]TimeBucket, n)
	latencies := make([]map[string][]time.Duration, n)
	versions, kinds := map[string]bool{}, map[string]bool{}
	for i := range run.Observations {
		o := &run.Observations[i]
		b := int(o.Scheduled.Sub(tl.Start) / tl.Interval)
		if b < 0 || b >= n {
			continue
		}
		bucket := &tl.Buckets[b]
		if o.IsStream() {
			tl.Streams = true
			countStream(bucket, o)
			continue
		}
		if !o.IsRequest() || o.ErrorKind == canceledKind {
			continue
		}
		bucket.Requests++
		if !o.OK() {
			bucket.Failed++
			kind := o.ErrorKind
			if kind == "" {
				kind = "other"
			}
			kinds[kind] = true
			inc(&bucket.Errors, kind)
		}
		if o.Version != "" {
			versions[o.Version] = true
			inc(&bucket.Served, o.Version)
			if latencies[b] == nil {
				latencies[b] = map[string][]time.Duration{}
			}
			latencies[b][o.Version] = append(latencies[b][o.Version], o.Latency)
		}
	}
	tl.quantiles(latencies)
	tl.streamStates(run.Observations)
	tl.Versions, tl.ErrorKinds = sortedSet(versions), sortedSet(kinds)
	tl.Events = markedEvents(run.Events, tl.Start, end)
	return tl
}

func inc(m *map[string]int, k string) {
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[k]++
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// countStream counts a stream's break or resume in its bucket.
func countStream(b *TimeBucket, o *rundir.Observation) {
	switch o.Kind {
	case rundir.KindStreamBreak:
		b.Breaks++
	case rundir.KindStreamResume:
		b.Resumes++
	}
}

// streamStates sets each bucket's open and broken streams: the state of
// every stream by its last event up to the bucket's end.
func (tl *Timeline) streamStates(obs []rundir.Observation) {
	if !tl.Streams {
		return
	}
	events := make([]*rundir.Observation, 0)
	for i := range obs {
		if o := &obs[i]; o.IsStream() && o.Stream != nil && o.Kind != rundir.KindStreamGap {
			events = append(events, o)
		}
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].Scheduled.Before(events[j].Scheduled) })
	state := map[string]string{}
	next := 0
	for b := range tl.Buckets {
		end := tl.Start.Add(time.Duration(b+1) * tl.Interval)
		for ; next < len(events) && events[next].Scheduled.Before(end); next++ {
			state[events[next].Stream.ID] = events[next].Kind
		}
		for _, k := range state {
			switch k {
			case rundir.KindStreamOpen, rundir.KindStreamResume:
				tl.Buckets[b].Open++
			case rundir.KindStreamBreak:
				tl.Buckets[b].Broken++
			}
		}
	}
}

// quantiles sets each bucket's p50 and p99 per version, exact (from the
// sorted latencies).
func (tl *Timeline) quantiles(latencies []map[string][]time.Duration) {
	for b, byVersion := range latencies {
		for v, ls := range byVersion {
			sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
			at := func(q float64) time.Duration { return ls[min(int(q*float64(len(ls))), len(ls)-1)] }
			bucket := &tl.Buckets[b]
			if bucket.P50 == nil {
				bucket.P50, bucket.P99 = map[string]time.Duration{}, map[string]time.Duration{}
			}
			bucket.P50[v], bucket.P99[v] = at(0.50), at(0.99)
		}
	}
}

// markedEvents picks, from the run's events between start and end, those
// the charts mark: tasks stopping, endpoints removed from discovery, route
// updates, gate decisions and rollbacks.
func markedEvents(events []rundir.Event, start, end time.Time) []TimelineEvent {
	var out []TimelineEvent
	for _, e := range events {
		if e.Time.Before(start) || e.Time.After(end) {
			continue
		}
		kind, text := markedEvent(e)
		if kind != "" {
			out = append(out, TimelineEvent{At: e.Time, Kind: kind, Text: text})
		}
	}
	return out
}

func markedEvent(e rundir.Event) (kind, text string) {
	d := e.Detail
	res := e.Resource[strings.LastIndexByte(e.Resource, '/')+1:]
	switch {
	case e.Type == contract.EventTaskState && (d[contract.DetailTo] == "DEACTIVATING" || d[contract.DetailTo] == "STOPPING") && d[contract.DetailFrom] == "RUNNING":
		return EventKindTaskStopping, "task " + res + " (" + d[contract.DetailService] + ") stopping"
	case e.Type == contract.EventInstanceDeregistered:
		return EventKindEndpointRemoved, "endpoint " + d["instanceId"] + " (" + d["ipv4"] + ") removed from Cloud Map"
	case e.Type == contract.EventRouteUpdated:
		return EventKindRouteUpdate, "route " + res + " updated " + d[contract.DetailWeights]
	case e.Type == contract.EventGateSucceeded || e.Type == contract.EventGateFailed || e.Type == contract.EventGateUnanswered:
		return EventKindGate, strings.TrimPrefix(string(e.Type), "gate.") + " " + d[contract.DetailStage] + ": " + d[contract.DetailReason]
	case e.Type == contract.EventControl && d[contract.DetailAction] == "rollback":
		return EventKindRollback, d[contract.DetailReason]
	case e.Type == contract.EventDeploymentState && d[contract.DetailRolloutState] == "FAILED":
		return EventKindRollback, "ECS deployment of " + d[contract.DetailService] + " failed: " + d[contract.DetailReason]
	}
	return "", ""
}
