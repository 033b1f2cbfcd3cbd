package reports

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/meshsim/meshsim/loadgen/rundir"
)

// The assertion kinds of rundir.Assertion.
const (
	assertNoFailedRequests = "no-failed-requests"
	assertMaxErrorRate     = "max-error-rate"
	assertWeightWithin     = "weight-within"
	assertWeightBinomial   = "weight-binomial"
	assertLatencyP99Below  = "latency-p99-below"
)

// epsilon absorbs floating-point noise when a measured number is compared
// with a threshold (percentage points, fractions).
const epsilon = 1e-9

// judge decides one assertion from the analysed report. Steps the run never
// reached, steps without the requests an assertion needs, and inconclusive
// steps (the instrument saturated) are not judged. An assertion with
// nothing at all to judge fails on a complete run; it is inconclusive on a
// partial run, on a run that produced no evidence (errReason is not
// empty), and when every step it could judge was inconclusive.
func judge(a rundir.Assertion, r *Report, errReason string) AssertionResult {
	res := AssertionResult{Kind: a.Kind, Value: a.Value, Source: a.Source}
	var v verdictBuilder
	switch a.Kind {
	case assertNoFailedRequests:
		v = judgeNoFailedRequests(r)
	case assertMaxErrorRate:
		v = judgeMaxErrorRate(r, a.Value)
	case assertWeightWithin:
		var tight tightBound
		v = judgeWeights(r, num(a.Value)+" pp", func(s StepReport, vs VersionShare) (float64, string) {
			desc := num(a.Value) + " pp"
			if z, ok := boundInSigmas(a.Value, s, vs); ok && z < toleranceZ {
				desc += fmt.Sprintf(" (only %.1fσ at n=%d)", z, s.ShareRequests)
				tight.consider(z, s, vs)
			}
			return a.Value, desc
		})
		res.Caveat = tight.caveat(a.Value)
	case assertWeightBinomial:
		z := a.Value
		if z <= 0 {
			z = toleranceZ
		}
		v = judgeWeights(r, num(z)+"σ", func(s StepReport, vs VersionShare) (float64, string) {
			p := vs.ConfiguredPct / 100
			limit := 100 * z * math.Sqrt(math.Max(p*(1-p), 0)/float64(s.ShareRequests))
			return limit, fmt.Sprintf("%sσ = %s pp (n=%d)", num(z), pp(limit), s.ShareRequests)
		})
	case assertLatencyP99Below:
		v = judgeLatency(r, time.Duration(a.Value))
	case assertDeploymentsAsExpected:
		v = judgeDeployments(r)
	case assertNoMessageLost:
		v = judgeNoMessageLost(r)
	case assertStreamsResumedWithin:
		v = judgeStreamsResumedWithin(r, time.Duration(a.Value))
	default:
		res.Verdict = VerdictFail
		res.Message = fmt.Sprintf("unknown assertion kind %q", a.Kind)
		return res
	}
	res.Verdict, res.Message, res.Failures = v.result(r.Run.Partial, errReason != "")
	res.Passed = res.Verdict != VerdictFail
	res.FailedSteps = v.steps()
	return res
}

// verdictBuilder collects what an assertion found.
type verdictBuilder struct {
	judged       int      // steps (or runs) that had evidence
	failures     []string // one line per violation
	failedSteps  []int    // the indexes of the steps failures name
	pass         string   // the message when nothing failed
	none         string   // what was missing when nothing could be judged
	skipped      []string // steps left out, and why
	inconclusive []string // inconclusive steps left out
}

// fail records a violation found in step s.
func (v *verdictBuilder) fail(s StepReport, msg string) {
	v.failures = append(v.failures, msg)
	v.failedSteps = append(v.failedSteps, s.Index)
}

// skipInconclusive leaves s out when it is inconclusive, noting why; it
// reports whether it did.
func (v *verdictBuilder) skipInconclusive(s StepReport) bool {
	skip, note := inconclusive(s)
	if skip {
		v.inconclusive = append(v.inconclusive, note)
	}
	return skip
}

// steps are the failed steps' indexes, each once, in order of failure.
func (v verdictBuilder) steps() []int {
	var out []int
	seen := map[int]bool{}
	for _, i := range v.failedSteps {
		if !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	return out
}

// result is the assertion's verdict, message and failures. partial says
// the run is partial; noEvidence that it produced no evidence at all.
func (v verdictBuilder) result(partial, noEvidence bool) (verdict, message string, failures []string) {
	var note string
	left := append([]string{}, v.skipped...)
	for _, l := range v.inconclusive {
		left = append(left, l+" (inconclusive)")
	}
	if len(left) > 0 {
		note = "; not judged: " + strings.Join(left, ", ")
	}
	switch {
	case len(v.failures) > 0:
		message = v.failures[0]
		if len(v.failures) > 1 {
			message += fmt.Sprintf(" (and %d more)", len(v.failures)-1)
		}
		return VerdictFail, message + note, v.failures
	case v.judged == 0 && len(v.inconclusive) > 0:
		return VerdictInconclusive, "not judged: every step with evidence was inconclusive (" + strings.Join(v.inconclusive, ", ") + ")", nil
	case v.judged == 0 && partial:
		return VerdictInconclusive, "not judged: " + v.none + " (partial run)", nil
	case v.judged == 0 && noEvidence:
		return VerdictInconclusive, "not judged: " + v.none, nil
	case v.judged == 0:
		return VerdictFail, "cannot judge: " + v.none, nil
	default:
		return VerdictPass, v.pass + note, nil
	}
}

// judgeNoFailedRequests holds when no request failed in the steps it can
// judge and outside any step.
func judgeNoFailedRequests(r *Report) verdictBuilder {
	v := verdictBuilder{none: "no requests were observed"}
	requests, failed, outsideFailed := countJudged(r, &v)
	if requests == 0 {
		return v
	}
	v.judged = 1
	if failed == 0 {
		v.pass = fmt.Sprintf("none of %d requests failed", requests)
		return v
	}
	for _, s := range r.Steps {
		if s.Failed == 0 || s.Verdict == VerdictInconclusive {
			continue
		}
		v.fail(s, fmt.Sprintf("%s: %d of %d requests failed (%s)",
			stepLabel(s), s.Failed, s.Requests, kindsText(s.ErrorsByKind)))
	}
	if outsideFailed > 0 {
		v.failures = append(v.failures, fmt.Sprintf("%d failed requests outside any step", outsideFailed))
	}
	v.failures[0] = fmt.Sprintf("%d of %d requests failed; %s", failed, requests, v.failures[0])
	return v
}

// countJudged counts the requests and failures of the steps that are not
// inconclusive, and of the requests outside any step (noting the
// inconclusive steps in v); outsideFailed is the failures outside any step.
func countJudged(r *Report, v *verdictBuilder) (requests, failed, outsideFailed int) {
	t := r.Run.Totals
	outsideFailed = t.Failed
	for _, s := range r.Steps {
		outsideFailed -= s.Failed
	}
	outsideFailed = max(outsideFailed, 0)
	requests, failed = t.OutsideSteps, outsideFailed
	for _, s := range r.Steps {
		if s.Requests == 0 || v.skipInconclusive(s) {
			continue
		}
		requests += s.Requests
		failed += s.Failed
	}
	return requests, failed, outsideFailed
}

func judgeMaxErrorRate(r *Report, limit float64) verdictBuilder {
	v := verdictBuilder{none: "no requests were observed"}
	requests, failed, _ := countJudged(r, &v)
	if requests == 0 {
		return v
	}
	v.judged = 1
	rate := fraction(failed, requests)
	text := fmt.Sprintf("error rate %s (%d of %d requests)", pct(rate), failed, requests)
	worst := -1
	for i, s := range r.Steps {
		if s.Requests > 0 && s.Verdict != VerdictInconclusive && (worst < 0 || s.ErrorRate > r.Steps[worst].ErrorRate) {
			worst = i
		}
	}
	if worst >= 0 && r.Steps[worst].Failed > 0 {
		s := r.Steps[worst]
		text += fmt.Sprintf(", worst %s at %s (%d of %d)", stepLabel(s), pct(s.ErrorRate), s.Failed, s.Requests)
	}
	if rate > limit+epsilon {
		msg := fmt.Sprintf("%s exceeds %s", text, pct(limit))
		if worst >= 0 && r.Steps[worst].Failed > 0 {
			v.fail(r.Steps[worst], msg)
		} else {
			v.failures = []string{msg}
		}
		return v
	}
	v.pass = fmt.Sprintf("%s within %s", text, pct(limit))
	return v
}

// judgeWeights checks every version of every weighted step against the
// tolerance tol returns in percentage points, with its description; what
// names the tolerance in the message of a pass.
func judgeWeights(r *Report, what string, tol func(StepReport, VersionShare) (float64, string)) verdictBuilder {
	v := verdictBuilder{none: "no step has requests counted against configured weights"}
	var worst struct {
		step    StepReport
		version VersionShare
		found   bool
	}
	for _, s := range r.Steps {
		if !s.Reached || !s.Weighted || v.skipInconclusive(s) {
			continue
		}
		if s.ShareRequests == 0 {
			v.skipped = append(v.skipped, fmt.Sprintf("%s (%s)", stepLabel(s), whyNoShares(s)))
			continue
		}
		v.judged++
		for _, vs := range s.Versions {
			limit, desc := tol(s, vs)
			if !worst.found || vs.ErrorPP > worst.version.ErrorPP {
				worst.step, worst.version, worst.found = s, vs, true
			}
			if vs.ErrorPP <= limit+epsilon {
				continue
			}
			if vs.ConfiguredPct == 0 {
				v.fail(s, fmt.Sprintf("%s version %s: weight 0 but served %d of %d requests (%s)",
					stepLabel(s), vs.Version, vs.Requests, s.ShareRequests, pp(vs.ObservedPct)+"%"))
				continue
			}
			v.fail(s, fmt.Sprintf("%s version %s: observed %s%% vs configured %s%%, off by %s pp, more than %s",
				stepLabel(s), vs.Version, pp(vs.ObservedPct), pp(vs.ConfiguredPct), pp(vs.ErrorPP), desc))
		}
	}
	v.pass = fmt.Sprintf("every version within %s in %d step(s)", what, v.judged)
	if worst.found {
		v.pass += fmt.Sprintf(" (worst: %s version %s off by %s pp)", stepLabel(worst.step), worst.version.Version, pp(worst.version.ErrorPP))
	}
	return v
}

// boundInSigmas is a fixed bound of limit percentage points on version
// vs's share in step s, in standard errors of the binomial share of the
// step's requests; false for a version weighted 0 or 100 (no noise).
func boundInSigmas(limit float64, s StepReport, vs VersionShare) (float64, bool) {
	p := vs.ConfiguredPct / 100
	if p <= 0 || p >= 1 || s.ShareRequests == 0 {
		return 0, false
	}
	return limit / (100 * math.Sqrt(p*(1-p)/float64(s.ShareRequests))), true
}

// tightBound is the tightest step and version, in σ of its sampling
// noise, of a weight-within bound under 3σ, and the chance of a miss by
// chance in each step so judged.
type tightBound struct {
	z     float64
	step  StepReport
	share VersionShare
	found bool
	miss  map[int]float64 // by step index: the largest chance of a version's miss
}

// consider notes a judged step and version whose bound is z σ.
func (t *tightBound) consider(z float64, s StepReport, vs VersionShare) {
	if !t.found || z < t.z {
		t.z, t.step, t.share, t.found = z, s, vs, true
	}
	if t.miss == nil {
		t.miss = map[int]float64{}
	}
	t.miss[s.Index] = math.Max(t.miss[s.Index], 2*distuv.UnitNormal.Survival(z))
}

// caveat says that a bound of limit percentage points was under 3σ of the
// sampling noise of a step it judged: the tightest, the chance that a
// correct split misses the bound there and in one step or another (the
// steps' samples being independent), and the requests that would make it
// 3σ. Such a bound fails a correct rollout often enough to matter (6% at
// 1.9σ in one step), most often when the steps were shortened. Empty when
// no bound was under 3σ.
func (t tightBound) caveat(limit float64) string {
	if !t.found {
		return ""
	}
	hold := 1.0
	for _, m := range t.miss {
		hold *= 1 - m
	}
	p := t.share.ConfiguredPct / 100
	need := int(math.Ceil(p*(1-p)*math.Pow(toleranceZ*100/limit, 2) - epsilon))
	return fmt.Sprintf("%s pp is only %.1fσ of the sampling noise in %s version %s (n=%d, σ = %s pp at weight %s%%): "+
		"a correct split misses it there in %s of runs, and in one step or another in %s; %d requests in that step would make it %dσ, or assert weight-binomial",
		num(limit), t.z, stepLabel(t.step), t.share.Version, t.step.ShareRequests, pp(limit/t.z), num(t.share.ConfiguredPct),
		chance(t.miss[t.step.Index]), chance(1-hold), need, toleranceZ)
}

// chance renders a probability as "about 6%" ("under 1%" below it).
func chance(p float64) string {
	if p < 0.01 {
		return "under 1%"
	}
	return fmt.Sprintf("about %.0f%%", 100*p)
}

// whyNoShares says why a reached, weighted step counted no request.
func whyNoShares(s StepReport) string {
	switch {
	case s.Requests == 0:
		return "no requests"
	case s.Convergence.Basis == NotConverged && s.Convergence.Pushes == 0:
		return "the observed split never reached the weights"
	case s.Convergence.Basis == NotConverged:
		return fmt.Sprintf("weights never acknowledged: %d xDS pushes, no ACK", s.Convergence.Pushes)
	case s.Convergence.Excluded == s.Requests:
		return "no requests after convergence"
	default:
		return "no request reached a version"
	}
}

func judgeLatency(r *Report, limit time.Duration) verdictBuilder {
	v := verdictBuilder{none: "no step has requests"}
	var worst *StepReport
	for i, s := range r.Steps {
		if !s.Reached || v.skipInconclusive(s) {
			continue
		}
		if s.Latency.Count == 0 {
			v.skipped = append(v.skipped, fmt.Sprintf("%s (no requests)", stepLabel(s)))
			continue
		}
		v.judged++
		if worst == nil || s.Latency.P99 > worst.Latency.P99 {
			worst = &r.Steps[i]
		}
		if s.Latency.P99 >= limit {
			v.fail(s, fmt.Sprintf("%s: p99 %s ms is not below %s ms (n=%d)",
				stepLabel(s), ms(s.Latency.P99), ms(limit), s.Latency.Count))
		}
	}
	v.pass = fmt.Sprintf("p99 below %s ms in %d step(s)", ms(limit), v.judged)
	if worst != nil {
		v.pass += fmt.Sprintf(" (worst: %s at %s ms)", stepLabel(*worst), ms(worst.Latency.P99))
	}
	return v
}

// stepLabel names a step in messages: `step 2 "canary-10"`.
func stepLabel(s StepReport) string {
	if s.Name == "" {
		return fmt.Sprintf("step %d", s.Index)
	}
	return fmt.Sprintf("step %d %q", s.Index, s.Name)
}

// kindsText lists error counts by kind, most frequent first: "reset 3, eof 2".
func kindsText(kinds map[string]int) string {
	if len(kinds) == 0 {
		return "-"
	}
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sortByCount(names, kinds)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s %d", k, kinds[k])
	}
	return strings.Join(parts, ", ")
}

// sortByCount sorts names by count, highest first, then by name.
func sortByCount(names []string, count map[string]int) {
	sort.Slice(names, func(i, j int) bool {
		if count[names[i]] != count[names[j]] {
			return count[names[i]] > count[names[j]]
		}
		return names[i] < names[j]
	})
}

// num formats a threshold without float noise: 2, 0.5, 99.9.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*1e6)/1e6, 'f', -1, 64)
}

// pct formats a fraction as a percentage: 0.0125 → "1.25%".
func pct(f float64) string { return num(math.Round(f*1e6)/1e4) + "%" }

// pp formats percentages and percentage points with two decimals.
func pp(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// ms formats a duration in milliseconds with two decimals.
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64)
}
