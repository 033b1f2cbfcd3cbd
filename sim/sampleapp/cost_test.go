package sampleapp

import (
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

func TestCostFromEnv(t *testing.T) {
	base := map[string]string{contract.EnvService: "movie", contract.EnvVersion: "v1"}
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{"all", map[string]string{contract.EnvCPU: "2ms", contract.EnvLatencyDist: "exponential", contract.EnvConcurrency: "4"},
			Config{CPU: 2 * time.Millisecond, LatencyDist: LatencyExponential, Concurrency: 4}, ""},
		{"none", nil, Config{}, ""},
		{"bad dist", map[string]string{contract.EnvLatencyDist: "pareto"}, Config{}, `MESHSIM_LATENCY_DIST="pareto": must be one of fixed, exponential, uniform, lognormal`},
		{"bad concurrency", map[string]string{contract.EnvConcurrency: "-1"}, Config{}, `MESHSIM_CONCURRENCY="-1"`},
		{"bad cpu", map[string]string{contract.EnvCPU: "lots"}, Config{}, `MESHSIM_CPU="lots"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			cfg, err := ConfigFromEnv(env, "t1", "127.0.0.1")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.CPU != tc.want.CPU || cfg.LatencyDist != tc.want.LatencyDist || cfg.Concurrency != tc.want.Concurrency {
				t.Errorf("cost knobs %v %q %d, want %v %q %d", cfg.CPU, cfg.LatencyDist, cfg.Concurrency, tc.want.CPU, tc.want.LatencyDist, tc.want.Concurrency)
			}
		})
	}
}

// TestDraw checks each distribution's mean and spread on many draws from a
// seeded source.
func TestDraw(t *testing.T) {
	const mean = 20 * time.Millisecond
	tests := []struct {
		dist   string
		wantCV float64 // coefficient of variation: std/mean
	}{
		{LatencyFixed, 0},
		{LatencyExponential, 1},
		{LatencyUniform, 1 / math.Sqrt(3)},
		{LatencyLognormal, math.Sqrt(math.Exp(lognormalSigma*lognormalSigma) - 1)},
	}
	for _, tc := range tests {
		t.Run(tc.dist, func(t *testing.T) {
			c := NewCost(Config{Latency: mean, LatencyDist: tc.dist})
			u := rand.New(rand.NewPCG(1, 2)).Float64
			const n = 50000
			var sum, sq float64
			for range n {
				d := float64(c.draw(u))
				if d < 0 {
					t.Fatalf("negative latency %v", d)
				}
				sum += d
				sq += d * d
			}
			m := sum / n
			cv := math.Sqrt(sq/n-m*m) / m
			if math.Abs(m-float64(mean))/float64(mean) > 0.02 {
				t.Errorf("mean %v, want %v ± 2%%", time.Duration(m), mean)
			}
			if math.Abs(cv-tc.wantCV) > 0.03 {
				t.Errorf("coefficient of variation %.3f, want %.3f ± 0.03", cv, tc.wantCV)
			}
		})
	}
}

// TestConcurrencyLimit holds requests at a backend and checks that no more
// than Concurrency reach it at once, and that the waiting ones are served
// as slots free up.
func TestConcurrencyLimit(t *testing.T) {
	const limit, requests = 2, 5
	var (
		mu             sync.Mutex
		now, peak, all int
	)
	free := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		now, all = now+1, all+1
		peak = max(peak, now)
		mu.Unlock()
		select {
		case <-free:
		case <-r.Context().Done():
		}
		mu.Lock()
		now--
		mu.Unlock()
	}))
	defer backend.Close()
	s := startKnob(t, Config{Concurrency: limit, Backends: []string{backend.URL}})
	client := newClient(t)
	var results []<-chan result
	for range requests {
		results = append(results, inFlight(client, "http://"+s.Addr()+"/"))
	}
	arrived := func(n int) func() bool {
		return func() bool { mu.Lock(); defer mu.Unlock(); return all >= n }
	}
	polltest.Eventually(t, "the first requests to take the slots", arrived(limit))
	for i := limit; i < requests; i++ {
		free <- struct{}{} // one finishes; one waiting takes its slot
		polltest.Eventually(t, "a waiting request to take the freed slot", arrived(i+1))
	}
	close(free)
	for _, ch := range results {
		if r := <-ch; r.err != nil || r.status != http.StatusOK {
			t.Errorf("request: status %d, err %v", r.status, r.err)
		}
	}
	if peak != limit {
		t.Errorf("at most %d requests reached the backend at once, want %d (the limit)", peak, limit)
	}
}

func TestBurnUsesCPU(t *testing.T) {
	// One burn of 20ms of CPU takes at least a good part of 20ms of wall
	// time (more on a busy machine, never much less).
	start := time.Now()
	_ = burn(20 * time.Millisecond)
	if el := time.Since(start); el < 5*time.Millisecond {
		t.Errorf("20ms of CPU work took %v", el)
	}
}
