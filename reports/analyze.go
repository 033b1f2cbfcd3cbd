package reports

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/meshsim/meshsim/loadgen/metrics"
	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/sim/contract"
)

// toleranceZ is the z of the binomial tolerance reported per version: Envoy
// draws each pick independently, so a measured share is binomial and
// 3·SE holds it 99.7% of the time.
const toleranceZ = 3

// canceledKind is the error kind of a request the generator abandoned when
// the run was stopped: not an outcome of the system under test.
const canceledKind = metrics.CanceledKind

// Analyze computes the report of a run: the run's totals, one StepReport per
// scenario step and the judgment of every assertion. It does not change run
// and reads nothing else.
func Analyze(run *rundir.Run) *Report {
	r := &Report{ReportVersion: ReportVersion, Steps: []StepReport{}, Assertions: []AssertionResult{}}
	if run == nil {
		r.Run.Partial = true
		r.Run.Reason = "no run to analyse"
		r.Verdict, r.VerdictReason = VerdictError, "no run to analyse"
		return r
	}
	meta := run.Meta
	r.Run = RunInfo{
		Scenario:        meta.Scenario,
		ScenarioSource:  meta.ScenarioSource,
		ScenarioCopy:    run.ScenarioCopy,
		RunID:           meta.RunID,
		Runtime:         meta.Runtime,
		Started:         meta.Started,
		Ended:           meta.Ended,
		Partial:         meta.Partial,
		Reason:          meta.Reason,
		TornLines:       run.TornLines,
		MeasuredService: meta.MeasuredService,
		TimeScale:       meta.TimeScale,
		Load: LoadInfo{
			Target:      meta.Load.Target,
			OfferedRate: meta.Load.Rate,
			Duration:    meta.Load.Duration,
		},
	}
	if !r.Run.Partial && meta.Ended.IsZero() {
		r.Run.Partial = true
		r.Run.Reason = "run.json has no end time: the run was cut off or is still going"
	}

	// Bucket the observations by the step they were scheduled in (stream
	// events: the step in force when they happened). Records of a kind
	// this version does not know are left out.
	// The totals and each step's counts and latencies come from the
	// aggregator the engine feeds live (loadgen/metrics), so the report's
	// numbers are the dashboard's and the gates'.
	steps := runSteps(run)
	position := stepPositions(steps)
	byStep := make([][]*rundir.Observation, len(steps))
	streamsByStep := make([][]*rundir.Observation, len(steps))
	var streams, requests []*rundir.Observation
	totals := metrics.NewTally()
	for i := range run.Observations {
		o := &run.Observations[i]
		p, inStep := position[o.Step]
		if o.IsStream() {
			streams = append(streams, o)
			if inStep {
				streamsByStep[p] = append(streamsByStep[p], o)
			}
			continue
		}
		if !totals.Add(o) {
			continue
		}
		if inStep {
			byStep[p] = append(byStep[p], o)
		}
		if o.ErrorKind == canceledKind {
			continue
		}
		requests = append(requests, o)
		if !inStep {
			r.Run.Totals.OutsideSteps++
		}
	}
	r.Run.Totals.Requests, r.Run.Totals.Failed, r.Run.Totals.Canceled = totals.Requests, totals.Failed, totals.Canceled
	r.Run.Totals.ErrorRate = fraction(r.Run.Totals.Failed, r.Run.Totals.Requests)

	var stepRequests int
	var stepTime time.Duration
	for i, s := range steps {
		start, end := stepWindow(steps, meta.Ended, i, byStep[i])
		var dns *dnsChange
		if meta.DNS != nil {
			dns = &dnsChange{clients: meta.DNS.Clients, hold: answerHold(meta.DNS, meta.TimeScale)}
			if i > 0 {
				dns.from = steps[i-1].Weights
			}
		}
		sr := analyzeStep(s, start, end, byStep[i], run.Events, dns)
		r.Steps = append(r.Steps, sr)
		stepRequests += sr.Requests
		stepTime += sr.Duration
	}
	if stepTime > 0 {
		r.Run.Load.AchievedRate = float64(stepRequests) / stepTime.Seconds()
	}
	r.Run.WallTime = wallTime(run)
	r.DNS = analyzeDNS(meta, r.Steps)
	analyzeStreams(r, streams, streamsByStep)
	analyzeCanaries(r, meta, steps, byStep)
	r.Deployments = analyzeDeployments(meta)
	r.Faults = faults(r.Steps, run.Events)
	r.Alarms = analyzeAlarms(run.Events)
	r.Timeline = timeline(run, r.Steps)
	if len(meta.Deployments) > 0 {
		service := meta.Deployments[0].Service
		taskCapacity(service, r.Steps, run.Events)
		var end time.Time
		for _, s := range r.Steps {
			if s.End.After(end) {
				end = s.End
			}
		}
		r.TaskStops, r.UnexplainedFailures = taskStops(service, end, run.Observations, run.Events)
	}

	analyzeInstrument(r, meta, byStep, requests, run.Instrument)
	classifySteps(r)
	errReason := errorReason(r)
	for _, a := range meta.Assertions {
		r.Assertions = append(r.Assertions, judge(a, r, errReason))
	}
	finishVerdicts(r, errReason)
	return r
}

// stepPositions maps the step index an observation carries to the position
// of that step in steps. Steps are looked up by their Index field; when those
// are not unique, by position.
func stepPositions(steps []rundir.Step) map[int]int {
	byIndex := make(map[int]int, len(steps))
	for i, s := range steps {
		if _, dup := byIndex[s.Index]; dup {
			byPosition := make(map[int]int, len(steps))
			for j := range steps {
				byPosition[j] = j
			}
			return byPosition
		}
		byIndex[s.Index] = i
	}
	return byIndex
}

// runSteps returns the run's steps with when they ran. run.json names the
// planned steps and, once the run ended, when each ran; a run killed before
// it could rewrite run.json (SIGKILL, a crash) left those times zero, and a
// deployment's phases, which the run discovers, are missing from it. The
// engine's step.start and step.end records in events.jsonl fill both gaps:
// a time run.json recorded is kept (for a deployment phase it is when ECS
// reported the change, a moment before the engine's event), a zero one is
// taken from the events, and a step the events name beyond run.json's list
// is added with the name and weights its step.start carries.
func runSteps(run *rundir.Run) []rundir.Step {
	steps := make([]rundir.Step, len(run.Meta.Steps))
	copy(steps, run.Meta.Steps)
	pos := map[int]int{}
	for i, s := range steps {
		pos[s.Index] = i
	}
	for _, e := range run.Events {
		if e.Source != contract.SourceEngine || (e.Type != contract.EventStepStart && e.Type != contract.EventStepEnd) {
			continue
		}
		idx, err := strconv.Atoi(e.Detail[contract.DetailStep])
		if err != nil || idx < 0 {
			continue
		}
		p, known := pos[idx]
		if !known {
			if e.Type != contract.EventStepStart {
				continue
			}
			steps = append(steps, rundir.Step{Index: idx, Name: e.Detail[contract.DetailName], Weights: parseWeights(e.Detail[contract.DetailWeights])})
			p = len(steps) - 1
			pos[idx] = p
		}
		s := &steps[p]
		switch {
		case e.Type == contract.EventStepStart && s.Start.IsZero():
			s.Start = e.Time
		case e.Type == contract.EventStepEnd && s.End.IsZero():
			s.End = e.Time
		}
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].Index < steps[j].Index })
	return steps
}

// parseWeights reads the weights of a step.start event: "v1=90,v2=10".
// Malformed entries are skipped.
func parseWeights(s string) map[string]float64 {
	w := map[string]float64{}
	for _, part := range strings.Split(s, ",") {
		v, pct, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(pct, 64)
		if err != nil {
			continue
		}
		w[v] = f
	}
	return w
}

// stepWindow returns when step i of steps started and ended. A step without
// a recorded start starts at its first scheduled request. A step without a
// recorded end ends where the next step starts or, for the last step, where
// the run ended; end is zero when none of these is known (the step was cut
// off).
func stepWindow(steps []rundir.Step, ended time.Time, i int, obs []*rundir.Observation) (start, end time.Time) {
	s := steps[i]
	start = s.Start
	if start.IsZero() {
		for _, o := range obs {
			if start.IsZero() || o.Scheduled.Before(start) {
				start = o.Scheduled
			}
		}
	}
	end = s.End
	if end.IsZero() {
		if i+1 < len(steps) {
			end = steps[i+1].Start
		} else {
			end = ended
		}
	}
	return start, end
}

// analyzeStep analyses one step; a non-nil dns says that its weights
// reached the clients through DNS, so that its convergence is read from the
// split the tasks observed rather than from xDS acknowledgements.
func analyzeStep(s rundir.Step, start, end time.Time, obs []*rundir.Observation, evs []rundir.Event, dns *dnsChange) StepReport {
	sr := StepReport{
		Index:    s.Index,
		Name:     s.Name,
		Reached:  !start.IsZero(),
		Start:    start,
		End:      end,
		Versions: []VersionShare{},
	}
	agg := metrics.NewStep()
	var outcomes []*rundir.Observation
	for _, o := range obs {
		agg.Add(o)
		if o.ErrorKind != canceledKind {
			outcomes = append(outcomes, o)
		}
	}
	obs = outcomes
	sr.Requests, sr.Failed, sr.Canceled = agg.Requests, agg.Failed, agg.Canceled
	sr.Successes = sr.Requests - sr.Failed
	sr.ErrorsByKind = agg.ErrorsByKind
	if sr.Reached {
		sr.Duration = stepDuration(start, end, obs)
		if sr.Duration > 0 {
			sr.AchievedRate = float64(sr.Requests) / sr.Duration.Seconds()
		}
		sr.Convergence = convergence(evs, start, end)
		if dns != nil {
			sr.Convergence = observedConvergence(*dns, s.Weights, start, obs)
		}
	}
	if _, weighted := normalise(s.Weights); !weighted {
		// No configured split to converge to (a rolling update): every
		// request counts for the observed shares.
		sr.Convergence = Convergence{Basis: ConvergedAtStart, At: start}
	}
	converged := sr.Convergence.Basis == ConvergedOnAck || sr.Convergence.Basis == ConvergedAtStart || sr.Convergence.Basis == ConvergedObserved
	if dns != nil && sr.Convergence.Basis == NotConverged {
		// The split never reached the weights: every request counts, so
		// the drift shows in the shares.
		converged, sr.Convergence.At = true, start
	}

	counted := map[string]int{}
	for _, o := range obs {
		switch {
		case !converged || o.Scheduled.Before(sr.Convergence.At) || inFlightAt(o, end):
			// Sent under the previous weights, or still in flight when the
			// next step began changing them: routed by either.
			sr.Convergence.Excluded++
		case o.Version == "":
			sr.Unattributed++
		default:
			counted[o.Version]++
			sr.ShareRequests++
		}
	}
	sr.ErrorRate = fraction(sr.Failed, sr.Requests)
	sr.Latency = latencyOf(agg.Latency)

	shares, weighted := normalise(s.Weights)
	sr.Weighted = weighted
	for _, v := range versionNames(s.Weights, agg.Versions) {
		vs := VersionShare{Version: v, Requests: counted[v]}
		if va := agg.Versions[v]; va != nil {
			vs.Latency = latencyOf(va.Latency)
		}
		n := float64(sr.ShareRequests)
		if n > 0 {
			vs.ObservedPct = 100 * float64(vs.Requests) / n
		}
		if weighted {
			p := shares[v]
			vs.ConfiguredPct = 100 * p
			if n > 0 {
				vs.ErrorPP = math.Abs(vs.ObservedPct - vs.ConfiguredPct)
				vs.TolerancePP = 100 * toleranceZ * math.Sqrt(p*(1-p)/n)
			}
		}
		sr.MaxErrorPP = math.Max(sr.MaxErrorPP, vs.ErrorPP)
		sr.Versions = append(sr.Versions, vs)
	}
	if weighted {
		sr.ChiSquare = chiSquare(shares, counted)
	}
	return sr
}

// stepDuration is end-start or, for a step cut off, the time from start to
// the last request scheduled in the step.
func stepDuration(start, end time.Time, obs []*rundir.Observation) time.Duration {
	if end.IsZero() {
		for _, o := range obs {
			if o.Scheduled.After(end) {
				end = o.Scheduled
			}
		}
	}
	if end.Before(start) {
		return 0
	}
	return end.Sub(start)
}

// convergence finds when the step's weights came into force: the last ACK,
// within [start, end), of a version pushed to that node within the same
// window. Pushes and ACKs are paired by node and version. With no push in the
// window the step changed nothing in xDS, and its weights were in force from
// its start. A zero end leaves the window open.
// carriesWeights reports whether an xDS push can change traffic weights:
// route configurations carry them (weighted clusters); listener, cluster
// and endpoint pushes (tasks coming and going) do not. A push that does not
// say its type counts.
func carriesWeights(e rundir.Event) bool {
	t := e.Detail[contract.DetailTypeURL]
	return t == "" || strings.HasSuffix(t, ".RouteConfiguration")
}

func convergence(evs []rundir.Event, start, end time.Time) Convergence {
	type key struct{ node, version string }
	inWindow := func(e rundir.Event) bool {
		return e.Source == contract.SourceXDS && !e.Time.Before(start) && (end.IsZero() || e.Time.Before(end))
	}
	pushed := map[key]time.Time{}
	var c Convergence
	for _, e := range evs {
		if e.Type != contract.EventXDSPush || !inWindow(e) || !carriesWeights(e) {
			continue
		}
		c.Pushes++
		k := key{eventNode(e), e.Detail[contract.DetailVersion]}
		if t, ok := pushed[k]; !ok || e.Time.Before(t) {
			pushed[k] = e.Time
		}
	}
	if c.Pushes == 0 {
		return Convergence{Basis: ConvergedAtStart, At: start}
	}
	for _, e := range evs {
		if e.Type != contract.EventXDSAck || !inWindow(e) {
			continue
		}
		t, ok := pushed[key{eventNode(e), e.Detail[contract.DetailVersion]}]
		if !ok || e.Time.Before(t) {
			continue
		}
		c.Acks++
		if e.Time.After(c.At) {
			c.At = e.Time
		}
	}
	if c.Acks == 0 {
		c.Basis = NotConverged
		return c
	}
	c.Basis = ConvergedOnAck
	c.After = c.At.Sub(start)
	return c
}

// eventNode is the xDS node an event is about: its "node" detail, or its
// resource when the detail is missing.
func eventNode(e rundir.Event) string {
	if n := e.Detail[contract.DetailNode]; n != "" {
		return n
	}
	return e.Resource
}

// normalise turns configured weights into shares summing to 1. Negative
// weights count as 0. weighted is false when no weight is above zero.
func normalise(weights map[string]float64) (shares map[string]float64, weighted bool) {
	var sum float64
	for _, w := range weights {
		if w > 0 {
			sum += w
		}
	}
	if sum <= 0 {
		return nil, false
	}
	shares = make(map[string]float64, len(weights))
	for v, w := range weights {
		shares[v] = math.Max(w, 0) / sum
	}
	return shares, true
}

// versionNames is the sorted union of the configured versions and those that
// served a request.
func versionNames(weights map[string]float64, served map[string]*metrics.Tally) []string {
	seen := map[string]bool{}
	var names []string
	add := func(v string) {
		if !seen[v] {
			seen[v] = true
			names = append(names, v)
		}
	}
	for v := range weights {
		add(v)
	}
	for v := range served {
		add(v)
	}
	sort.Strings(names)
	return names
}

// chiSquare tests the counted requests of the versions with a share above
// zero against the counts those shares predict. Requests to versions with
// share zero are left out of the statistic (their expected count is 0); the
// shares report them as errors. It returns nil when fewer than two versions
// have a share or no request was counted for them.
func chiSquare(shares map[string]float64, counted map[string]int) *ChiSquareTest {
	var names []string
	for v, p := range shares {
		if p > 0 {
			names = append(names, v)
		}
	}
	if len(names) < 2 {
		return nil
	}
	sort.Strings(names)
	var n float64
	obs := make([]float64, len(names))
	for i, v := range names {
		obs[i] = float64(counted[v])
		n += obs[i]
	}
	if n == 0 {
		return nil
	}
	exp := make([]float64, len(names))
	for i, v := range names {
		exp[i] = n * shares[v]
	}
	x := stat.ChiSquare(obs, exp)
	df := len(names) - 1
	return &ChiSquareTest{
		Statistic: x,
		DF:        df,
		PValue:    distuv.ChiSquared{K: float64(df)}.Survival(x),
	}
}

// wallTime runs from the run's start to its end or, for a run cut off, to
// the last thing the run recorded.
func wallTime(run *rundir.Run) time.Duration {
	meta := run.Meta
	if meta.Started.IsZero() {
		return 0
	}
	last := meta.Ended
	if last.IsZero() {
		later := func(t time.Time) {
			if t.After(last) {
				last = t
			}
		}
		for _, o := range run.Observations {
			later(o.Scheduled.Add(o.Latency))
			later(o.Sent)
		}
		for _, e := range run.Events {
			later(e.Time)
		}
		for _, s := range meta.Steps {
			later(s.End)
		}
	}
	if last.Before(meta.Started) {
		return 0
	}
	return last.Sub(meta.Started)
}

func fraction(part, whole int) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// latencyOf reads an aggregate's latency quantiles.
func latencyOf(h *metrics.Histogram) Latency {
	q := h.Quantiles()
	return Latency{Count: q.Count, P50: q.P50, P90: q.P90, P99: q.P99, Max: q.Max}
}

// inFlightAt reports whether o had not completed by t (a zero t is never).
func inFlightAt(o *rundir.Observation, t time.Time) bool {
	return !t.IsZero() && o.Sent.Add(o.ServiceTime).After(t)
}
