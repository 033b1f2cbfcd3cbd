package reports

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
)

// ConvergedObserved: the step's weights reached the clients through DNS
// (routing route53), and the basis is the split the tasks observed: the
// middle of the first window of requests whose split had come 90% of the
// way from the previous step's weights to this one's (see
// observedConvergence).
const ConvergedObserved = "observed-share"

// DNSReport is how a DNS-weighted rollout reached its clients: the record's
// TTL, the clients, and each weight change's lag against the TTL.
type DNSReport struct {
	Record string `json:"record"`
	// TTL is the records' TTL (AWS time); TTLWall the same at the run's time
	// scale.
	TTL     time.Duration `json:"ttlNs"`
	TTLWall time.Duration `json:"ttlWallNs"`
	Clients int           `json:"clients"`
	Cache   string        `json:"cache"`
	// KeepAlive and ConnectionLifetime (AWS time) say how long a client
	// kept sending to the address it connected to.
	KeepAlive          bool          `json:"keepAlive"`
	ConnectionLifetime time.Duration `json:"connectionLifetimeNs,omitempty"`
	// Lags are the weight changes after the first step, in order.
	Lags []DNSLag `json:"lags"`
}

// DNSLag is how long one weight change took to show in the observed split.
type DNSLag struct {
	Step int    `json:"step"`
	Name string `json:"name"`
	// Converged is false when the observed split never came within
	// tolerance of the weights before the step ended.
	Converged bool `json:"converged"`
	// After is the lag in wall time, AfterAWS the same in AWS time (at the
	// time scale), and TTLs AfterAWS in TTLs.
	After    time.Duration `json:"afterNs"`
	AfterAWS time.Duration `json:"afterAwsNs"`
	TTLs     float64       `json:"ttls"`
}

// convergenceWindow is how many consecutive requests that reached a
// version one window of the observed split holds, at most.
const convergenceWindow = 200

// dnsChange is what a step's split under DNS-weighted routing is read
// against: the weights it moved from (nil for the first step) and the
// client population that drew its answers.
type dnsChange struct {
	from map[string]float64
	// clients is the population's size and hold how long (wall time) one
	// client keeps sending to the answer it resolved (see answerHold).
	clients int
	hold    time.Duration
}

// forever is answerHold's "for the client's life".
const forever = time.Duration(math.MaxInt64)

// answerHold is how long (wall time, at the time scale) one client of d
// keeps sending to the version of one answer: 0 when every request
// resolves anew, forever when a client never resolves again. A client
// with a kept-alive connection resolves again only when it reconnects,
// so it holds an answer for the longer of the cache's TTL and the
// connection's lifetime.
func answerHold(d *rundir.DNS, scale float64) time.Duration {
	scale = math.Max(scale, 1)
	lifetime := time.Duration(float64(d.ConnectionLifetime) / scale)
	if d.KeepAlive && lifetime == 0 {
		lifetime = forever // until the server closes it
	}
	switch {
	case d.Cache == "forever":
		return forever
	case d.Cache == "none" && !d.KeepAlive:
		return 0
	case d.Cache == "none":
		return lifetime
	case d.KeepAlive:
		return max(time.Duration(float64(d.TTL)/scale), lifetime)
	default:
		return time.Duration(float64(d.TTL) / scale)
	}
}

// sampleSize is the effective sample size of a window of k requests
// spanning span: the requests are a draw over the answers the clients
// hold, not over the requests. Each of the clients holds one answer for
// hold, so the window holds m = clients × max(1, span/hold) answers, each
// sent about k/m requests (a Poisson number: a client sends at its own
// irregular pace), and the binomial variance of its split is that of
// k·m/(k+m) independent requests (Kish's design effect for clusters of
// random size): about m when each answer sends many requests, about k when
// few answers send more than one.
func (c dnsChange) sampleSize(k int, span time.Duration) float64 {
	if c.clients <= 0 || c.hold <= 0 {
		return float64(k)
	}
	m := float64(c.clients)
	if c.hold != forever && span > c.hold {
		m *= float64(span) / float64(c.hold)
	}
	return float64(k) * m / (float64(k) + m)
}

// observedConvergence finds when a weight change showed in the split the
// tasks served: the middle of the first window (of up to 200 consecutive
// requests that reached a version, in scheduled order) whose split is
// within max(10% of the change, 2σ) of the new weights, the change and the
// distance being total variation distances (half the sum of the absolute
// differences of the shares) and σ the binomial standard error of the
// window's requests. When no window is, σ is that of the window's
// effective sample (dnsChange.sampleSize: a client sends to its cached
// answer for a while, so 200 requests of 100 clients weigh about as much
// as 67 independent ones, and a step's split can stay off its weights by
// more than the requests' error). It is the time 90% of the change
// took to show, as a rise time is measured: clients whose cached answer or
// connection outlives it still count for the shares after it. When the
// step's first window is within, the change showed from the step's start;
// otherwise the time is known to about half a window. With no such window
// the change never showed within the step.
func observedConvergence(dns dnsChange, weights map[string]float64, start time.Time, obs []*rundir.Observation) Convergence {
	shares, weighted := normalise(weights)
	before, wasWeighted := normalise(dns.from)
	if !weighted || !wasWeighted {
		return Convergence{Basis: ConvergedAtStart, At: start}
	}
	change := distance(before, shares)
	if change < 0.01 {
		return Convergence{Basis: ConvergedAtStart, At: start}
	}
	var seen []*rundir.Observation
	for _, o := range obs {
		if o.Version != "" && o.ErrorKind != canceledKind {
			seen = append(seen, o)
		}
	}
	sort.SliceStable(seen, func(i, j int) bool { return seen[i].Scheduled.Before(seen[j].Scheduled) })
	k := min(convergenceWindow, len(seen)/4)
	if k < 20 {
		return Convergence{Basis: NotConverged}
	}
	// The requests' own error first, so that the lag is that of 90% of
	// the change wherever the window can show it; then the error of the
	// window's effective sample, so that a split the clients' few answers
	// keep off the weights is not read as a change that never showed.
	span := seen[len(seen)-1].Scheduled.Sub(seen[0].Scheduled) * time.Duration(k) / time.Duration(len(seen))
	for _, n := range []float64{float64(k), dns.sampleSize(k, span)} {
		tol := 0.1 * change
		for _, p := range shares {
			tol = math.Max(tol, 2*math.Sqrt(p*(1-p)/n))
		}
		if c, ok := firstWithin(seen, k, shares, tol, start); ok {
			return c
		}
	}
	return Convergence{Basis: NotConverged}
}

// firstWithin finds the first window of k consecutive requests of seen
// whose split is within tol of shares (see observedConvergence).
func firstWithin(seen []*rundir.Observation, k int, shares map[string]float64, tol float64, start time.Time) (Convergence, bool) {
	counts := map[string]int{}
	for i, o := range seen {
		counts[o.Version]++
		if i >= k {
			counts[seen[i-k].Version]--
		}
		if i < k-1 {
			continue
		}
		window := make(map[string]float64, len(counts))
		for v, n := range counts {
			window[v] = float64(n) / float64(k)
		}
		if distance(window, shares) <= tol {
			c := Convergence{Basis: ConvergedObserved, At: seen[i-k/2].Scheduled}
			if i == k-1 || c.At.Before(start) { // the step's first window: from its start
				c.At = start
			}
			c.After = c.At.Sub(start)
			return c, true
		}
	}
	return Convergence{}, false
}

// distance is the total variation distance of two splits: half the sum
// of the absolute differences of their shares.
func distance(a, b map[string]float64) float64 {
	var d float64
	for v, p := range a {
		d += math.Abs(p - b[v])
	}
	for v, p := range b {
		if _, ok := a[v]; !ok {
			d += p
		}
	}
	return d / 2
}

// analyzeDNS sums up the lag of each weight change after the first step
// against the TTL; nil for a run that did not route by DNS.
func analyzeDNS(meta rundir.Meta, steps []StepReport) *DNSReport {
	d := meta.DNS
	if d == nil {
		return nil
	}
	scale := math.Max(meta.TimeScale, 1)
	r := &DNSReport{Record: d.Record, TTL: d.TTL, TTLWall: time.Duration(float64(d.TTL) / scale), Clients: d.Clients, Cache: d.Cache,
		KeepAlive: d.KeepAlive, ConnectionLifetime: d.ConnectionLifetime, Lags: []DNSLag{}}
	for i, s := range steps {
		if i == 0 || !s.Reached || !s.Weighted {
			continue // the first step's records were in place before the load
		}
		l := DNSLag{Step: s.Index, Name: s.Name, Converged: s.Convergence.Basis == ConvergedObserved}
		if l.Converged {
			l.After = s.Convergence.After
			l.AfterAWS = time.Duration(float64(l.After) * scale)
			if d.TTL > 0 {
				l.TTLs = float64(l.AfterAWS) / float64(d.TTL)
			}
		}
		r.Lags = append(r.Lags, l)
	}
	return r
}

// dnsLines renders the DNS lags for the terminal and Markdown.
func dnsLines(r *Report) []string {
	d := r.DNS
	if d == nil {
		return nil
	}
	conn := "no keep-alive"
	switch {
	case d.KeepAlive && d.ConnectionLifetime > 0:
		conn = fmt.Sprintf("keep-alive for %s", d.ConnectionLifetime)
	case d.KeepAlive:
		conn = "keep-alive until the server closes"
	}
	lines := []string{fmt.Sprintf("DNS: %d clients resolve %s (TTL %s, %s wall; cache %s; %s)",
		d.Clients, d.Record, d.TTL, d.TTLWall.Round(time.Millisecond), d.Cache, conn)}
	for _, l := range d.Lags {
		if !l.Converged {
			lines = append(lines, fmt.Sprintf("  step %d %q: the weight change never showed in the observed split within the step (TTL %s)", l.Step+1, l.Name, d.TTL))
			continue
		}
		lines = append(lines, fmt.Sprintf("  step %d %q: 90%% of the weight change showed in the observed split %s after it (%s AWS time, %.2f× the TTL)",
			l.Step+1, l.Name, l.After.Round(time.Millisecond), l.AfterAWS.Round(100*time.Millisecond), l.TTLs))
	}
	return lines
}
