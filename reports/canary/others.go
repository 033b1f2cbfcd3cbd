package canary

import (
	"fmt"
	"strings"
	"time"

	"github.com/meshsim/meshsim/loadgen/metrics"
)

// Flagger is the verdict Flagger would have reached: each interval checks
// the canary alone against request-success-rate and request-duration
// (p99) thresholds; a failed check (or no values: "no values found for
// metric") counts, cumulatively, and Threshold of them roll back.
type Flagger struct {
	Intervals    int      `json:"intervals"`
	FailedChecks int      `json:"failedChecks"`
	Threshold    int      `json:"threshold"`
	Verdict      string   `json:"verdict"` // promote, halt or rollback
	Failures     []string `json:"failures,omitempty"`
}

// Argo is the verdict of an Argo Rollouts AnalysisRun with one metric
// measured each interval (successCondition: error rate and p99 within the
// limits): Failed when more than FailureLimit measurements failed,
// Inconclusive when more than InconclusiveLimit had no data (the rollout
// pauses for a human), Successful otherwise.
type Argo struct {
	Measurements      int    `json:"measurements"`
	Failed            int    `json:"failed"`
	Inconclusive      int    `json:"inconclusive"`
	FailureLimit      int    `json:"failureLimit"`
	InconclusiveLimit int    `json:"inconclusiveLimit"`
	Phase             string `json:"phase"` // Successful, Failed or Inconclusive
}

// Intervals cuts [from, to) into cfg's intervals (the last one may be
// shorter, and is dropped when under half an interval).
func Intervals(from, to time.Time, cfg Config) [][2]time.Time {
	cfg = cfg.withDefaults()
	var out [][2]time.Time
	for t := from; t.Before(to); t = t.Add(cfg.Interval) {
		end := t.Add(cfg.Interval)
		if end.After(to) {
			if to.Sub(t) < cfg.Interval/2 && len(out) > 0 {
				break
			}
			end = to
		}
		out = append(out, [2]time.Time{t, end})
	}
	return out
}

// check judges one interval of the canary's requests: "" when within the
// limits, else why not; nodata when it had fewer than MinRequests.
func check(t *metrics.Tally, cfg Config) (why string, nodata bool) {
	if t == nil || t.Requests < cfg.MinRequests {
		n := 0
		if t != nil {
			n = t.Requests
		}
		return fmt.Sprintf("no values (%d requests)", n), true
	}
	var bad []string
	rate := float64(t.Failed) / float64(t.Requests)
	if cfg.MaxErrorRate >= 0 && rate > cfg.MaxErrorRate {
		bad = append(bad, fmt.Sprintf("success rate %.2f%% < %.2f%%", 100*(1-rate), 100*(1-cfg.MaxErrorRate)))
	}
	if p99 := t.Latency.Quantiles().P99; cfg.MaxP99 > 0 && p99 > cfg.MaxP99 {
		bad = append(bad, fmt.Sprintf("p99 %s > %s", roundDur(p99), cfg.MaxP99))
	}
	return strings.Join(bad, ", "), false
}

// JudgeOthers adds to r what Flagger and Argo Rollouts would have
// concluded from the canary's requests in each interval.
func JudgeOthers(r *Result, canary []*metrics.Tally, cfg Config) {
	cfg = cfg.withDefaults()
	f := &Flagger{Intervals: len(canary), Threshold: cfg.Threshold}
	a := &Argo{Measurements: len(canary), FailureLimit: cfg.FailureLimit, InconclusiveLimit: cfg.InconclusiveLimit}
	for i, t := range canary {
		why, nodata := check(t, cfg)
		if why == "" {
			continue
		}
		f.FailedChecks++
		f.Failures = append(f.Failures, fmt.Sprintf("interval %d: %s", i+1, why))
		if nodata {
			a.Inconclusive++
		} else {
			a.Failed++
		}
	}
	switch {
	case f.FailedChecks >= f.Threshold:
		f.Verdict = "rollback"
	case f.FailedChecks > 0:
		f.Verdict = "halt"
	default:
		f.Verdict = "promote"
	}
	switch {
	case a.Failed > a.FailureLimit:
		a.Phase = "Failed"
	case a.Inconclusive > a.InconclusiveLimit:
		a.Phase = "Inconclusive"
	default:
		a.Phase = "Successful"
	}
	r.Flagger, r.Argo = f, a
}
