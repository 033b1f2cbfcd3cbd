package capacity

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// syntheticSweep is a sweep of a service whose task count scales by truth
// (the saturation throughput of n tasks is truth.Throughput(n)), whose
// latency below its knee follows M/M/c with slots per task, and which
// breaks the objective exactly past its knee.
func syntheticSweep(truth USL, slots int, service time.Duration, counts []int, target float64) Sweep {
	s := Sweep{
		Service: "movie", Objective: Objective{Quantile: 0.99, Latency: 200 * time.Millisecond, ErrorBudget: 0.001},
		TargetRate: target, MinimumHealthyPercent: 50, MaximumPercent: 200, Host: Host{CPUs: 2},
		Limits: Limits{MaxLag: 500 * time.Millisecond, MinAchieved: 0.9, MaxCPUWait: 100 * time.Millisecond},
	}
	for _, n := range counts {
		knee := truth.Throughput(float64(n))
		for _, f := range []float64{0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 1.1, 1.4} {
			r := f * knee
			p := Point{Tasks: n, Offered: r, Duration: 3 * time.Second, Requests: int(3 * r), Sent: r, Throughput: min(r, knee)}
			q := MMC{Rate: r, Servers: slots * n, ServiceTime: service}
			p.ServiceTime.Mean = service
			if r < knee {
				p.Objective = min(q.ResponseQuantile(0.99), 150*time.Millisecond)
			} else {
				p.Objective = time.Second
			}
			p.Latency.Mean = service
			p.Concurrency = p.Throughput * service.Seconds()
			Judge(&p, s.Objective, s.Limits)
			s.Points = append(s.Points, p)
		}
	}
	return s
}

func TestAnalyzeSynthetic(t *testing.T) {
	truth := USL{Sigma: 0.05, Kappa: 0.002, Lambda: 200}
	s := syntheticSweep(truth, 4, 20*time.Millisecond, []int{1, 2, 4, 8}, 1000)
	r := Analyze(s)
	if len(r.Counts) != 4 {
		t.Fatalf("%d task counts, want 4", len(r.Counts))
	}
	for _, c := range r.Counts {
		want := truth.Throughput(float64(c.Tasks))
		if !c.Knee.Found || math.Abs(c.Knee.Throughput-want)/want > 0.05 {
			t.Errorf("%d tasks: knee %+v, want %.0f ± 5%%", c.Tasks, c.Knee, want)
		}
		// The last point that met the objective was offered at 0.95 × knee.
		if math.Abs(c.Capacity-0.95*want)/want > 0.01 || math.Abs(c.Next-1.1*want)/want > 0.01 {
			t.Errorf("%d tasks: capacity %.0f (next %.0f), want %.0f (%.0f)", c.Tasks, c.Capacity, c.Next, 0.95*want, 1.1*want)
		}
	}
	if r.ByTasks == nil {
		t.Fatalf("no USL fit by tasks: %s", r.ByTasksErr)
	}
	// Capacities are 0.95 × the truth: σ and κ are scale-free.
	if math.Abs(r.ByTasks.Sigma-truth.Sigma) > 0.01 || math.Abs(r.ByTasks.Kappa-truth.Kappa) > 0.001 || math.Abs(r.ByTasks.Lambda-0.95*truth.Lambda) > 2 {
		t.Errorf("USL by tasks %+v, want σ %.3f κ %.4f λ %.0f", r.ByTasks.USL, truth.Sigma, truth.Kappa, 0.95*truth.Lambda)
	}
	if math.Abs(r.SlotsPerTask-4) > 0.2 {
		t.Errorf("slots per task %.2f, want 4 (knee 200/s × 20ms)", r.SlotsPerTask)
	}
	rec := r.Recommendation
	if rec == nil || rec.Unreachable != "" || len(rec.Rows) < 4 {
		t.Fatalf("recommendation %+v", rec)
	}
	// The fewest n with 0.95 × X(n) ≥ 1000.
	want := 0
	for n := 1; n < 100; n++ {
		if 0.95*truth.Throughput(float64(n)) >= 1000 {
			want = n
			break
		}
	}
	steady := rec.Rows[0]
	if steady.Tasks != want || steady.Low > want || steady.High < want {
		t.Errorf("steady state %+v, want %d tasks", steady, want)
	}
	roll := rec.Rows[1]
	if roll.Tasks != 2*want-1 { // minimumHealthyPercent 50 keeps ⌈half⌉ in service
		t.Errorf("rollout row %+v, want %d tasks", roll, 2*want-1)
	}
	if rec.Rows[2].Tasks != want+1 || rec.Rows[3].Tasks != want+2 {
		t.Errorf("N+1 / N+2 rows %+v %+v", rec.Rows[2], rec.Rows[3])
	}
}

func TestAnalyzeLeavesSaturatedOut(t *testing.T) {
	s := syntheticSweep(USL{Lambda: 200}, 4, 20*time.Millisecond, []int{1}, 0)
	// The generator fell behind in the last point: it must not count.
	last := &s.Points[len(s.Points)-1]
	last.LagP99 = 2 * time.Second
	last.Throughput = 50
	Judge(last, s.Objective, s.Limits)
	if last.Saturated == "" {
		t.Fatal("a point 2s behind schedule is not marked saturated")
	}
	r := Analyze(s)
	c := r.Counts[0]
	if c.Saturated != 1 || math.Abs(c.Knee.Throughput-200) > 10 {
		t.Errorf("count %+v: want 1 saturated point and the knee at 200 from the others", c)
	}
	if r.Instrument.Saturated != 1 {
		t.Errorf("instrument %+v", r.Instrument)
	}
}

func TestRolloutTasks(t *testing.T) {
	tests := []struct{ need, minHealthy, want int }{
		{4, 100, 4}, {4, 50, 7}, {3, 50, 5}, {5, 75, 6}, {1, 0, 0}, {2, 200, 2},
	}
	for _, tc := range tests {
		if got := rolloutTasks(tc.need, tc.minHealthy); got != tc.want {
			t.Errorf("rolloutTasks(%d, %d%%) = %d, want %d", tc.need, tc.minHealthy, got, tc.want)
		}
	}
}

func TestWriteFiles(t *testing.T) {
	s := syntheticSweep(USL{Sigma: 0.05, Kappa: 0.002, Lambda: 200}, 4, 20*time.Millisecond, []int{1, 2, 4, 8}, 1000)
	s.Points[3].Saturated = "the load generator fell 1s behind schedule"
	dir := t.TempDir()
	r := Analyze(s)
	if err := WriteFiles(dir, r); err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(html), "<svg"); n != 4 {
		t.Errorf("capacity.html has %d charts, want 4", n)
	}
	md, err := os.ReadFile(filepath.Join(dir, MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Recommendation", "rolling deployment (minimumHealthyPercent 50, maximumPercent 200)", "N+1", "M/M/c estimate", "USL fitted", "What this machine can and cannot say", "saturated: the load generator"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("capacity.md lacks %q", want)
		}
	}
	var back Report
	data, err := os.ReadFile(filepath.Join(dir, JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Recommendation == nil || back.Recommendation.Rows[0].Tasks != r.Recommendation.Rows[0].Tasks || len(back.Sweep.Points) != len(s.Points) {
		t.Errorf("capacity.json does not carry the recommendation and points back")
	}
}

// TestRecommendationAtMost: a count whose ramp never broke the objective
// has only a lower bound on its capacity, so the tasks are upper bounds.
func TestRecommendationAtMost(t *testing.T) {
	s := syntheticSweep(USL{Lambda: 200}, 4, 20*time.Millisecond, []int{1}, 1000)
	var kept []Point
	for _, p := range s.Points {
		if p.Broken == "" {
			kept = append(kept, p)
		}
	}
	s.Points = kept
	r := Analyze(s)
	rec := r.Recommendation
	if rec == nil || rec.AtMost == "" || len(rec.Rows) == 0 {
		t.Fatalf("recommendation %+v: want an upper bound", rec)
	}
	var md strings.Builder
	WriteMarkdown(&md, r)
	if !strings.Contains(md.String(), "at most") || !strings.Contains(md.String(), "| ≤ ") {
		t.Errorf("capacity.md does not say the task counts are upper bounds:\n%s", md.String())
	}
}

// TestCensoredCountLeftOut: a task count whose ramp ended before any rate
// broke the objective only bounds its capacity from below; it is left out
// of the model while other counts were bracketed.
func TestCensoredCountLeftOut(t *testing.T) {
	s := syntheticSweep(USL{Lambda: 200}, 4, 20*time.Millisecond, []int{1, 2, 4}, 1000)
	var kept []Point
	for _, p := range s.Points {
		if p.Tasks == 4 && p.Offered > 0.3*800 { // meshsim stopped the 4-task ramp early
			continue
		}
		kept = append(kept, p)
	}
	s.Points = kept
	r := Analyze(s)
	rec := r.Recommendation
	if rec == nil || rec.AtMost != "" || !strings.Contains(rec.Basis, "left out: 4 task(s)") {
		t.Fatalf("recommendation %+v: want the 4-task count left out, not an upper bound", rec)
	}
	// Linear from 1 and 2 tasks at 0.95 × 200 per task: ⌈1000/190⌉ = 6.
	if rec.Rows[0].Tasks != 6 {
		t.Errorf("steady state %+v, want 6 tasks", rec.Rows[0])
	}
}
