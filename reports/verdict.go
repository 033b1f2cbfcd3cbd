package reports

import (
	"fmt"
	"strings"
)

// Verdicts of a run, a step and an assertion. Every output (the terminal
// summary, report.json, report.md, report.html, report.junit.xml and
// meshsim's exit code) shows the same verdict.
const (
	// VerdictPass: every assertion holds on a complete run whose instrument
	// kept up in every step.
	VerdictPass = "pass"
	// VerdictFail: an assertion failed in a step whose instrument kept up
	// (or on the run as a whole). A failure found in a partial run is
	// still a failure.
	VerdictFail = "fail"
	// VerdictInconclusive: nothing failed for sure, but the evidence is
	// incomplete: the instrument saturated in a step (its failures may be
	// the machine's), an assertion had nothing to judge, or the run is
	// partial (interrupted, killed, cut short by an error).
	VerdictInconclusive = "inconclusive"
	// VerdictError: the run produced no evidence: its setup failed, no
	// step of the rollout ran, or it sent no request.
	VerdictError = "error"
	// VerdictNotJudged is a step's verdict when it was not reached or had
	// no requests.
	VerdictNotJudged = "not-judged"
)

// errorReason says why the run produced no evidence, or "" when it did: it
// sent no request (its setup failed, for example), or no step of the
// rollout ran.
func errorReason(r *Report) string {
	t := r.Run.Totals
	var why string
	reached := false
	for _, s := range r.Steps {
		reached = reached || s.Reached
	}
	switch {
	case t.Requests == 0 && t.Canceled > 0 && r.Run.Streams == nil:
		why = fmt.Sprintf("no request completed (%d canceled when the run stopped)", t.Canceled)
	case t.Requests == 0 && r.Run.Streams == nil:
		why = "the run sent no request"
	case !reached && len(r.Steps) > 0:
		why = "no step of the rollout ran"
	default:
		return ""
	}
	if r.Run.Partial && r.Run.Reason != "" {
		why += ": " + r.Run.Reason
	}
	return why
}

// classifySteps gives the steps that cannot be judged their verdict before
// the assertions are judged: not reached or without requests (not judged),
// or saturated (inconclusive). The others are decided by finishVerdicts.
func classifySteps(r *Report) {
	for i := range r.Steps {
		s := &r.Steps[i]
		switch {
		case !s.Reached:
			s.Verdict, s.VerdictReason = VerdictNotJudged, "not reached"
		case s.Requests == 0 && s.Streams == nil:
			s.Verdict, s.VerdictReason = VerdictNotJudged, "no requests"
		case s.Instrument != nil && s.Instrument.Saturated != "":
			s.Verdict, s.VerdictReason = VerdictInconclusive, s.Instrument.Saturated
		}
	}
}

// inconclusive reports whether step s is inconclusive, with the note an
// assertion that leaves it out adds to its message (the reason is in the
// step's verdict).
func inconclusive(s StepReport) (bool, string) {
	if s.Verdict != VerdictInconclusive {
		return false, ""
	}
	return true, stepLabel(s)
}

// finishVerdicts decides the verdicts of the judged steps from the
// assertions' failures, then the run's verdict.
func finishVerdicts(r *Report, errReason string) {
	failedIn := map[int][]string{}
	for _, a := range r.Assertions {
		for _, i := range a.FailedSteps {
			failedIn[i] = append(failedIn[i], assertionTitle(a))
		}
	}
	for i := range r.Steps {
		s := &r.Steps[i]
		if s.Verdict != "" {
			continue
		}
		if titles := failedIn[s.Index]; len(titles) > 0 {
			s.Verdict, s.VerdictReason = VerdictFail, "failed "+strings.Join(titles, ", ")
			continue
		}
		s.Verdict = VerdictPass
	}
	r.Verdict, r.VerdictReason = runVerdict(r, errReason)
}

// runVerdict decides the run's verdict, in this order: an error (no
// evidence), a failure, an inconclusive step or assertion, a partial run;
// otherwise a pass.
func runVerdict(r *Report, errReason string) (verdict, reason string) {
	if errReason != "" {
		return VerdictError, errReason
	}
	var failed, undecided []string
	for _, a := range r.Assertions {
		switch a.outcome() {
		case VerdictFail:
			failed = append(failed, assertionTitle(a))
		case VerdictInconclusive:
			undecided = append(undecided, assertionTitle(a))
		}
	}
	if len(failed) > 0 {
		return VerdictFail, fmt.Sprintf("%d of %d assertions failed: %s", len(failed), len(r.Assertions), strings.Join(failed, ", "))
	}
	var (
		saturated, reached int
		worst              *StepReport
	)
	for i, s := range r.Steps {
		if s.Reached {
			reached++
		}
		if s.Verdict != VerdictInconclusive {
			continue
		}
		saturated++
		if worst == nil || (s.Instrument != nil && worst.Instrument != nil && s.Instrument.LagP99 > worst.Instrument.LagP99) {
			worst = &r.Steps[i]
		}
	}
	var why []string
	if worst != nil {
		// Every step's reason is in its verdict; the run names the worst.
		text := fmt.Sprintf("the instrument saturated in %d of %d steps", saturated, reached)
		if saturated > 1 {
			text += fmt.Sprintf(" (worst %s: %s)", stepLabel(*worst), worst.VerdictReason)
		} else {
			text += fmt.Sprintf(" (%s: %s)", stepLabel(*worst), worst.VerdictReason)
		}
		why = append(why, text)
	}
	if len(undecided) > 0 {
		why = append(why, "not judged: "+strings.Join(undecided, ", "))
	}
	if r.Run.Partial {
		why = append(why, "partial run: "+orDash(r.Run.Reason))
	}
	if len(why) > 0 {
		return VerdictInconclusive, strings.Join(why, "; ")
	}
	return VerdictPass, ""
}

// verdictWord is the verdict in capitals, as the outputs show it.
func verdictWord(v string) string {
	if v == "" {
		return "-"
	}
	return strings.ToUpper(v)
}

// outcome is the assertion's verdict; for a result without one (built by
// hand, or decoded from an older report.json), pass or fail by Passed.
func (a AssertionResult) outcome() string {
	switch {
	case a.Verdict != "":
		return a.Verdict
	case a.Passed:
		return VerdictPass
	default:
		return VerdictFail
	}
}
