package sampleapp

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meshsim/meshsim/sim/contract"
)

// The latency distributions of Config.LatencyDist; Config.Latency is their
// mean.
const (
	// LatencyFixed adds exactly Latency to every request (the default).
	LatencyFixed = "fixed"
	// LatencyExponential draws each request's latency from an exponential
	// distribution of mean Latency (a memoryless service, as M/M/c
	// assumes).
	LatencyExponential = "exponential"
	// LatencyUniform draws it uniformly from [0, 2·Latency].
	LatencyUniform = "uniform"
	// LatencyLognormal draws it from a log-normal distribution of mean
	// Latency and shape σ = 0.5 (a long right tail, as real services have).
	LatencyLognormal = "lognormal"
)

// LatencyDists lists the latency distributions Config.LatencyDist accepts.
var LatencyDists = []string{LatencyFixed, LatencyExponential, LatencyUniform, LatencyLognormal}

// lognormalSigma is the shape of LatencyLognormal.
const lognormalSigma = 0.5

// maxConcurrency bounds Config.Concurrency.
const maxConcurrency = 100000

// Cost is what serving one request costs a task: a slot among
// Config.Concurrency (held for the whole request), Config.CPU of CPU work,
// and a latency drawn from Config.LatencyDist of mean Config.Latency. The
// gRPC sample (sim/grpcapp) charges its calls the same way. It is safe for
// concurrent use.
type Cost struct {
	slots   chan struct{} // nil: no limit
	cpu     time.Duration
	latency time.Duration
	dist    string
}

// NewCost returns the cost of cfg's requests (its Latency, LatencyDist,
// CPU and Concurrency).
func NewCost(cfg Config) *Cost {
	c := &Cost{cpu: cfg.CPU, latency: cfg.Latency, dist: cfg.LatencyDist}
	if cfg.Concurrency > 0 {
		c.slots = make(chan struct{}, cfg.Concurrency)
	}
	return c
}

// Acquire waits for a free slot; it returns false when ctx ends first. Each
// true Acquire must be followed by Release.
func (c *Cost) Acquire(ctx context.Context) bool {
	if c.slots == nil {
		return true
	}
	select {
	case c.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// Release frees the slot Acquire took.
func (c *Cost) Release() {
	if c.slots != nil {
		<-c.slots
	}
}

// Spend does the request's CPU work and waits its latency; it returns false
// when ctx ends first (the caller is gone).
func (c *Cost) Spend(ctx context.Context) bool {
	if c.cpu > 0 {
		_ = burn(c.cpu)
	}
	d := c.draw(rand.Float64)
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// draw returns one request's latency; u draws uniform numbers in [0, 1).
func (c *Cost) draw(u func() float64) time.Duration {
	mean := float64(c.latency)
	switch c.dist {
	case LatencyExponential:
		return time.Duration(-mean * math.Log(1-u()))
	case LatencyUniform:
		return time.Duration(2 * mean * u())
	case LatencyLognormal:
		// mean = exp(μ + σ²/2); a standard normal by Box–Muller.
		mu := math.Log(mean) - lognormalSigma*lognormalSigma/2
		z := math.Sqrt(-2*math.Log(1-u())) * math.Cos(2*math.Pi*u())
		return time.Duration(math.Exp(mu + lognormalSigma*z))
	default:
		return c.latency
	}
}

// burn keeps one CPU busy for about d of CPU time: it hashes a block as
// many times as the machine hashes it in d when nothing else runs (measured
// once per process), so that a busy machine stretches the wall time the
// work takes, as it would a real service's, instead of shortening the work.
// It returns a byte of the last hash, so that the work has a result.
func burn(d time.Duration) byte {
	n := int(math.Ceil(d.Seconds() * hashRate()))
	var sum [32]byte
	for range n {
		sum = sha256.Sum256(sum[:])
	}
	return sum[0]
}

// hashRate is how many sha256 blocks per second of CPU one core hashes:
// the best of a few short trials, so that a momentarily busy machine
// lowers it little. Measured once per process and never changed.
var hashRate = sync.OnceValue(func() float64 {
	best := 0.0
	var sum [32]byte
	for range 5 {
		const n = 20000
		start := time.Now()
		for range n {
			sum = sha256.Sum256(sum[:])
		}
		if r := n / time.Since(start).Seconds(); r > best {
			best = r
		}
	}
	_ = sum
	return best
})

// costFromEnv reads the cost knobs: MESHSIM_LATENCY (a duration, the
// mean), MESHSIM_CPU (a duration of CPU work),
// MESHSIM_LATENCY_DIST (one of LatencyDists) and MESHSIM_CONCURRENCY (the
// requests served at once; more wait their turn).
func costFromEnv(env map[string]string, cfg *Config) error {
	var err error
	if cfg.Latency, err = durationEnv(env, contract.EnvLatency); err != nil {
		return err
	}
	if cfg.CPU, err = durationEnv(env, contract.EnvCPU); err != nil {
		return err
	}
	if s := strings.TrimSpace(env[contract.EnvLatencyDist]); s != "" {
		if !validDist(s) {
			return fmt.Errorf("sampleapp: %s=%q: must be one of %s", contract.EnvLatencyDist, s, strings.Join(LatencyDists, ", "))
		}
		cfg.LatencyDist = s
	}
	if s := strings.TrimSpace(env[contract.EnvConcurrency]); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > maxConcurrency {
			return fmt.Errorf("sampleapp: %s=%q: not a number of requests between 0 (no limit) and %d", contract.EnvConcurrency, s, maxConcurrency)
		}
		cfg.Concurrency = n
	}
	return nil
}

func validDist(s string) bool {
	for _, d := range LatencyDists {
		if s == d {
			return true
		}
	}
	return false
}

// validateCost checks the cost knobs of a Config given to Start.
func (c Config) validateCost() error {
	switch {
	case c.CPU < 0:
		return fmt.Errorf("sampleapp: Config.CPU %v is negative", c.CPU)
	case c.LatencyDist != "" && !validDist(c.LatencyDist):
		return fmt.Errorf("sampleapp: Config.LatencyDist %q: want one of %s", c.LatencyDist, strings.Join(LatencyDists, ", "))
	case c.Concurrency < 0 || c.Concurrency > maxConcurrency:
		return fmt.Errorf("sampleapp: Config.Concurrency %d: want 0 (no limit) to %d", c.Concurrency, maxConcurrency)
	}
	return nil
}
