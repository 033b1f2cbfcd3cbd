package reports_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
)

// canary shapes step 1 "canary" (v1 90 / v2 10) of analyzeCanary's run.
type canary struct {
	counts   map[string]int
	failures []string
	latency  time.Duration
}

// analyzeCanary analyses a run of two steps judged by assertion a: step 0
// "baseline" is always clean (1000 requests to v1 at 10ms); step 1
// "canary" serves c.
func analyzeCanary(c canary, a rundir.Assertion) *reports.Report {
	steps := []rundir.Step{
		step(0, "baseline", 0, 10*time.Second, map[string]float64{"v1": 100}),
		step(1, "canary", 10*time.Second, 20*time.Second, map[string]float64{"v1": 90, "v2": 10}),
	}
	obs := served(0, at(0), time.Millisecond, map[string]int{"v1": 1000})
	for i := range obs {
		obs[i].Latency = 10 * time.Millisecond
	}
	canaryObs := served(1, at(10*time.Second), time.Millisecond, c.counts)
	for i := range canaryObs {
		canaryObs[i].Latency = c.latency
	}
	obs = append(obs, canaryObs...)
	for i, k := range c.failures {
		obs = append(obs, failObs(1, at(11*time.Second+time.Duration(i)*time.Millisecond), k))
	}
	return reports.Analyze(newRun(steps, obs, nil, a))
}

func TestAssertions(t *testing.T) {
	good := canary{counts: map[string]int{"v1": 890, "v2": 110}, latency: 10 * time.Millisecond}
	cases := []struct {
		name      string
		assertion rundir.Assertion
		canary    canary
		passed    bool
		message   []string // substrings the message must hold
	}{
		{"no failed requests holds", rundir.Assertion{Kind: "no-failed-requests"}, good, true,
			[]string{"none of 2000 requests failed"}},
		{"no failed requests fails", rundir.Assertion{Kind: "no-failed-requests", Source: "canary.yaml:20:5"},
			canary{counts: good.counts, failures: []string{"reset", "reset", "eof"}, latency: good.latency}, false,
			[]string{"3 of 2003 requests failed", `step 1 "canary"`, "reset 2, eof 1"}},
		{"max error rate holds", rundir.Assertion{Kind: "max-error-rate", Value: 0.01},
			canary{counts: good.counts, failures: []string{"timeout"}, latency: good.latency}, true,
			[]string{"error rate 0.05% (1 of 2001 requests)", "within 1%"}},
		{"max error rate fails", rundir.Assertion{Kind: "max-error-rate", Value: 0.001},
			canary{counts: good.counts, failures: []string{"proxy-5xx", "proxy-5xx", "proxy-5xx"}, latency: good.latency}, false,
			[]string{"exceeds 0.1%", `worst step 1 "canary" at 0.2991%`}},
		{"weight within holds", rundir.Assertion{Kind: "weight-within", Value: 2}, good, true,
			[]string{"every version within 2 pp in 2 step(s)", `(worst: step 1 "canary" version v`, "off by 1.00 pp)"}},
		{"weight within fails", rundir.Assertion{Kind: "weight-within", Value: 0.5}, good, false,
			[]string{`step 1 "canary" version v1: observed 89.00% vs configured 90.00%, off by 1.00 pp, more than 0.5 pp`, "and 1 more"}},
		{"weight binomial holds", rundir.Assertion{Kind: "weight-binomial", Value: 3},
			canary{counts: map[string]int{"v1": 880, "v2": 120}, latency: good.latency}, true,
			[]string{"every version within 3σ"}},
		{"weight binomial fails", rundir.Assertion{Kind: "weight-binomial", Value: 3},
			canary{counts: map[string]int{"v1": 850, "v2": 150}, latency: good.latency}, false,
			[]string{`step 1 "canary" version v1: observed 85.00% vs configured 90.00%, off by 5.00 pp, more than 3σ = 2.85 pp (n=1000)`}},
		{"weight binomial zero weight", rundir.Assertion{Kind: "weight-binomial", Value: 3},
			canary{counts: map[string]int{"v1": 900, "v2": 99, "v3": 1}, latency: good.latency}, false,
			[]string{`step 1 "canary" version v3: weight 0 but served 1 of 1000 requests (0.10%)`}},
		{"weight binomial default z", rundir.Assertion{Kind: "weight-binomial"}, good, true,
			[]string{"within 3σ"}},
		{"latency p99 holds", rundir.Assertion{Kind: "latency-p99-below", Value: float64(20 * time.Millisecond)}, good, true,
			[]string{"p99 below 20.00 ms in 2 step(s)"}},
		{"latency p99 fails", rundir.Assertion{Kind: "latency-p99-below", Value: float64(20 * time.Millisecond)},
			canary{counts: good.counts, latency: 50 * time.Millisecond}, false,
			[]string{`step 1 "canary": p99 50.`, "ms is not below 20.00 ms (n=1000)"}},
		{"unknown kind", rundir.Assertion{Kind: "weights-perfect"}, good, false,
			[]string{`unknown assertion kind "weights-perfect"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := analyzeCanary(tc.canary, tc.assertion)
			a := r.Assertions[0]
			if a.Passed != tc.passed {
				t.Errorf("passed = %v, want %v: %s", a.Passed, tc.passed, a.Message)
			}
			if !contains(a.Message, tc.message...) {
				t.Errorf("message %q, want it to hold %q", a.Message, tc.message)
			}
			if a.Kind != tc.assertion.Kind || a.Source != tc.assertion.Source || a.Value != tc.assertion.Value {
				t.Errorf("result %+v does not carry the assertion %+v", a, tc.assertion)
			}
			if !a.Passed && len(a.Failures) == 0 && a.Kind != "weights-perfect" {
				t.Errorf("failed without failure lines")
			}
			wantVerdict := reports.VerdictPass
			if !tc.passed {
				wantVerdict = reports.VerdictFail
			}
			if r.Passed() != tc.passed || r.Verdict != wantVerdict || a.Verdict != wantVerdict {
				t.Errorf("Passed()=%v verdict %q (assertion %q), want %v and %q", r.Passed(), r.Verdict, a.Verdict, tc.passed, wantVerdict)
			}
		})
	}
}

// TestWeightWithinCaveat: a weight-within bound under 3σ of a step's
// sampling noise is named in the result and in every report, with the
// chance that a correct split misses it and the requests that would make
// it 3σ; a bound of 3σ or more carries no caveat.
func TestWeightWithinCaveat(t *testing.T) {
	tests := []struct {
		name    string
		limit   float64
		passed  bool
		caveat  []string // substrings; nil: no caveat
		failure string   // a substring of the first failure, when it fails
	}{
		// Step 1 serves v1 890 and v2 110 of 1,000 at weights 90/10:
		// σ = 0.95 pp.
		{"3σ or more", 3, true, nil, ""},
		{"2 pp is 2.1σ", 2, true, []string{
			"2 pp is only 2.1σ of the sampling noise in step 1 \"canary\" version v", "(n=1000, σ = 0.95 pp at weight",
			"a correct split misses it there in about 4% of runs, and in one step or another in about 4%;", "2025 requests in that step would make it 3σ, or assert weight-binomial"}, ""},
		{"0.5 pp fails by chance", 0.5, false, []string{"0.5 pp is only 0.5σ", "about 60% of runs", "32400 requests"},
			"off by 1.00 pp, more than 0.5 pp (only 0.5σ at n=1000)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := analyzeCanary(canary{counts: map[string]int{"v1": 890, "v2": 110}}, rundir.Assertion{Kind: "weight-within", Value: tt.limit})
			a := r.Assertions[0]
			if a.Passed != tt.passed {
				t.Errorf("passed = %v, want %v: %s", a.Passed, tt.passed, a.Message)
			}
			if tt.caveat == nil {
				if a.Caveat != "" {
					t.Errorf("caveat %q, want none", a.Caveat)
				}
				return
			}
			if !contains(a.Caveat, tt.caveat...) {
				t.Errorf("caveat %q, want it to hold %q", a.Caveat, tt.caveat)
			}
			if tt.failure != "" && (len(a.Failures) == 0 || !contains(a.Failures[0], tt.failure)) {
				t.Errorf("failures %q, want the first to hold %q", a.Failures, tt.failure)
			}
			dir := t.TempDir()
			if err := reports.WriteFiles(dir, r); err != nil {
				t.Fatal(err)
			}
			var summary strings.Builder
			reports.WriteSummary(&summary, r)
			outs := map[string]string{"summary": summary.String()}
			for _, f := range []string{reports.MarkdownFile, reports.HTMLFile, reports.JSONFile, reports.JUnitFile} {
				b, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				outs[f] = string(b)
			}
			if tt.passed {
				delete(outs, reports.JUnitFile) // a passing test case has no text
			}
			for name, out := range outs {
				if !strings.Contains(out, strconv.FormatFloat(tt.limit, 'g', -1, 64)+" pp is only") {
					t.Errorf("%s does not show the caveat:\n%s", name, out)
				}
			}
		})
	}
}
