package capacity

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

// TestErlangC checks the recursion against the M/M/1 case (C = ρ) and
// against Erlang C's textbook closed form (a = 10 Erlangs on 12 servers
// gives C ≈ 0.4494, the value Erlang C tables list).
func TestErlangC(t *testing.T) {
	tests := []struct {
		name string
		q    MMC
		want float64
	}{
		{"M/M/1 is rho", MMC{Rate: 40, Servers: 1, ServiceTime: 20 * time.Millisecond}, 0.8},
		{"10 Erlangs on 12 servers", MMC{Rate: 100, Servers: 12, ServiceTime: 100 * time.Millisecond}, erlangCClosed(10, 12)},
		{"2 Erlangs on 4 servers", MMC{Rate: 100, Servers: 4, ServiceTime: 20 * time.Millisecond}, erlangCClosed(2, 4)},
		{"unstable", MMC{Rate: 300, Servers: 4, ServiceTime: 20 * time.Millisecond}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.q.ErlangC(); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("C = %.6f, want %.6f", got, tc.want)
			}
		})
	}
	if got := erlangCClosed(10, 12); math.Abs(got-0.4494) > 1e-3 {
		t.Errorf("closed form C(10, 12) = %.4f, want 0.4494", got)
	}
}

// erlangCClosed is the textbook closed form, for small c:
// C = (aᶜ/c!)·(c/(c−a)) / (Σ_{k<c} aᵏ/k! + (aᶜ/c!)·(c/(c−a))).
func erlangCClosed(a float64, c int) float64 {
	term, sum := 1.0, 0.0
	for k := 0; k < c; k++ {
		if k > 0 {
			term *= a / float64(k)
		}
		sum += term
	}
	last := term * a / float64(c) * float64(c) / (float64(c) - a)
	return last / (sum + last)
}

// TestResponseQuantileSimulated simulates FIFO M/M/c queues and compares
// the simulated response-time quantiles and mean wait with the model's.
func TestResponseQuantileSimulated(t *testing.T) {
	tests := []MMC{
		{Rate: 150, Servers: 4, ServiceTime: 20 * time.Millisecond},
		{Rate: 40, Servers: 1, ServiceTime: 20 * time.Millisecond},
		{Rate: 700, Servers: 16, ServiceTime: 20 * time.Millisecond},
	}
	for _, q := range tests {
		lat, waits := simulateMMC(q, 200000, rand.New(rand.NewPCG(3, 5)))
		sort.Float64s(lat)
		for _, p := range []float64{0.5, 0.9, 0.99} {
			sim := lat[int(p*float64(len(lat)))]
			model := q.ResponseQuantile(p).Seconds()
			if math.Abs(sim-model)/model > 0.05 {
				t.Errorf("%+v: p%g simulated %.4fs, model %.4fs (want within 5%%)", q, p*100, sim, model)
			}
		}
		if model := q.MeanWait().Seconds(); math.Abs(waits-model) > 0.05*model+1e-4 {
			t.Errorf("%+v: mean wait simulated %.5fs, model %.5fs", q, waits, model)
		}
	}
}

// simulateMMC runs n requests through a FIFO M/M/c queue and returns their
// response times (seconds) and the mean wait.
func simulateMMC(q MMC, n int, rng *rand.Rand) ([]float64, float64) {
	free := make([]float64, q.Servers) // when each server frees up
	var now, waitSum float64
	lat := make([]float64, n)
	for i := range n {
		now += rng.ExpFloat64() / q.Rate
		k := 0
		for j := range free {
			if free[j] < free[k] {
				k = j
			}
		}
		start := max(now, free[k])
		svc := rng.ExpFloat64() * q.ServiceTime.Seconds()
		free[k] = start + svc
		waitSum += start - now
		lat[i] = free[k] - now
	}
	return lat, waitSum / float64(n)
}

func TestServersFor(t *testing.T) {
	// At 150/s and 20ms, 3 servers are needed for stability; the p99
	// objective then asks for a few more.
	c := ServersFor(150, 20*time.Millisecond, 0.99, 100*time.Millisecond, 100)
	if c < 4 {
		t.Fatalf("ServersFor = %d, want ≥ 4", c)
	}
	q := MMC{Rate: 150, Servers: c, ServiceTime: 20 * time.Millisecond}
	if q.ResponseQuantile(0.99) > 100*time.Millisecond {
		t.Errorf("%d servers: p99 %v over the objective", c, q.ResponseQuantile(0.99))
	}
	q.Servers--
	if q.ResponseQuantile(0.99) <= 100*time.Millisecond {
		t.Errorf("%d servers would do: not the fewest", c-1)
	}
	if got := ServersFor(10, 200*time.Millisecond, 0.99, 100*time.Millisecond, 100); got != 0 {
		t.Errorf("objective below the service time: %d servers, want 0", got)
	}
}
