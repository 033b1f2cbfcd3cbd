package canary

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/metrics"
	"github.com/meshsim/meshsim/loadgen/rundir"
)

// tally makes n requests with latencies drawn around median (log-normal
// spread, seeded), every failEvery-th one failing with a 500 (0: none).
func tally(seed uint64, n int, median time.Duration, failEvery int) *metrics.Tally {
	rng := rand.New(rand.NewPCG(seed, 7))
	t := metrics.NewTally()
	for i := range n {
		f := float64(median) * (0.6 + 0.8*rng.Float64()) // uniform ±40%
		o := rundir.Observation{Kind: rundir.KindHTTP, Status: 200, Latency: time.Duration(f)}
		if failEvery > 0 && i%failEvery == 0 {
			o.Status, o.ErrorKind = 500, "app-5xx"
		}
		t.Add(&o)
	}
	return t
}

func classes(r Result) map[string]string {
	out := map[string]string{}
	for _, m := range r.Metrics {
		out[m.Name] = m.Classification
	}
	return out
}

// TestAnalyzeClassification: crafted canaries whose answer is known.
func TestAnalyzeClassification(t *testing.T) {
	base := tally(1, 2000, 10*time.Millisecond, 0)
	tests := []struct {
		name             string
		canary           *metrics.Tally
		cfg              Config
		latency, errRate string
		score            float64
		verdict          string
	}{
		{"same distribution", tally(2, 400, 10*time.Millisecond, 0), Config{}, Pass, Pass, 100, VerdictPass},
		{"50% slower", tally(3, 400, 15*time.Millisecond, 0), Config{}, High, Pass, 50, VerdictFail},
		{"3% slower: significant, under the effect gate", tally(4, 20000, 10300*time.Microsecond, 0), Config{}, Pass, Pass, 100, VerdictPass},
		{"faster", tally(5, 400, 6*time.Millisecond, 0), Config{}, Pass, Pass, 100, VerdictPass},
		{"10% errors", tally(6, 400, 10*time.Millisecond, 10), Config{}, Pass, High, 50, VerdictFail},
		{"slower and failing", tally(7, 400, 20*time.Millisecond, 5), Config{}, High, High, 0, VerdictFail},
		{"errors weighted 20: marginal", tally(8, 400, 10*time.Millisecond, 10), Config{Weights: map[string]float64{MetricErrorRate: 20}}, Pass, High, 80, VerdictMarginal},
		{"errors critical", tally(9, 400, 10*time.Millisecond, 10), Config{Weights: map[string]float64{MetricErrorRate: 10}, Critical: map[string]bool{MetricErrorRate: true}}, Pass, High, 0, VerdictFail},
		{"too few canary requests", tally(10, 5, 10*time.Millisecond, 0), Config{}, NoData, NoData, 0, VerdictFail},
		{"no canary", nil, Config{}, NoData, NoData, 0, VerdictFail},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Analyze("v1", base, "v2", tc.canary, tc.cfg)
			got := classes(r)
			if got[MetricLatency] != tc.latency || got[MetricErrorRate] != tc.errRate || r.Score != tc.score || r.Verdict != tc.verdict {
				t.Errorf("latency %s error-rate %s score %g verdict %s; want %s %s %g %s\n%+v",
					got[MetricLatency], got[MetricErrorRate], r.Score, r.Verdict, tc.latency, tc.errRate, tc.score, tc.verdict, r)
			}
		})
	}
}

// TestAnalyzeFalseHighs: canary and baseline drawn from one distribution
// are classified High in few of many trials (at confidence 0.98, about 1%
// by chance, less with the effect gate).
func TestAnalyzeFalseHighs(t *testing.T) {
	highs := 0
	for seed := range uint64(100) {
		r := Analyze("v1", tally(1000+seed, 600, 10*time.Millisecond, 50), "v2", tally(2000+seed, 200, 10*time.Millisecond, 50), Config{})
		if r.Verdict != VerdictPass {
			highs++
		}
	}
	if highs > 6 {
		t.Errorf("%d of 100 equal canaries failed; want about 1%%", highs)
	}
}

func TestOthers(t *testing.T) {
	good := tally(1, 100, 10*time.Millisecond, 0)
	bad := tally(2, 100, 10*time.Millisecond, 10)
	slow := tally(3, 100, 800*time.Millisecond, 0)
	tests := []struct {
		name      string
		intervals []*metrics.Tally
		cfg       Config
		flagger   string
		failed    int
		argo      string
	}{
		{"all good", []*metrics.Tally{good, good, good}, Config{}, "promote", 0, "Successful"},
		{"one bad interval: Flagger halts, Argo fails (failureLimit 0)", []*metrics.Tally{good, bad, good}, Config{}, "halt", 1, "Failed"},
		{"threshold 2 reached", []*metrics.Tally{bad, slow, good}, Config{Threshold: 2, FailureLimit: 2}, "rollback", 2, "Successful"},
		{"no data: Flagger counts it, Argo is inconclusive", []*metrics.Tally{good, nil}, Config{}, "halt", 1, "Inconclusive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Result
			JudgeOthers(&r, tc.intervals, tc.cfg)
			if r.Flagger.Verdict != tc.flagger || r.Flagger.FailedChecks != tc.failed || r.Argo.Phase != tc.argo {
				t.Errorf("flagger %+v argo %+v; want %s with %d failed checks, argo %s", r.Flagger, r.Argo, tc.flagger, tc.failed, tc.argo)
			}
		})
	}
	var r Result
	JudgeOthers(&r, []*metrics.Tally{slow}, Config{})
	if !strings.Contains(strings.Join(r.Flagger.Failures, ";"), "p99") {
		t.Errorf("slow interval: failures %v, want the p99 named", r.Flagger.Failures)
	}
}

func TestIntervals(t *testing.T) {
	t0 := time.Unix(0, 0)
	got := Intervals(t0, t0.Add(3200*time.Millisecond), Config{Interval: time.Second})
	if len(got) != 3 || !got[2][1].Equal(t0.Add(3*time.Second)) {
		t.Errorf("3.2s in 1s intervals: %v; want 3 (the 0.2s rest dropped)", got)
	}
	got = Intervals(t0, t0.Add(3700*time.Millisecond), Config{Interval: time.Second})
	if len(got) != 4 || !got[3][1].Equal(t0.Add(3700*time.Millisecond)) {
		t.Errorf("3.7s in 1s intervals: %v; want 4", got)
	}
}
