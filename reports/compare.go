package reports

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/meshsim/meshsim/loadgen/metrics"
	"github.com/meshsim/meshsim/reports/canary"
	"github.com/meshsim/meshsim/reports/stats"
)

// Verdicts of a comparison.
const (
	CompareNoRegression = "no regression"
	CompareRegression   = "regression"
	// CompareInconclusive: either run was inconclusive (or partial), so a
	// difference may be the machine's; the rows are still shown.
	CompareInconclusive = "inconclusive"
)

// The families of compared metrics; CompareOptions.Gate names those that
// decide the verdict.
const (
	FamilyErrors      = "errors"
	FamilyWeights     = "weights"
	FamilyLatency     = "latency"
	FamilyTail        = "latency-tail"
	FamilyStreams     = "streams"
	FamilyPropagation = "propagation"
	FamilyDeployments = "deployments"
)

// Families lists every family, in the order the rows come.
var Families = []string{FamilyErrors, FamilyWeights, FamilyLatency, FamilyTail, FamilyStreams, FamilyPropagation, FamilyDeployments}

// DefaultGate is the families that gate by default: all but the latency
// tail, which on a shared machine moves with its load more than with the
// software.
var DefaultGate = []string{FamilyErrors, FamilyWeights, FamilyLatency, FamilyStreams, FamilyPropagation, FamilyDeployments}

// CompareOptions are the thresholds of a comparison. A metric regresses
// when its test says NEW is worse at significance Alpha AND the change is
// larger than its threshold: a difference must be beyond noise and large
// enough to matter.
type CompareOptions struct {
	// Alpha is the significance level of each (one-sided) test.
	Alpha float64 `json:"alpha"`
	// Level is the confidence level of the intervals shown.
	Level float64 `json:"level"`
	// ErrorRateDelta is the smallest increase of an error rate (a
	// fraction: 0.001 = 0.1 percentage points) that counts.
	ErrorRateDelta float64 `json:"errorRateDelta"`
	// WeightErrorPP is the smallest growth, in percentage points, of a
	// step's largest weight error that counts.
	WeightErrorPP float64 `json:"weightErrorPp"`
	// LatencyTolerance is the smallest latency shift that counts, as a
	// fraction of BASE's median; MinLatencyShift the absolute floor.
	// The Hodges–Lehmann interval's lower bound must exceed both.
	LatencyTolerance float64       `json:"latencyTolerance"`
	MinLatencyShift  time.Duration `json:"minLatencyShiftNs"`
	// TailFactor: the share of NEW's requests slower than BASE's p99 must
	// be at least this multiple of BASE's share (about 1%).
	TailFactor float64 `json:"tailFactor"`
	// MinPropagationShift is the absolute floor for xDS propagation and
	// stream reconnect times (with LatencyTolerance).
	MinPropagationShift time.Duration `json:"minPropagationShiftNs"`
	// DeploymentTolerance and MinDeploymentDelta: a deployment regresses
	// when it took longer by both this fraction and this much (one
	// measurement each: a threshold, no test), or ended differently.
	DeploymentTolerance float64       `json:"deploymentTolerance"`
	MinDeploymentDelta  time.Duration `json:"minDeploymentDeltaNs"`
	// Gate lists the families that decide the verdict (DefaultGate when
	// empty); the others are shown only.
	Gate []string `json:"gate"`
}

// DefaultCompareOptions are the defaults of `meshsim compare`.
func DefaultCompareOptions() CompareOptions {
	return CompareOptions{Alpha: 0.01, Level: 0.95, ErrorRateDelta: 0.001, WeightErrorPP: 2, LatencyTolerance: 0.10,
		MinLatencyShift: time.Millisecond, TailFactor: 2, MinPropagationShift: 100 * time.Millisecond,
		DeploymentTolerance: 0.25, MinDeploymentDelta: 2 * time.Second, Gate: DefaultGate}
}

// Validate names the first bad option.
func (o CompareOptions) Validate() error {
	switch {
	case !(o.Alpha > 0 && o.Alpha < 1):
		return fmt.Errorf("alpha %g: want a significance level between 0 and 1", o.Alpha)
	case !(o.Level > 0 && o.Level < 1):
		return fmt.Errorf("level %g: want a confidence level between 0 and 1", o.Level)
	case o.ErrorRateDelta < 0 || o.WeightErrorPP < 0 || o.LatencyTolerance < 0 || o.MinLatencyShift < 0 || o.TailFactor < 0 ||
		o.MinPropagationShift < 0 || o.DeploymentTolerance < 0 || o.MinDeploymentDelta < 0:
		return fmt.Errorf("thresholds must not be negative")
	}
	for _, g := range o.Gate {
		if !contains(Families, g) {
			return fmt.Errorf("gate %q: want some of %s", g, strings.Join(Families, ", "))
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ComparedRun names one side of a comparison.
type ComparedRun struct {
	Source        string `json:"source"`
	Scenario      string `json:"scenario"`
	RunID         string `json:"runId"`
	Verdict       string `json:"verdict"`
	VerdictReason string `json:"verdictReason,omitempty"`
}

// Comparison is NEW against BASE, metric by metric.
type Comparison struct {
	Base    ComparedRun    `json:"base"`
	New     ComparedRun    `json:"new"`
	Verdict string         `json:"verdict"`
	Reason  string         `json:"reason,omitempty"`
	Notes   []string       `json:"notes,omitempty"`
	Rows    []CompareRow   `json:"rows"`
	Options CompareOptions `json:"options"`
}

// Directions of a change, for the arrows.
const (
	Worse  = 1
	Same   = 0
	Better = -1
)

// CompareRow is one metric of the comparison.
type CompareRow struct {
	Family string `json:"family"`
	Metric string `json:"metric"`
	Base   string `json:"base"`
	New    string `json:"new"`
	// Change is NEW − BASE in the metric's unit; Direction Worse, Same or
	// Better (the arrow).
	Change    string `json:"change"`
	Direction int    `json:"direction"`
	// Test names the statistical test ("" for a threshold on one
	// measurement), P its one-sided p-value (NEW worse) and Interval the
	// confidence interval of the change.
	Test     string  `json:"test,omitempty"`
	P        float64 `json:"p"`
	Interval string  `json:"interval,omitempty"`
	// Regressed: NEW is worse beyond noise and threshold; Gates: the row's
	// family decides the verdict.
	Regressed bool   `json:"regressed"`
	Gates     bool   `json:"gates"`
	Why       string `json:"why,omitempty"`
}

// Compare compares NEW with BASE.
func Compare(base, nw *Baseline, baseSource, newSource string, o CompareOptions) *Comparison {
	if len(o.Gate) == 0 {
		o.Gate = DefaultGate
	}
	c := &Comparison{
		Base:    ComparedRun{Source: baseSource, Scenario: base.Scenario, RunID: base.RunID, Verdict: base.Verdict, VerdictReason: base.VerdictReason},
		New:     ComparedRun{Source: newSource, Scenario: nw.Scenario, RunID: nw.RunID, Verdict: nw.Verdict, VerdictReason: nw.VerdictReason},
		Options: o,
	}
	if base.Scenario != nw.Scenario {
		c.Notes = append(c.Notes, fmt.Sprintf("the runs are of different scenarios (%s, %s): steps and versions are matched by name", base.Scenario, nw.Scenario))
	}
	k := comparer{o: o}
	k.errors(c, base, nw)
	k.weights(c, base, nw)
	k.latency(c, base, nw)
	k.streams(c, base, nw)
	k.propagation(c, base, nw)
	k.deployments(c, base, nw)
	var regressed []string
	for i := range c.Rows {
		r := &c.Rows[i]
		r.Gates = contains(o.Gate, r.Family)
		if r.Regressed && r.Gates {
			regressed = append(regressed, r.Metric)
		}
	}
	var undecided []string
	for _, side := range []ComparedRun{c.Base, c.New} {
		if side.Verdict == VerdictInconclusive || side.Verdict == VerdictError {
			undecided = append(undecided, fmt.Sprintf("%s is %s (%s)", side.Source, side.Verdict, orDash(side.VerdictReason)))
		}
	}
	switch {
	case len(undecided) > 0:
		c.Verdict, c.Reason = CompareInconclusive, strings.Join(undecided, "; ")
		if len(regressed) > 0 {
			c.Reason += "; worse: " + strings.Join(regressed, ", ")
		}
	case len(regressed) > 0:
		c.Verdict, c.Reason = CompareRegression, fmt.Sprintf("%d of %d gating metrics regressed: %s", len(regressed), gating(c.Rows), strings.Join(regressed, ", "))
	default:
		c.Verdict, c.Reason = CompareNoRegression, fmt.Sprintf("none of %d gating metrics is worse beyond noise and threshold", gating(c.Rows))
	}
	return c
}

func gating(rows []CompareRow) int {
	n := 0
	for _, r := range rows {
		if r.Gates {
			n++
		}
	}
	return n
}

// comparer holds the options while the rows are built.
type comparer struct{ o CompareOptions }

// proportion compares k2/n2 (NEW) with k1/n1 (BASE): a regression when
// NEW's share is higher at Alpha and by more than delta.
func (k comparer) proportion(family, metric string, k1, n1, k2, n2 int, delta float64) CompareRow {
	r := CompareRow{Family: family, Metric: metric, P: math.NaN(),
		Base: rateText(k1, n1), New: rateText(k2, n2)}
	if n1 == 0 || n2 == 0 {
		r.Change, r.Why = "-", "no requests on one side"
		return r
	}
	p1, p2 := float64(k1)/float64(n1), float64(k2)/float64(n2)
	r.Change = fmt.Sprintf("%+.2fpp", 100*(p2-p1))
	r.Direction = direction(p2-p1, 0)
	pt, err := stats.ProportionTest(k2, n2, k1, n1, stats.Greater, k.o.Level)
	if err != nil {
		r.Why = err.Error()
		return r
	}
	r.Test, r.P = pt.Test, pt.P
	r.Interval = fmt.Sprintf("[%+.2f, %+.2f]pp", 100*pt.Lo, 100*pt.Hi)
	r.Regressed = pt.P < k.o.Alpha && p2-p1 > delta
	r.Why = significance(pt.P, k.o.Alpha, p2-p1 > delta, fmt.Sprintf("+%.2fpp", 100*delta))
	return r
}

func significance(p, alpha float64, overThreshold bool, threshold string) string {
	pt := fmt.Sprintf("p %.3g", p)
	if p < 1e-16 {
		pt = "p<1e-16"
	}
	switch {
	case p < alpha && overThreshold:
		return fmt.Sprintf("%s < %g and over %s", pt, alpha, threshold)
	case p < alpha:
		return fmt.Sprintf("significant (%s) but within %s", pt, threshold)
	default:
		return fmt.Sprintf("within noise (%s ≥ %g)", pt, alpha)
	}
}

func direction(change, epsilon float64) int {
	switch {
	case change > epsilon:
		return Worse
	case change < -epsilon:
		return Better
	}
	return Same
}

func rateText(k, n int) string {
	if n == 0 {
		return "no requests"
	}
	return fmt.Sprintf("%d/%d (%.2f%%)", k, n, 100*float64(k)/float64(n))
}

func (k comparer) errors(c *Comparison, base, nw *Baseline) {
	c.Rows = append(c.Rows, k.proportion(FamilyErrors, "failed requests", base.Failed, base.Requests, nw.Failed, nw.Requests, k.o.ErrorRateDelta))
	kinds := map[string]bool{}
	for kind := range base.ErrorsByKind {
		kinds[kind] = true
	}
	for kind := range nw.ErrorsByKind {
		kinds[kind] = true
	}
	for _, kind := range sortedKeys(kinds) {
		c.Rows = append(c.Rows, k.proportion(FamilyErrors, "errors: "+kind, base.ErrorsByKind[kind], base.Requests, nw.ErrorsByKind[kind], nw.Requests, k.o.ErrorRateDelta))
	}
	baseSteps := stepsByName(base)
	for _, s := range nw.Steps {
		b, ok := baseSteps[s.Name]
		if !ok || !b.Reached || !s.Reached {
			continue
		}
		c.Rows = append(c.Rows, k.proportion(FamilyErrors, "failed requests in step "+s.Name, b.Failed, b.Requests, s.Failed, s.Requests, k.o.ErrorRateDelta))
	}
}

func stepsByName(b *Baseline) map[string]BaselineStep {
	m := map[string]BaselineStep{}
	for _, s := range b.Steps {
		m[s.Name] = s
	}
	return m
}

// weightError is the largest |observed − configured| share of a step, in
// percentage points, and the version it is of.
func weightError(s BaselineStep) (pp float64, version string, count int) {
	if s.ShareRequests == 0 {
		return 0, "", 0
	}
	for _, v := range s.Shares {
		e := math.Abs(100*float64(v.Requests)/float64(s.ShareRequests) - v.ConfiguredPct)
		if version == "" || e > pp {
			pp, version, count = e, v.Version, v.Requests
		}
	}
	return pp, version, count
}

func (k comparer) weights(c *Comparison, base, nw *Baseline) {
	baseSteps := stepsByName(base)
	for _, s := range nw.Steps {
		b, ok := baseSteps[s.Name]
		if !ok || !s.Weighted || !b.Weighted || s.ShareRequests == 0 || b.ShareRequests == 0 {
			continue
		}
		ePP, v, n2 := weightError(s)
		bPP, _, _ := weightError(b)
		var n1 int
		for _, x := range b.Shares {
			if x.Version == v {
				n1 = x.Requests
			}
		}
		r := CompareRow{Family: FamilyWeights, Metric: "weight error in step " + s.Name,
			Base: fmt.Sprintf("%.2fpp", bPP), New: fmt.Sprintf("%.2fpp (%s)", ePP, v),
			Change: fmt.Sprintf("%+.2fpp", ePP-bPP), Direction: direction(ePP-bPP, 0.005), P: math.NaN()}
		// Do the two runs split differently? The version's share, NEW
		// against BASE (two-sided: either way away from the weight).
		pt, err := stats.ProportionTest(n2, s.ShareRequests, n1, b.ShareRequests, stats.TwoSided, k.o.Level)
		if err == nil {
			r.Test, r.P = pt.Test, pt.P
			r.Interval = fmt.Sprintf("share of %s [%+.2f, %+.2f]pp", v, 100*pt.Lo, 100*pt.Hi)
			r.Regressed = pt.P < k.o.Alpha && ePP-bPP > k.o.WeightErrorPP
			r.Why = significance(pt.P, k.o.Alpha, ePP-bPP > k.o.WeightErrorPP, fmt.Sprintf("+%gpp", k.o.WeightErrorPP))
		}
		c.Rows = append(c.Rows, r)
	}
}

// shift compares two latency histograms with Mann–Whitney U (NEW greater):
// a regression when p < Alpha and the Hodges–Lehmann interval's lower
// bound exceeds both the tolerance share of BASE's median and floor.
func (k comparer) shift(family, metric string, base, nw *metrics.Histogram, floor time.Duration) CompareRow {
	bq, nq := base.Quantiles(), nw.Quantiles()
	r := CompareRow{Family: family, Metric: metric, P: math.NaN(), Base: latencyText(bq), New: latencyText(nq)}
	if bq.Count == 0 || nq.Count == 0 {
		r.Change, r.Why = "-", "no data on one side"
		return r
	}
	x, y := canary.Sample(nw), canary.Sample(base)
	mw, err := stats.MannWhitneyTest(x, y, stats.Greater, k.o.Level)
	if err != nil {
		r.Why = err.Error()
		return r
	}
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	r.Test, r.P = "mann-whitney-u", mw.P
	r.Change = signedDuration(roundLatency(ms(mw.Shift)))
	r.Interval = fmt.Sprintf("[%v, %v]", roundLatency(ms(mw.Lo)), roundLatency(ms(mw.Hi)))
	threshold := max(floor, time.Duration(k.o.LatencyTolerance*float64(bq.P50)))
	r.Direction = direction(mw.Shift, 0)
	if mw.P >= k.o.Alpha || ms(mw.Hi) < 0 {
		r.Direction = Same
		if ms(mw.Hi) < 0 && mw.Shift < 0 {
			r.Direction = Better
		}
	}
	r.Regressed = mw.P < k.o.Alpha && ms(mw.Lo) > threshold
	r.Why = significance(mw.P, k.o.Alpha, ms(mw.Lo) > threshold, "a shift of "+roundLatency(threshold).String())
	return r
}

// signedDuration is d with its sign: "+1.2ms", "-300µs", "0s".
func signedDuration(d time.Duration) string {
	if d > 0 {
		return "+" + d.String()
	}
	return d.String()
}

func latencyText(q metrics.Quantiles) string {
	if q.Count == 0 {
		return "no data"
	}
	return fmt.Sprintf("p50 %v p90 %v p99 %v (n=%d)", roundLatency(q.P50), roundLatency(q.P90), roundLatency(q.P99), q.Count)
}

func roundLatency(d time.Duration) time.Duration {
	a := d
	if a < 0 {
		a = -a
	}
	switch {
	case a >= time.Second:
		return d.Round(10 * time.Millisecond)
	case a >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case a >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// tail compares the share of requests slower than BASE's p99.
func (k comparer) tail(metric string, base, nw *metrics.Histogram) CompareRow {
	p99 := base.Quantiles().P99
	above := func(h *metrics.Histogram) (n, total int) {
		for _, b := range h.Buckets() {
			total += int(b.Count)
			if b.Low > p99 {
				n += int(b.Count)
			}
		}
		return n, total
	}
	k1, n1 := above(base)
	k2, n2 := above(nw)
	r := k.proportion(FamilyTail, metric+" slower than BASE's p99 "+roundLatency(p99).String(), k1, n1, k2, n2, 0)
	if n1 > 0 && n2 > 0 {
		p1, p2 := float64(k1)/float64(n1), float64(k2)/float64(n2)
		over := p2 > k.o.TailFactor*math.Max(p1, 1.0/float64(n1))
		r.Regressed = r.P < k.o.Alpha && over
		r.Why = significance(r.P, k.o.Alpha, over, fmt.Sprintf("%g× BASE's share", k.o.TailFactor))
	}
	return r
}

func (k comparer) latency(c *Comparison, base, nw *Baseline) {
	c.Rows = append(c.Rows, k.shift(FamilyLatency, "latency (all versions)", base.Latency, nw.Latency, k.o.MinLatencyShift))
	baseVersions := map[string]VersionBaseline{}
	for _, v := range base.Versions {
		baseVersions[v.Version] = v
	}
	for _, v := range nw.Versions {
		b, ok := baseVersions[v.Version]
		if !ok {
			continue
		}
		c.Rows = append(c.Rows, k.shift(FamilyLatency, "latency "+v.Version, b.Latency, v.Latency, k.o.MinLatencyShift))
	}
	c.Rows = append(c.Rows, k.tail("requests", base.Latency, nw.Latency))
}

func (k comparer) streams(c *Comparison, base, nw *Baseline) {
	if base.Streams == nil || nw.Streams == nil {
		return
	}
	b, n := base.Streams, nw.Streams
	for _, m := range []struct {
		name   string
		k1, k2 int
	}{{"stream breaks per stream", b.Broken, n.Broken}, {"breaks never resumed per stream", b.NeverResumed, n.NeverResumed}} {
		r := CompareRow{Family: FamilyStreams, Metric: m.name, P: math.NaN(),
			Base: fmt.Sprintf("%d in %d streams", m.k1, b.Opened), New: fmt.Sprintf("%d in %d streams", m.k2, n.Opened)}
		if b.Opened == 0 || n.Opened == 0 {
			r.Change, r.Why = "-", "no stream opened on one side"
			c.Rows = append(c.Rows, r)
			continue
		}
		r1, r2 := float64(m.k1)/float64(b.Opened), float64(m.k2)/float64(n.Opened)
		r.Change, r.Direction = fmt.Sprintf("%+.2f", r2-r1), direction(r2-r1, 0)
		ratio, p, err := stats.PoissonRates(m.k2, float64(n.Opened), m.k1, float64(b.Opened), stats.Greater)
		if err == nil {
			r.Test, r.P = "poisson-rate-ratio", p
			if !math.IsNaN(ratio) && !math.IsInf(ratio, 0) {
				r.Interval = fmt.Sprintf("rate ratio %.2f", ratio)
			}
			r.Regressed = p < k.o.Alpha && m.k2 > m.k1
			r.Why = significance(p, k.o.Alpha, m.k2 > m.k1, "BASE's count")
		}
		c.Rows = append(c.Rows, r)
	}
	lost := func(s *BaselineStreams) (int, int) { return int(s.Lost), int(s.Lost + s.Received) }
	k1, n1 := lost(b)
	k2, n2 := lost(n)
	c.Rows = append(c.Rows, k.proportion(FamilyStreams, "stream messages lost", k1, n1, k2, n2, 0))
	c.Rows = append(c.Rows, k.shift(FamilyStreams, "stream reconnect time", b.Reconnect, n.Reconnect, k.o.MinPropagationShift))
}

func (k comparer) propagation(c *Comparison, base, nw *Baseline) {
	if base.Propagation == nil || nw.Propagation == nil {
		return
	}
	c.Rows = append(c.Rows, k.shift(FamilyPropagation, "xDS route propagation (push → ACK)", base.Propagation, nw.Propagation, k.o.MinPropagationShift))
}

func (k comparer) deployments(c *Comparison, base, nw *Baseline) {
	byName := map[string]BaselineDeployment{}
	for _, d := range base.Deployments {
		byName[d.Name] = d
	}
	for _, d := range nw.Deployments {
		b, ok := byName[d.Name]
		if !ok {
			continue
		}
		if b.Outcome != d.Outcome {
			c.Rows = append(c.Rows, CompareRow{Family: FamilyDeployments, Metric: "deployment " + d.Name + " outcome", P: math.NaN(),
				Base: orDash(b.Outcome), New: orDash(d.Outcome), Change: "changed", Direction: Worse, Regressed: true,
				Why: "the deployment ended differently"})
		}
		delta := d.Duration - b.Duration
		over := delta > k.o.MinDeploymentDelta && float64(d.Duration) > (1+k.o.DeploymentTolerance)*float64(b.Duration)
		c.Rows = append(c.Rows, CompareRow{Family: FamilyDeployments, Metric: "deployment " + d.Name + " duration", P: math.NaN(),
			Base: b.Duration.Round(100 * time.Millisecond).String(), New: d.Duration.Round(100 * time.Millisecond).String(),
			Change: signedDuration(delta.Round(100 * time.Millisecond)), Direction: direction(delta.Seconds(), k.o.MinDeploymentDelta.Seconds()/4),
			Regressed: over,
			Why:       fmt.Sprintf("one measurement each: threshold +%.0f%% and +%v", 100*k.o.DeploymentTolerance, k.o.MinDeploymentDelta)})
	}
}
