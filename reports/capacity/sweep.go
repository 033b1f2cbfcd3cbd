// Package capacity analyses a capacity sweep — stepped constant request
// rates offered to a service at 1, 2, 4… tasks (scenarios/capacity) — and
// renders the capacity report: throughput against offered load and latency
// quantiles against load per task count, the knee of each curve, Universal
// Scalability Law fits (gonum/optimize) against concurrency and against task
// count with their goodness of fit, an M/M/c (Erlang C) estimate calibrated
// from the measured service time, and the recommendation: tasks needed for a
// target rate within the latency objective and error budget, during a
// rolling deployment, and with one or two tasks lost, each with its
// uncertainty.
//
// Sweep is the record a sweep writes (capacity-sweep.json in its run
// directory); Analyze turns it into a Report, and WriteFiles renders that as
// capacity.json, capacity.md and capacity.html.
package capacity

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SweepFile is the name of the sweep's record in its run directory.
const SweepFile = "capacity-sweep.json"

// Sweep is what a capacity sweep measured.
type Sweep struct {
	// Scenario and Source name the scenario; Service and Version the
	// service version sized; ECSService the ECS service scaled.
	Scenario   string `json:"scenario"`
	Source     string `json:"source"`
	Service    string `json:"service"`
	Version    string `json:"version"`
	ECSService string `json:"ecsService"`
	// Runtime is where the tasks ran (inproc, docker).
	Runtime string    `json:"runtime"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	// Objective is the latency objective and error budget each point is
	// held to; TargetRate the request rate to size for (0: none given).
	Objective  Objective `json:"objective"`
	TargetRate float64   `json:"targetRate,omitempty"`
	// StepDuration is how long each rate was offered.
	StepDuration time.Duration `json:"stepDurationNs"`
	// MinimumHealthyPercent and MaximumPercent are the ECS service's
	// deployment configuration, for the headroom during a rollout.
	MinimumHealthyPercent int `json:"minimumHealthyPercent"`
	MaximumPercent        int `json:"maximumPercent"`
	// Limits are the instrument's limits a point is judged by.
	Limits Limits `json:"limits"`
	// Host is the machine the sweep ran on.
	Host Host `json:"host"`
	// Cost describes the sample service's settable cost per request, when
	// the version is meshsim's sample ("" for the user's software).
	Cost string `json:"cost,omitempty"`
	// Points are the measurements, in the order taken.
	Points []Point `json:"points"`
	// Stopped says why the sweep ended; Partial whether it was cut short
	// (interrupted, or an error).
	Stopped string `json:"stopped"`
	Partial bool   `json:"partial,omitempty"`
}

// Host describes the machine.
type Host struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
}

// Limits are how far the instrument may fall short before a point is
// marked saturated (meshsim, not the service, was the bottleneck).
type Limits struct {
	MaxLag      time.Duration `json:"maxLagNs"`
	MinAchieved float64       `json:"minAchieved"`
	MaxCPUWait  time.Duration `json:"maxCPUWaitNs"`
}

// Objective is a latency objective at a quantile, and an error budget.
type Objective struct {
	// Quantile is in (0, 1), e.g. 0.99; Latency the most it may be.
	Quantile float64       `json:"quantile"`
	Latency  time.Duration `json:"latencyNs"`
	// ErrorBudget is the largest share of failed requests, e.g. 0.001.
	ErrorBudget float64 `json:"errorBudget"`
}

// String is the objective as --slo writes it, "p99=200ms".
func (o Objective) String() string {
	q := strconv.FormatFloat(o.Quantile*100, 'f', -1, 64)
	return "p" + q + "=" + o.Latency.String()
}

// Point is one constant rate offered to one task count.
type Point struct {
	// Tasks is the task count measured; Offered the rate scheduled
	// (requests per second) for Duration.
	Tasks    int           `json:"tasks"`
	Offered  float64       `json:"offered"`
	Duration time.Duration `json:"durationNs"`
	// Requests counts the requests scheduled in the measured window (the
	// point less its warm-up), Failed those that did not succeed.
	Requests int `json:"requests"`
	Failed   int `json:"failed"`
	// Sent is the rate the generator sent at (per second); Throughput
	// the successful responses completed per second in the window.
	Sent       float64 `json:"sent"`
	Throughput float64 `json:"throughput"`
	// Latency is measured from each request's scheduled send (no
	// coordinated omission); ServiceTime from its actual send.
	Latency     Quantiles `json:"latency"`
	ServiceTime Quantiles `json:"serviceTime"`
	// Objective is the latency at the objective's quantile.
	Objective time.Duration `json:"objectiveLatencyNs"`
	// Concurrency is the mean number of requests in flight, by Little's
	// law: Throughput × mean latency.
	Concurrency float64 `json:"concurrency"`
	// The instrument during the point: the generator's lag behind its
	// schedule (p99 and max), meshsim's CPU in cores (mean), the longest
	// per-second p99 of its goroutines' wait for a CPU, the host's load
	// average (max) and CPU steal (max share).
	LagP99       time.Duration `json:"lagP99Ns"`
	LagMax       time.Duration `json:"lagMaxNs"`
	ProcessCores float64       `json:"processCores"`
	SchedWait    time.Duration `json:"schedWaitP99MaxNs"`
	Load1        float64       `json:"load1"`
	Steal        float64       `json:"steal"`
	// Saturated says why meshsim, not the service, was the bottleneck
	// (empty when it kept up); such a point is not used for the fits.
	Saturated string `json:"saturated,omitempty"`
	// Broken says which objective the point broke ("p99 312ms > 200ms",
	// "errors 2.1% > 0.1%"); empty when it met them.
	Broken string `json:"broken,omitempty"`
}

// Quantiles of a latency distribution.
type Quantiles struct {
	Mean time.Duration `json:"meanNs"`
	P50  time.Duration `json:"p50Ns"`
	P90  time.Duration `json:"p90Ns"`
	P99  time.Duration `json:"p99Ns"`
	Max  time.Duration `json:"maxNs"`
}

// ErrorRate is the share of the point's requests that failed.
func (p Point) ErrorRate() float64 {
	if p.Requests == 0 {
		return 0
	}
	return float64(p.Failed) / float64(p.Requests)
}

// OK reports whether the point met the objective and meshsim kept up.
func (p Point) OK() bool { return p.Broken == "" && p.Saturated == "" }

// overloaded is the share of the sent rate below which a point's throughput
// means the service could not keep up.
const overloaded = 0.9

// Judge fills in p.Broken and p.Saturated: which objective the point
// broke (latency, errors, or a throughput below 90% of what was sent: the
// service fell behind), and whether the instrument saturated (the generator fell behind
// its schedule or sent too little of the offered rate, or meshsim's
// goroutines waited too long for a CPU).
func Judge(p *Point, obj Objective, lim Limits) {
	var broken []string
	if p.Requests == 0 {
		broken = append(broken, "no request was measured")
	}
	if p.Objective > obj.Latency {
		broken = append(broken, fmt.Sprintf("%s %s > %s", quantileName(obj.Quantile), roundDur(p.Objective), obj.Latency))
	}
	if er := p.ErrorRate(); er > obj.ErrorBudget {
		broken = append(broken, fmt.Sprintf("errors %s > %s", pctText(er), pctText(obj.ErrorBudget)))
	}
	if w := p.Duration.Seconds(); p.Sent > 0 && p.Throughput < overloaded*p.Sent-2/max(w, 1) {
		// The queue grew through the point: over a longer one the
		// latency would grow without bound.
		broken = append(broken, fmt.Sprintf("served %.0f of %.0f req/s sent (overloaded: the queue grows)", p.Throughput, p.Sent))
	}
	p.Broken = strings.Join(broken, "; ")
	var sat []string
	if p.LagP99 > lim.MaxLag {
		sat = append(sat, fmt.Sprintf("the load generator fell %s behind schedule (p99 lag; limit %s)", roundDur(p.LagP99), lim.MaxLag))
	}
	if p.Offered > 0 && p.Sent < lim.MinAchieved*p.Offered {
		sat = append(sat, fmt.Sprintf("it sent %.0f req/s of the %.0f offered (limit %s)", p.Sent, p.Offered, pctText(lim.MinAchieved)))
	}
	if p.SchedWait > lim.MaxCPUWait {
		sat = append(sat, fmt.Sprintf("meshsim's goroutines waited up to %s for a CPU (limit %s)", roundDur(p.SchedWait), lim.MaxCPUWait))
	}
	p.Saturated = strings.Join(sat, "; ")
}

func quantileName(q float64) string {
	return "p" + strconv.FormatFloat(q*100, 'f', -1, 64)
}

func pctText(f float64) string {
	return strconv.FormatFloat(f*100, 'g', 3, 64) + "%"
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond)
	default:
		return d.Round(10 * time.Microsecond)
	}
}
