// Package canary judges a canary against the baseline version measured
// concurrently in the same step or window, as Kayenta (Spinnaker's
// automated canary analysis) does: each metric is classified Pass, High,
// Low or NoData by a statistical test of canary against baseline (latency:
// Mann–Whitney U with the Hodges–Lehmann interval of the shift; error
// rate: Fisher's exact or the two-proportion z test), the classifications
// make a weighted score, and the score against the pass and marginal
// thresholds is the verdict. Beside it, the verdicts Flagger (canary-only
// thresholds per interval, failed checks against its threshold) and Argo
// Rollouts (measurements per interval, failureLimit, inconclusive) would
// have reached on the same requests, for users who know those tools.
//
// It reads the aggregates of package metrics only, so the engine's gates
// (on the live window) and the reports (on the run directory) judge with
// the same code.
package canary

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/meshsim/meshsim/loadgen/metrics"
	"github.com/meshsim/meshsim/reports/stats"
)

// Classifications of one metric, as Kayenta names them.
const (
	Pass   = "Pass"
	High   = "High"
	Low    = "Low"
	NoData = "NoData"
)

// Verdicts of the analysis (Kayenta's score classification).
const (
	VerdictPass     = "Pass"
	VerdictMarginal = "Marginal"
	VerdictFail     = "Fail"
)

// The metrics analysed.
const (
	MetricLatency   = "latency"
	MetricErrorRate = "error-rate"
)

// Config is how the analysis judges; zero fields take the defaults
// (Defaults).
type Config struct {
	// Pass and Marginal are the score thresholds (0..100): a score at or
	// above Pass passes, at or above Marginal is marginal, below fails.
	Pass, Marginal float64
	// ConfLevel is the confidence level of the tests (Kayenta's
	// NetflixACAJudge uses 0.98).
	ConfLevel float64
	// Tolerance is Kayenta's fraction: the latency shift's interval must
	// clear ±Tolerance×|estimate| to be High or Low.
	Tolerance float64
	// AllowedIncrease is the effect-size gate: a latency is High only when
	// the canary's mean is at least this ratio of the baseline's. Kayenta's
	// default is 1.0 (off); meshsim's is 1.1, since its samples are single
	// requests (thousands per window), where a rank test finds shifts of a
	// few microseconds that nobody feels.
	AllowedIncrease float64
	// MinRequests is the fewest requests each version needs for a metric
	// to have data.
	MinRequests int
	// Weights weighs the metrics' groups (each metric is its own group) in
	// the score, in percent; metrics without a weight share what is left.
	Weights map[string]float64
	// Critical metrics force the score to 0 when they are not Pass.
	Critical map[string]bool

	// Flagger and Argo Rollouts, judged on the same requests in intervals
	// of Interval: the canary's error rate at most MaxErrorRate and its p99
	// at most MaxP99 (a negative value: no limit). Flagger rolls back after Threshold failed
	// checks; Argo fails after more than FailureLimit failed measurements
	// and is inconclusive after more than InconclusiveLimit measurements
	// without data.
	Interval          time.Duration
	MaxErrorRate      float64
	MaxP99            time.Duration
	Threshold         int
	FailureLimit      int
	InconclusiveLimit int
}

// Defaults are Kayenta's thresholds as the issue and Argo's example use
// them (pass 95, marginal 75), NetflixACAJudge's confidence (0.98) and
// tolerance (0.25); Flagger's built-in request-success-rate (99%) and
// request-duration (p99 500 ms) checks with threshold 5; Argo's default
// failureLimit and inconclusiveLimit (0).
func Defaults() Config {
	return Config{Pass: 95, Marginal: 75, ConfLevel: 0.98, Tolerance: 0.25, AllowedIncrease: 1.1, MinRequests: 20,
		Interval: time.Second, MaxErrorRate: 0.01, MaxP99: 500 * time.Millisecond, Threshold: 5}
}

// withDefaults fills c's zero fields from Defaults.
func (c Config) withDefaults() Config {
	d := Defaults()
	if c.Pass == 0 {
		c.Pass = d.Pass
	}
	if c.Marginal == 0 {
		c.Marginal = min(d.Marginal, c.Pass)
	}
	if c.ConfLevel == 0 {
		c.ConfLevel = d.ConfLevel
	}
	if c.Tolerance == 0 {
		c.Tolerance = d.Tolerance
	}
	if c.AllowedIncrease == 0 {
		c.AllowedIncrease = d.AllowedIncrease
	}
	if c.MinRequests == 0 {
		c.MinRequests = d.MinRequests
	}
	if c.Interval == 0 {
		c.Interval = d.Interval
	}
	if c.Threshold == 0 {
		c.Threshold = d.Threshold
	}
	if c.MaxErrorRate == 0 {
		c.MaxErrorRate = d.MaxErrorRate
	}
	if c.MaxP99 == 0 {
		c.MaxP99 = d.MaxP99
	}
	return c
}

// Metric is the classification of one metric.
type Metric struct {
	Name           string `json:"name"`
	Classification string `json:"classification"`
	// Test names the statistical test; P is its two-sided p-value.
	Test string  `json:"test,omitempty"`
	P    float64 `json:"p"`
	// Baseline and Canary describe each side ("p50 1.2ms p99 3.4ms of 512",
	// "3 of 512 failed (0.59%)"); Effect the difference found with its
	// interval.
	Baseline string  `json:"baseline"`
	Canary   string  `json:"canary"`
	Effect   string  `json:"effect,omitempty"`
	Critical bool    `json:"critical,omitempty"`
	Weight   float64 `json:"weight"`
}

// Result is a Kayenta-style analysis of a canary against its baseline.
type Result struct {
	Baseline string   `json:"baseline"`
	Canary   string   `json:"canary"`
	Metrics  []Metric `json:"metrics"`
	// Score is the weighted score (0..100); Verdict its classification
	// against Pass and Marginal.
	Score    float64 `json:"score"`
	Pass     float64 `json:"pass"`
	Marginal float64 `json:"marginal"`
	Verdict  string  `json:"verdict"`
	Reason   string  `json:"reason"`
	// Flagger and Argo are what those tools would have concluded from the
	// same requests; nil when no intervals were given.
	Flagger *Flagger `json:"flagger,omitempty"`
	Argo    *Argo    `json:"argo,omitempty"`
}

// Analyze compares the canary's requests with the baseline's, measured in
// the same window.
func Analyze(baselineName string, baseline *metrics.Tally, canaryName string, canary *metrics.Tally, cfg Config) Result {
	cfg = cfg.withDefaults()
	r := Result{Baseline: baselineName, Canary: canaryName, Pass: cfg.Pass, Marginal: cfg.Marginal}
	r.Metrics = []Metric{
		classifyLatency(baseline, canary, cfg),
		classifyErrors(baseline, canary, cfg),
	}
	weigh(r.Metrics, cfg)
	r.Score, r.Reason = score(r.Metrics)
	switch {
	case r.Score >= cfg.Pass:
		r.Verdict = VerdictPass
	case r.Score >= cfg.Marginal:
		r.Verdict = VerdictMarginal
	default:
		r.Verdict = VerdictFail
	}
	return r
}

func empty(t *metrics.Tally) bool { return t == nil || t.Requests == 0 }

// Sample is a latency histogram as a weighted sample, in milliseconds
// (bucket middles).
func Sample(h *metrics.Histogram) stats.Sample {
	var s stats.Sample
	for _, b := range h.Buckets() {
		s.Add(float64(b.Mid())/float64(time.Millisecond), float64(b.Count))
	}
	return s
}

// classifyLatency: Mann–Whitney U of the canary's latencies against the
// baseline's; High when the interval of the shift lies above
// Tolerance×|estimate| and the means' ratio reaches AllowedIncrease
// (latency only judges increases: a faster canary passes).
func classifyLatency(baseline, canary *metrics.Tally, cfg Config) Metric {
	m := Metric{Name: MetricLatency, Test: "mann-whitney-u", P: 1}
	if empty(baseline) || empty(canary) || baseline.Requests < cfg.MinRequests || canary.Requests < cfg.MinRequests {
		m.Classification = NoData
		m.Baseline, m.Canary = countText(baseline), countText(canary)
		return m
	}
	bq, cq := baseline.Latency.Quantiles(), canary.Latency.Quantiles()
	m.Baseline, m.Canary = quantText(bq), quantText(cq)
	x, y := Sample(canary.Latency), Sample(baseline.Latency)
	mw, err := stats.MannWhitneyTest(x, y, stats.TwoSided, cfg.ConfLevel)
	if err != nil {
		m.Classification = NoData
		return m
	}
	m.P = mw.P
	ratio := x.Mean() / y.Mean()
	m.Effect = fmt.Sprintf("shift %+.3gms [%+.3g, %+.3g] at %g%%, mean ratio %.2f", mw.Shift, mw.Lo, mw.Hi, 100*cfg.ConfLevel, ratio)
	bound := cfg.Tolerance * math.Abs(mw.Shift)
	m.Classification = Pass
	if mw.Lo > bound && ratio >= cfg.AllowedIncrease {
		m.Classification = High
	}
	return m
}

// classifyErrors: the canary's share of failed requests against the
// baseline's (Fisher's exact test for small counts, the two-proportion z
// test otherwise); High when it is higher at the confidence level.
func classifyErrors(baseline, canary *metrics.Tally, cfg Config) Metric {
	m := Metric{Name: MetricErrorRate, P: 1}
	m.Baseline, m.Canary = failText(baseline), failText(canary)
	if empty(baseline) || empty(canary) || baseline.Requests < cfg.MinRequests || canary.Requests < cfg.MinRequests {
		m.Classification = NoData
		return m
	}
	pt, err := stats.ProportionTest(canary.Failed, canary.Requests, baseline.Failed, baseline.Requests, stats.TwoSided, cfg.ConfLevel)
	if err != nil {
		m.Classification = NoData
		return m
	}
	m.Test, m.P = pt.Test, pt.P
	m.Effect = fmt.Sprintf("%+.2fpp [%+.2f, %+.2f] at %g%%", 100*pt.Diff, 100*pt.Lo, 100*pt.Hi, 100*cfg.ConfLevel)
	m.Classification = Pass
	if pt.P < 1-cfg.ConfLevel && pt.Diff > 0 {
		m.Classification = High
	}
	return m
}

// weigh sets each metric's weight: its configured one, or an equal share
// of what the configured ones leave (Kayenta's groups without a weight).
func weigh(ms []Metric, cfg Config) {
	left, unweighted := 100.0, 0
	for _, m := range ms {
		if w, ok := cfg.Weights[m.Name]; ok {
			left -= w
		} else {
			unweighted++
		}
	}
	for i := range ms {
		ms[i].Critical = cfg.Critical[ms[i].Name]
		if w, ok := cfg.Weights[ms[i].Name]; ok {
			ms[i].Weight = w
		} else if unweighted > 0 {
			ms[i].Weight = math.Max(0, left) / float64(unweighted)
		}
	}
}

// score is Kayenta's weighted sum: each group (here one metric) scores
// 100·Pass/(Pass+High+Low), a group without data 100; the score is 0 when a
// critical metric is not Pass or half the metrics or more have no data.
func score(ms []Metric) (float64, string) {
	var s float64
	var nodata int
	var bad []string
	for _, m := range ms {
		switch m.Classification {
		case NoData:
			nodata++
			s += m.Weight
		case Pass:
			s += m.Weight
		default:
			bad = append(bad, m.Name+" "+m.Classification)
			if m.Critical {
				return 0, fmt.Sprintf("critical metric %s is %s", m.Name, m.Classification)
			}
		}
	}
	if 2*nodata >= len(ms) {
		return 0, fmt.Sprintf("%d of %d metrics have no data", nodata, len(ms))
	}
	if len(bad) == 0 {
		return s, "every metric with data passed"
	}
	return s, strings.Join(bad, ", ")
}

func countText(t *metrics.Tally) string {
	if t == nil {
		return "no requests"
	}
	return fmt.Sprintf("%d requests", t.Requests)
}

func quantText(q metrics.Quantiles) string {
	return fmt.Sprintf("p50 %s p99 %s of %d", roundDur(q.P50), roundDur(q.P99), q.Count)
}

func failText(t *metrics.Tally) string {
	if empty(t) {
		return countText(t)
	}
	return fmt.Sprintf("%d of %d failed (%.2f%%)", t.Failed, t.Requests, 100*float64(t.Failed)/float64(t.Requests))
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}
