package capacity

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

// TestAnalyzeSimulatedMMC feeds Analyze a sweep of a simulated M/M/4 queue
// (exponential 20ms service, Poisson arrivals) and checks that it recovers
// the queue: the knee at c/S = 200 req/s, the service time, 4 slots per
// task, and an M/M/c capacity within the objective close to the true one.
func TestAnalyzeSimulatedMMC(t *testing.T) {
	const (
		slots   = 4
		service = 20 * time.Millisecond
		window  = 20.0 // seconds simulated per point
	)
	obj := Objective{Quantile: 0.99, Latency: 200 * time.Millisecond, ErrorBudget: 0.001}
	s := Sweep{Service: "sim", Objective: obj, Host: Host{CPUs: 2}, TargetRate: 500,
		Limits: Limits{MaxLag: time.Second, MinAchieved: 0.9, MaxCPUWait: time.Second}}
	rng := rand.New(rand.NewPCG(9, 9))
	for _, rate := range []float64{20, 40, 80, 120, 150, 170, 185, 250, 300} {
		p := simulatePoint(rate, slots, service, window, obj.Quantile, rng)
		Judge(&p, obj, s.Limits)
		s.Points = append(s.Points, p)
	}
	r := Analyze(s)
	c := r.Counts[0]
	if !c.Knee.Found || math.Abs(c.Knee.Throughput-200)/200 > 0.05 {
		t.Errorf("knee %+v, want 200 req/s ± 5%%", c.Knee)
	}
	if math.Abs(r.ServiceTime.Seconds()-service.Seconds())/service.Seconds() > 0.1 {
		t.Errorf("service time %v, want %v ± 10%%", r.ServiceTime, service)
	}
	if math.Abs(r.SlotsPerTask-slots) > 0.4 {
		t.Errorf("slots per task %.2f, want %d ± 10%%", r.SlotsPerTask, slots)
	}
	// The truth: the highest rate at which M/M/4 keeps p99 within 200ms.
	truth := MMC{Servers: slots, ServiceTime: service}
	lo, hi := 0.0, float64(slots)/service.Seconds()
	for range 60 {
		truth.Rate = (lo + hi) / 2
		if truth.ResponseQuantile(0.99) <= obj.Latency {
			lo = truth.Rate
		} else {
			hi = truth.Rate
		}
	}
	if math.Abs(c.MMC-lo)/lo > 0.1 {
		t.Errorf("M/M/c capacity %.1f req/s, want %.1f ± 10%%", c.MMC, lo)
	}
	// The measured capacity within the objective brackets the truth.
	if c.Capacity > lo*1.1 || (c.Next > 0 && c.Next < lo*0.9) {
		t.Errorf("measured capacity %.1f (broken at %.1f), truth %.1f", c.Capacity, c.Next, lo)
	}
}

// simulatePoint simulates window seconds of an M/M/c queue at rate and
// returns the point a sweep would record.
func simulatePoint(rate float64, c int, service time.Duration, window, q float64, rng *rand.Rand) Point {
	n := int(rate * window)
	lat, _ := simulateMMC(MMC{Rate: rate, Servers: c, ServiceTime: service}, n, rng)
	// Completions within the window: arrivals are uniform over it, and a
	// request completes at its arrival plus its latency.
	done, sum := 0, 0.0
	for i, l := range lat {
		if float64(i)/rate+l < window {
			done++
		}
		sum += l
	}
	sorted := append([]float64(nil), lat...)
	sort.Float64s(sorted)
	at := func(p float64) time.Duration { return seconds(sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]) }
	mean := seconds(sum / float64(n))
	p := Point{Tasks: 1, Offered: rate, Duration: seconds(window), Requests: n, Sent: rate,
		Throughput: float64(done) / window, Objective: at(q),
		Latency: Quantiles{Mean: mean, P50: at(0.5), P90: at(0.9), P99: at(0.99)},
		// The generator sends on time: the service time (send to answer)
		// is the latency, queueing in the service included.
		ServiceTime: Quantiles{Mean: mean}}
	p.Concurrency = p.Throughput * mean.Seconds()
	return p
}
