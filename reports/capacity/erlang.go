package capacity

import (
	"math"
	"time"
)

// MMC is an M/M/c queue: Poisson arrivals at Rate per second to Servers
// servers, each serving one request at a time in an exponential time of
// mean ServiceTime. It is the textbook model of a pool of tasks whose
// requests queue for a free slot (each task has a few slots: its
// concurrency).
type MMC struct {
	Rate        float64
	Servers     int
	ServiceTime time.Duration
}

// Utilization is ρ = λ/(cμ); the queue is stable only below 1.
func (q MMC) Utilization() float64 {
	return q.Rate * q.ServiceTime.Seconds() / float64(q.Servers)
}

// ErlangC is the probability that a request waits for a server (Erlang's
// C formula), computed from Erlang B by the stable recursion
// B₀ = 1, Bₖ = a·Bₖ₋₁/(k + a·Bₖ₋₁), C = B/(1 − ρ(1 − B)) with a = λ/μ.
// It is 1 for an unstable queue.
func (q MMC) ErlangC() float64 {
	rho := q.Utilization()
	if q.Servers <= 0 || rho >= 1 {
		return 1
	}
	a := q.Rate * q.ServiceTime.Seconds()
	b := 1.0
	for k := 1; k <= q.Servers; k++ {
		b = a * b / (float64(k) + a*b)
	}
	return b / (1 - rho*(1-b))
}

// MeanWait is the mean time a request waits for a server, C/(cμ − λ).
func (q MMC) MeanWait() time.Duration {
	if q.Utilization() >= 1 {
		return time.Duration(math.MaxInt64)
	}
	mu := 1 / q.ServiceTime.Seconds()
	return seconds(q.ErlangC() / (float64(q.Servers)*mu - q.Rate))
}

// ResponseQuantile is the p-quantile (0 < p < 1) of the response time
// (wait plus service) of a FIFO M/M/c queue. The wait is 0 with
// probability 1−C and exponential of rate θ = cμ−λ otherwise, the service
// exponential of rate μ, so
//
//	P(T > t) = (1−C)e^{−μt} + C·(θe^{−μt} − μe^{−θt})/(θ − μ)
//
// (C(1+μt)e^{−μt} for the second term when θ = μ), solved for t by
// bisection. An unstable queue has no quantile: +Inf.
func (q MMC) ResponseQuantile(p float64) time.Duration {
	if q.Utilization() >= 1 || q.ServiceTime <= 0 {
		return time.Duration(math.MaxInt64)
	}
	mu := 1 / q.ServiceTime.Seconds()
	theta := float64(q.Servers)*mu - q.Rate
	c := q.ErlangC()
	tail := func(t float64) float64 {
		var both float64
		if math.Abs(theta-mu) < 1e-9*mu {
			both = (1 + mu*t) * math.Exp(-mu*t)
		} else {
			both = (theta*math.Exp(-mu*t) - mu*math.Exp(-theta*t)) / (theta - mu)
		}
		return (1-c)*math.Exp(-mu*t) + c*both
	}
	lo, hi := 0.0, 1/mu
	for tail(hi) > 1-p {
		hi *= 2
	}
	for range 100 {
		mid := (lo + hi) / 2
		if tail(mid) > 1-p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return seconds(hi)
}

// ServersFor returns the fewest servers with which an M/M/c queue at rate
// with this service time keeps the p-quantile of its response time within
// objective, or 0 when none does within limit servers (the objective is
// below what the service time alone allows).
func ServersFor(rate float64, service time.Duration, p float64, objective time.Duration, limit int) int {
	start := max(1, int(math.Floor(rate*service.Seconds()))+1)
	for c := start; c <= limit; c++ {
		if (MMC{Rate: rate, Servers: c, ServiceTime: service}).ResponseQuantile(p) <= objective {
			return c
		}
	}
	return 0
}

func seconds(s float64) time.Duration {
	if s >= math.MaxInt64/float64(time.Second) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(s * float64(time.Second))
}
