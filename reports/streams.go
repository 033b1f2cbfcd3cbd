package reports

import (
	"sort"
	"time"

	"gonum.org/v1/gonum/stat"

	"github.com/meshsim/meshsim/loadgen/rundir"
)

// StreamTotals is the continuity of the run's long-lived gRPC streams.
type StreamTotals struct {
	// Streams counts the streams of the run; NeverOpened those that never
	// delivered a message.
	Streams     int `json:"streams"`
	NeverOpened int `json:"neverOpened,omitempty"`
	// Received counts the messages the streams received (from their
	// stream-end records; 0 for a run cut off before).
	Received uint64 `json:"received"`
	StreamContinuity
	// Unresumed lists the breaks after which the stream did not deliver
	// again before the run ended (at most one per stream: its last).
	Unresumed []UnresumedBreak `json:"unresumed,omitempty"`
}

// UnresumedBreak is a break that was never resumed.
type UnresumedBreak struct {
	Stream    string    `json:"stream"`
	Step      int       `json:"step"`
	At        time.Time `json:"at"`
	Version   string    `json:"version,omitempty"`
	ErrorKind string    `json:"errorKind,omitempty"`
}

// StepStreams is the continuity of the streams in one step: the events
// that happened while the step was in force, and how the delivering
// streams were spread over versions when it started and when it ended.
type StepStreams struct {
	StreamContinuity
	// AtStart and AtEnd count the streams delivering when the step started
	// and when it ended; Moved those delivering at both times on different
	// versions (a stream that broke and resumed elsewhere). AtEnd and Moved
	// are 0 for a step without an end.
	AtStart int `json:"atStart"`
	AtEnd   int `json:"atEnd"`
	Moved   int `json:"moved"`
}

// StreamContinuity counts what happened to streams in a step or a run.
type StreamContinuity struct {
	// Opened counts streams that delivered their first message; Broken the
	// calls that ended with an error after delivering; Resumed the broken
	// streams that delivered again on a new call; NeverResumed the breaks
	// after which the stream did not deliver again before the run ended.
	Opened       int `json:"opened"`
	Broken       int `json:"broken"`
	Resumed      int `json:"resumed"`
	NeverResumed int `json:"neverResumed"`
	// BreaksByKind counts the breaks by error kind ("drained", "goaway",
	// "rst-stream", "reset", "eof", "deadline", …).
	BreaksByKind map[string]int `json:"breaksByKind,omitempty"`
	// Lost counts messages skipped and never received; Duplicated and
	// OutOfOrder messages received twice or late (rundir.StreamEvent).
	Lost       uint64 `json:"lost"`
	Duplicated uint64 `json:"duplicated"`
	OutOfOrder uint64 `json:"outOfOrder"`
	// Reconnect is the time from a break to the first message of the
	// resumed call, over the resumptions: exact quantiles (nearest rank) of
	// the recorded times, which are few.
	Reconnect Latency `json:"reconnect"`
	// Versions holds one entry per version involved, sorted by name.
	Versions []StreamVersion `json:"versions"`
}

// StreamVersion is the continuity of the streams of one version.
type StreamVersion struct {
	Version string `json:"version"`
	// Opened counts streams first opened on the version; Broken calls on it
	// that broke; Resumed resumptions onto it; ResumedFrom resumptions of
	// streams whose broken call was on it.
	Opened      int `json:"opened"`
	Broken      int `json:"broken"`
	Resumed     int `json:"resumed"`
	ResumedFrom int `json:"resumedFrom"`
	// Lost counts the messages lost with calls on the version.
	Lost uint64 `json:"lost"`
	// AtStart and AtEnd (steps only) count the streams delivering on the
	// version when the step started and ended.
	AtStart int `json:"atStart"`
	AtEnd   int `json:"atEnd"`
}

// streamAnalysis is the stream events of a run, ordered per stream.
type streamAnalysis struct {
	// byStream holds each stream's events in the order it recorded them.
	byStream map[string][]*rundir.Observation
	// resumedAfter maps each break to the resume that ended it, if any.
	resumedAfter map[*rundir.Observation]*rundir.Observation
}

func newStreamAnalysis(obs []*rundir.Observation) *streamAnalysis {
	a := &streamAnalysis{
		byStream:     map[string][]*rundir.Observation{},
		resumedAfter: map[*rundir.Observation]*rundir.Observation{},
	}
	for _, o := range obs {
		id := ""
		if o.Stream != nil {
			id = o.Stream.ID
		}
		a.byStream[id] = append(a.byStream[id], o)
	}
	for _, evs := range a.byStream {
		// One generator numbers its records in the order it makes them,
		// and one stream's events are made in order.
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].Seq < evs[j].Seq })
		var pending *rundir.Observation
		for _, o := range evs {
			switch o.Kind {
			case rundir.KindStreamBreak:
				pending = o
			case rundir.KindStreamResume:
				if pending != nil {
					a.resumedAfter[pending] = o
					pending = nil
				}
			}
		}
	}
	return a
}

// continuity counts the events of obs.
func (a *streamAnalysis) continuity(obs []*rundir.Observation) StreamContinuity {
	c := StreamContinuity{Versions: []StreamVersion{}}
	versions := map[string]*StreamVersion{}
	version := func(v string) *StreamVersion {
		sv := versions[v]
		if sv == nil {
			sv = &StreamVersion{Version: v}
			versions[v] = sv
		}
		return sv
	}
	var reconnect []float64
	var lost, filled int64
	lostBy := map[string]int64{}
	for _, o := range obs {
		s := o.Stream
		if s == nil {
			continue
		}
		switch o.Kind {
		case rundir.KindStreamOpen:
			c.Opened++
			version(o.Version).Opened++
		case rundir.KindStreamBreak:
			c.Broken++
			version(o.Version).Broken++
			if c.BreaksByKind == nil {
				c.BreaksByKind = map[string]int{}
			}
			kind := o.ErrorKind
			if kind == "" {
				kind = "other"
			}
			c.BreaksByKind[kind]++
			if a.resumedAfter[o] == nil {
				c.NeverResumed++
			}
		case rundir.KindStreamResume:
			c.Resumed++
			version(o.Version).Resumed++
			if s.FromVersion != "" {
				version(s.FromVersion).ResumedFrom++
			}
			reconnect = append(reconnect, float64(s.Reconnect))
		case rundir.KindStreamGap:
			lost += int64(s.Lost)
			filled += int64(s.OutOfOrder)
			c.Duplicated += s.Duplicated
			c.OutOfOrder += s.OutOfOrder
			by := o.Version
			if s.FromVersion != "" {
				by = s.FromVersion
			}
			lostBy[by] += int64(s.Lost) - int64(s.OutOfOrder)
		}
	}
	c.Lost = uint64(max(lost-filled, 0))
	for v, n := range lostBy {
		if n > 0 {
			version(v).Lost = uint64(n)
		}
	}
	c.Reconnect = exactQuantiles(reconnect)
	for _, v := range sortedKeys(versions) {
		c.Versions = append(c.Versions, *versions[v])
	}
	return c
}

// spread returns, for each stream delivering at t, the version it was
// delivering from.
func (a *streamAnalysis) spread(t time.Time) map[string]string {
	out := map[string]string{}
	for id, evs := range a.byStream {
		version, delivering := "", false
		for _, o := range evs {
			if o.Sent.After(t) {
				break
			}
			switch o.Kind {
			case rundir.KindStreamOpen, rundir.KindStreamResume:
				version, delivering = o.Version, true
			case rundir.KindStreamBreak:
				delivering = false
			}
		}
		if delivering {
			out[id] = version
		}
	}
	return out
}

// analyzeStreams adds the stream continuity of the run and of each step to
// r. obs are the run's stream events; byStep those of each step of
// meta.Steps, in r.Steps' order. It adds nothing to a run without streams.
func analyzeStreams(r *Report, obs []*rundir.Observation, byStep [][]*rundir.Observation) {
	if len(obs) == 0 {
		return
	}
	a := newStreamAnalysis(obs)
	totals := &StreamTotals{Streams: len(a.byStream), StreamContinuity: a.continuity(obs)}
	for _, id := range sortedKeys(a.byStream) {
		opened := false
		for _, o := range a.byStream[id] {
			switch o.Kind {
			case rundir.KindStreamOpen:
				opened = true
			case rundir.KindStreamEnd:
				totals.Received += o.Stream.Received
			case rundir.KindStreamBreak:
				if a.resumedAfter[o] == nil {
					totals.Unresumed = append(totals.Unresumed, UnresumedBreak{
						Stream: id, Step: o.Step, At: o.Sent, Version: o.Version, ErrorKind: o.ErrorKind,
					})
				}
			}
		}
		if !opened {
			totals.NeverOpened++
		}
	}
	r.Run.Streams = totals

	for i := range r.Steps {
		sr := &r.Steps[i]
		if !sr.Reached {
			continue
		}
		ss := &StepStreams{StreamContinuity: a.continuity(byStep[i])}
		atStart := a.spread(sr.Start)
		ss.AtStart = len(atStart)
		var atEnd map[string]string
		if !sr.End.IsZero() {
			atEnd = a.spread(sr.End)
			ss.AtEnd = len(atEnd)
			for id, v := range atEnd {
				if before, ok := atStart[id]; ok && before != v {
					ss.Moved++
				}
			}
		}
		counts := func(m map[string]string) map[string]int {
			c := map[string]int{}
			for _, v := range m {
				c[v]++
			}
			return c
		}
		startCounts, endCounts := counts(atStart), counts(atEnd)
		for v := range startCounts {
			ss.addVersion(v)
		}
		for v := range endCounts {
			ss.addVersion(v)
		}
		for j := range ss.Versions {
			ss.Versions[j].AtStart = startCounts[ss.Versions[j].Version]
			ss.Versions[j].AtEnd = endCounts[ss.Versions[j].Version]
		}
		sr.Streams = ss
	}
}

// addVersion adds an entry for v to ss.Versions, in name order, unless
// there is one.
func (ss *StepStreams) addVersion(v string) {
	i := sort.Search(len(ss.Versions), func(i int) bool { return ss.Versions[i].Version >= v })
	if i < len(ss.Versions) && ss.Versions[i].Version == v {
		return
	}
	ss.Versions = append(ss.Versions, StreamVersion{})
	copy(ss.Versions[i+1:], ss.Versions[i:])
	ss.Versions[i] = StreamVersion{Version: v}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// exactQuantiles summarises durations (in ns) with nearest-rank quantiles.
func exactQuantiles(ds []float64) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	sort.Float64s(ds)
	q := func(p float64) time.Duration { return time.Duration(stat.Quantile(p, stat.Empirical, ds, nil)) }
	return Latency{Count: int64(len(ds)), P50: q(0.5), P90: q(0.9), P99: q(0.99), Max: time.Duration(ds[len(ds)-1])}
}
