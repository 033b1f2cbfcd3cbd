package reports

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
)

// switched returns 2000 observations 5 ms apart from start whose versions
// are drawn by the weights before (up to switchAt after start) and after.
func switched(start time.Time, before, after map[string]float64, switchAt time.Duration) []*rundir.Observation {
	rng := rand.New(rand.NewPCG(1, 2))
	draw := func(w map[string]float64) string {
		x := rng.Float64() * 100
		for _, v := range []string{"blue", "green"} {
			if x < w[v] {
				return v
			}
			x -= w[v]
		}
		return "green"
	}
	var obs []*rundir.Observation
	for i := range 2000 {
		at := time.Duration(i) * 5 * time.Millisecond
		w := before
		if at >= switchAt {
			w = after
		}
		obs = append(obs, &rundir.Observation{Kind: "http", Scheduled: start.Add(at), Status: 200, Version: draw(w)})
	}
	return obs
}

func TestObservedConvergence(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w9010 := map[string]float64{"blue": 90, "green": 10}
	w5050 := map[string]float64{"blue": 50, "green": 50}
	w0100 := map[string]float64{"blue": 0, "green": 100}
	tests := []struct {
		name          string
		prev, weights map[string]float64
		switchAt      time.Duration // when the observed split changes
		basis         string
		lo, hi        time.Duration // bounds of After
	}{
		// A window of 200 (1 s) reaches 90% of the change (within 2σ at
		// 50/50: blue ≤ 57%) when about 80% of it is past the switch: its
		// middle is about 0.3 s after it.
		{"90/10 to 50/50 after 2s", w9010, w5050, 2 * time.Second, ConvergedObserved, 2100 * time.Millisecond, 2700 * time.Millisecond},
		{"50/50 to 0/100 after 3s", w5050, w0100, 3 * time.Second, ConvergedObserved, 3200 * time.Millisecond, 3600 * time.Millisecond},
		// At once: from the start, or (when the first window's noise
		// exceeds 2σ) within about a window.
		{"at once", w9010, w5050, 0, ConvergedObserved, 0, 700 * time.Millisecond},
		{"never (clients cache forever)", w5050, w0100, time.Hour, NotConverged, 0, 0},
		{"no change", w5050, w5050, time.Hour, ConvergedAtStart, 0, 0},
		{"first step", nil, w5050, time.Hour, ConvergedAtStart, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev := tt.prev
			if prev == nil {
				prev = tt.weights
			}
			c := observedConvergence(tt.prev, tt.weights, start, switched(start, prev, tt.weights, tt.switchAt))
			if c.Basis != tt.basis || c.After < tt.lo || c.After > tt.hi {
				t.Errorf("convergence %+v, want basis %s after %s-%s", c, tt.basis, tt.lo, tt.hi)
			}
		})
	}
}

func TestAnalyzeDNS(t *testing.T) {
	meta := rundir.Meta{TimeScale: 20, DNS: &rundir.DNS{Record: "www.store.test.", TTL: time.Minute, Clients: 200, Cache: "ttl", KeepAlive: true}}
	steps := []StepReport{
		{Index: 0, Name: "90/10", Reached: true, Weighted: true, Convergence: Convergence{Basis: ConvergedAtStart}},
		{Index: 1, Name: "50/50", Reached: true, Weighted: true, Convergence: Convergence{Basis: ConvergedObserved, After: 3 * time.Second}},
		{Index: 2, Name: "0/100", Reached: true, Weighted: true, Convergence: Convergence{Basis: NotConverged}},
	}
	d := analyzeDNS(meta, steps)
	if d == nil || d.TTLWall != 3*time.Second || len(d.Lags) != 2 {
		t.Fatalf("analyzeDNS = %+v", d)
	}
	if l := d.Lags[0]; !l.Converged || l.AfterAWS != time.Minute || l.TTLs != 1 {
		t.Errorf("lag of 50/50 = %+v, want 3 s wall = 60 s AWS = 1 TTL", l)
	}
	if l := d.Lags[1]; l.Converged {
		t.Errorf("lag of 0/100 = %+v, want not converged", l)
	}
	r := &Report{DNS: d}
	lines := dnsLines(r)
	if len(lines) != 3 || lines[1] != `  step 2 "50/50": 90% of the weight change showed in the observed split 3s after it (1m0s AWS time, 1.00× the TTL)` {
		t.Errorf("dnsLines = %q", lines)
	}
	if analyzeDNS(rundir.Meta{}, steps) != nil {
		t.Error("a run without DNS routing has no DNS report")
	}
}
