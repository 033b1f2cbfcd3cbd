package reports_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
)

// synthRun is a two-step canary run (100/0, then 50/50) of n requests per
// step: latencies uniform around 10 ms, v2's shifted by v2Extra, and every
// v2FailEvery-th request of v2 failing with a 500 (0: none).
func synthRun(seed uint64, n int, v2Extra time.Duration, v2FailEvery int) *rundir.Run {
	rng := rand.New(rand.NewPCG(seed, 3))
	run := &rundir.Run{Meta: rundir.Meta{
		RunID: "r", Scenario: "synth", Runtime: "inproc", Started: t0, Ended: at(2 * time.Second), MeasuredService: "movie",
		Steps: []rundir.Step{
			step(0, "baseline", 0, time.Second, map[string]float64{"v1": 100, "v2": 0}),
			step(1, "half", time.Second, 2*time.Second, map[string]float64{"v1": 50, "v2": 50}),
		},
	}}
	v2 := 0
	for s := range 2 {
		for i := range n {
			t := at(time.Duration(s)*time.Second + time.Duration(i)*time.Second/time.Duration(n))
			version := "v1"
			if s == 1 && i%2 == 1 {
				version = "v2"
			}
			lat := time.Duration(float64(10*time.Millisecond) * (0.7 + 0.6*rng.Float64()))
			o := okObs(s, t, version, lat)
			if version == "v2" {
				o.Latency += v2Extra
				v2++
				if v2FailEvery > 0 && v2%v2FailEvery == 0 {
					o.Status, o.ErrorKind, o.Error = 500, "app-5xx", "500 Internal Server Error"
				}
			}
			run.Observations = append(run.Observations, o)
		}
	}
	return run
}

func baselineOf(run *rundir.Run) *reports.Baseline {
	return reports.NewBaseline(run, reports.Analyze(run))
}

func regressed(c *reports.Comparison) []string {
	var out []string
	for _, r := range c.Rows {
		if r.Regressed && r.Gates {
			out = append(out, r.Metric)
		}
	}
	return out
}

func TestCompare(t *testing.T) {
	base := baselineOf(synthRun(1, 2000, 0, 0))
	tests := []struct {
		name    string
		nw      *rundir.Run
		verdict string
		want    []string
	}{
		{"same scenario, other draw", synthRun(2, 2000, 0, 0), reports.CompareNoRegression, nil},
		{"v2 20 ms slower", synthRun(3, 2000, 20*time.Millisecond, 0), reports.CompareRegression, []string{"latency v2"}},
		{"v2 200 µs slower: significant, under the threshold", synthRun(4, 2000, 200*time.Microsecond, 0), reports.CompareNoRegression, nil},
		{"v2 fails 5%", synthRun(5, 2000, 0, 20), reports.CompareRegression, []string{"failed requests", "errors: app-5xx", "failed requests in step half"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := reports.Compare(base, baselineOf(tc.nw), "base", "new", reports.DefaultCompareOptions())
			got := regressed(c)
			if c.Verdict != tc.verdict || strings.Join(got, ",") != strings.Join(tc.want, ",") {
				var b bytes.Buffer
				reports.WriteComparison(&b, c)
				t.Errorf("verdict %s regressed %v; want %s %v\n%s", c.Verdict, got, tc.verdict, tc.want, b.String())
			}
			for _, r := range c.Rows {
				if r.Regressed && (r.Test == "" || r.P >= 0.01) {
					t.Errorf("row %+v regressed without a significant test", r)
				}
			}
		})
	}
}

func TestCompareInconclusiveAndGate(t *testing.T) {
	base := baselineOf(synthRun(1, 1000, 0, 0))
	partial := synthRun(2, 1000, 20*time.Millisecond, 0)
	partial.Meta.Ended = time.Time{}
	c := reports.Compare(base, baselineOf(partial), "base", "new", reports.DefaultCompareOptions())
	if c.Verdict != reports.CompareInconclusive || !strings.Contains(c.Reason, "latency v2") {
		t.Errorf("partial NEW: %s (%s); want inconclusive naming the worse latency", c.Verdict, c.Reason)
	}
	o := reports.DefaultCompareOptions()
	o.Gate = []string{reports.FamilyErrors}
	c = reports.Compare(base, baselineOf(synthRun(3, 1000, 20*time.Millisecond, 0)), "base", "new", o)
	if c.Verdict != reports.CompareNoRegression {
		t.Errorf("latency not gating: %s (%s)", c.Verdict, c.Reason)
	}
	o.Gate = []string{"nonsense"}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "nonsense") {
		t.Errorf("bad gate: %v", err)
	}
}

func TestCompareDeployments(t *testing.T) {
	base := baselineOf(synthRun(1, 200, 0, 0))
	nw := baselineOf(synthRun(1, 200, 0, 0))
	base.Deployments = []reports.BaselineDeployment{{Name: "d", Outcome: "SUCCESSFUL", Duration: 10 * time.Second}}
	nw.Deployments = []reports.BaselineDeployment{{Name: "d", Outcome: "ROLLBACK_SUCCESSFUL", Duration: 20 * time.Second}}
	c := reports.Compare(base, nw, "base", "new", reports.DefaultCompareOptions())
	if got := strings.Join(regressed(c), ","); got != "deployment d outcome,deployment d duration" {
		t.Errorf("regressed %q", got)
	}
}

// TestBaselineFile: a baseline survives its file, is small, and compares
// as the run it came from; bad files are refused naming the field.
func TestBaselineFile(t *testing.T) {
	dir := t.TempDir()
	run := synthRun(1, 3000, 0, 0)
	b := baselineOf(run)
	path := filepath.Join(dir, "baseline.json")
	if err := reports.WriteBaseline(path, b); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if fi.Size() > 64<<10 {
		t.Errorf("baseline of 6000 requests is %d bytes", fi.Size())
	}
	back, err := reports.ReadBaseline(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Latency.Quantiles() != b.Latency.Quantiles() || back.Requests != b.Requests || len(back.Versions) != 2 {
		t.Errorf("read back %+v, wrote %+v", back, b)
	}
	direct := reports.Compare(b, b, "a", "b", reports.DefaultCompareOptions())
	viaFile := reports.Compare(back, b, "a", "b", reports.DefaultCompareOptions())
	if len(direct.Rows) != len(viaFile.Rows) || viaFile.Verdict != reports.CompareNoRegression {
		t.Errorf("via file: %d rows %s; direct %d rows", len(viaFile.Rows), viaFile.Verdict, len(direct.Rows))
	}
	for name, body := range map[string]string{
		`kind "report"`:     `{"kind":"report","baselineVersion":1}`,
		"baselineVersion 9": `{"kind":"meshsim-baseline","baselineVersion":9}`,
		"latency: missing":  `{"kind":"meshsim-baseline","baselineVersion":1}`,
		"invalid JSON":      `{"kind":`,
	} {
		p := filepath.Join(dir, "bad.json")
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := reports.ReadBaseline(p); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v, want it named", body, err)
		}
	}
}

// TestCanaryInReport: the report judges the 50/50 step's canary against
// the baseline version measured in it, and renders the analysis and a
// comparison in report.md, report.html and the CI summary.
func TestCanaryInReport(t *testing.T) {
	for _, tc := range []struct {
		name    string
		run     *rundir.Run
		verdict string
	}{
		{"good", synthRun(1, 1000, 0, 0), "Pass"},
		{"slow", synthRun(1, 1000, 10*time.Millisecond, 0), "Fail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := reports.Analyze(tc.run)
			if len(rep.Steps[0].Canary) != 0 || len(rep.Steps[1].Canary) != 1 {
				t.Fatalf("canary analyses per step: %d, %d; want 0, 1", len(rep.Steps[0].Canary), len(rep.Steps[1].Canary))
			}
			c := rep.Steps[1].Canary[0]
			if c.Baseline != "v1" || c.Canary != "v2" || c.Verdict != tc.verdict || c.Flagger == nil || c.Argo == nil {
				t.Errorf("analysis %+v; want v2 vs v1 %s with Flagger and Argo verdicts", c, tc.verdict)
			}
			rep.Comparison = reports.Compare(baselineOf(synthRun(9, 1000, 0, 0)), reports.NewBaseline(tc.run, rep), "main.json", "run", reports.DefaultCompareOptions())
			dir := t.TempDir()
			if err := reports.WriteFiles(dir, rep); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{reports.MarkdownFile, reports.HTMLFile} {
				data, _ := os.ReadFile(filepath.Join(dir, f))
				for _, want := range []string{"Canary analysis", "Compared with baseline", "mann-whitney-u"} {
					if !strings.Contains(string(data), want) {
						t.Errorf("%s lacks %q", f, want)
					}
				}
			}
			var sum bytes.Buffer
			if err := reports.WriteStepSummary(&sum, rep, rep.Comparison); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"## meshsim: synth", "| 1 half |", "### Compared with baseline", "▲", "Flagger"} {
				if tc.name == "good" && want == "▲" {
					continue
				}
				if !strings.Contains(sum.String(), want) {
					t.Errorf("summary lacks %q:\n%s", want, sum.String())
				}
			}
		})
	}
}
