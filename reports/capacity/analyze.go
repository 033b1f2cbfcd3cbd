package capacity

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/gonum/stat"
)

// Report is the analysis of a sweep.
type Report struct {
	Sweep Sweep `json:"sweep"`
	// Counts are the task counts measured, in increasing order.
	Counts []Count `json:"counts"`
	// ByTasks is the USL fitted to the capacity within the objective
	// against the task count; ByTasksErr says why there is none.
	ByTasks    *USLFit `json:"uslByTasks,omitempty"`
	ByTasksErr string  `json:"uslByTasksError,omitempty"`
	// ServiceTime is the mean service time at the lowest load measured at
	// the fewest tasks, and SlotsPerTask the requests one task serves at
	// once, estimated by Little's law at its knee (knee × service time):
	// the M/M/c model's calibration. SlotsPerTask is 0 when no knee was
	// found at that task count.
	ServiceTime  time.Duration `json:"serviceTimeNs"`
	SlotsPerTask float64       `json:"slotsPerTask"`
	// Recommendation sizes the service for the target rate; nil without
	// one.
	Recommendation *Recommendation `json:"recommendation,omitempty"`
	// Instrument sums up what meshsim measured of itself.
	Instrument InstrumentSummary `json:"instrument"`
	// Caveats is the honest paragraph: what a measurement on this machine
	// can and cannot say.
	Caveats []string `json:"caveats"`
}

// Count is the analysis of one task count's ramp.
type Count struct {
	Tasks int `json:"tasks"`
	// Points are indexes into Sweep.Points, by increasing offered rate.
	Points []int `json:"points"`
	// Knee is the saturation throughput (from the points meshsim kept up
	// in); Capacity the highest throughput of a point that met the
	// objective, and Next the offered rate of the lowest point above it
	// that broke it (0 when none did): the capacity lies between.
	Knee     Knee    `json:"knee"`
	Capacity float64 `json:"capacity"`
	Next     float64 `json:"next,omitempty"`
	// ByConcurrency is the USL fitted to throughput against requests in
	// flight (Little's law) at this task count; ByConcurrencyErr says why
	// there is none.
	ByConcurrency    *USLFit `json:"uslByConcurrency,omitempty"`
	ByConcurrencyErr string  `json:"uslByConcurrencyError,omitempty"`
	// MMC is the rate the M/M/c model allows within the latency objective
	// with SlotsPerTask × Tasks servers (0 when uncalibrated).
	MMC float64 `json:"mmcCapacity,omitempty"`
	// Saturated counts the points where meshsim was the bottleneck.
	Saturated int `json:"saturated"`
}

// InstrumentSummary is what meshsim measured of itself over the sweep.
type InstrumentSummary struct {
	CPUs int `json:"cpus"`
	// ProcessCores is meshsim's CPU (mean over points, and the most in one
	// point); Load1 the host's highest load average; LagP99 the worst p99
	// lag of the generator; SchedWait the longest CPU wait.
	ProcessCores    float64       `json:"processCoresMean"`
	ProcessCoresMax float64       `json:"processCoresMax"`
	Load1           float64       `json:"load1Max"`
	LagP99          time.Duration `json:"lagP99MaxNs"`
	SchedWait       time.Duration `json:"schedWaitMaxNs"`
	// Saturated counts the points marked saturated; Points all points.
	Saturated int `json:"saturated"`
	Points    int `json:"points"`
}

// Recommendation is how many tasks the target rate needs.
type Recommendation struct {
	TargetRate float64 `json:"targetRate"`
	// Basis says which model the numbers come from.
	Basis string `json:"basis"`
	// Rows are the cases: steady state, during a rollout, with tasks lost,
	// and the M/M/c estimate.
	Rows []Row `json:"rows"`
	// Unreachable is set when no task count reaches the target within the
	// objective by the model (the USL peaks below it).
	Unreachable string `json:"unreachable,omitempty"`
	// AtMost is set when a task count's capacity is only a lower bound
	// (no rate broke its objective before meshsim saturated or the ramp
	// ended): the task counts are then upper bounds, and Low means
	// nothing.
	AtMost string `json:"atMost,omitempty"`
}

// Row is one case of the recommendation: Tasks, and the range Low..High
// it lies in (5th to 95th percentile of the bootstrap).
type Row struct {
	Case   string `json:"case"`
	Tasks  int    `json:"tasks"`
	Low    int    `json:"low"`
	High   int    `json:"high"`
	Detail string `json:"detail"`
}

// Analysis limits.
const (
	// maxTasksSearched bounds the search for the tasks a rate needs.
	maxTasksSearched = 1000
	// bootstrapRounds is how many resampled fits the uncertainty comes from.
	bootstrapRounds = 400
	// minConcurrencyPoints is the fewest points of a USL fit against
	// concurrency.
	minConcurrencyPoints = 4
)

// Analyze analyses a sweep.
func Analyze(s Sweep) *Report {
	r := &Report{Sweep: s}
	byTasks := map[int][]int{}
	for i, p := range s.Points {
		byTasks[p.Tasks] = append(byTasks[p.Tasks], i)
	}
	var tasks []int
	for n := range byTasks {
		tasks = append(tasks, n)
	}
	sort.Ints(tasks)
	for _, n := range tasks {
		idx := byTasks[n]
		sort.SliceStable(idx, func(a, b int) bool { return s.Points[idx[a]].Offered < s.Points[idx[b]].Offered })
		r.Counts = append(r.Counts, analyzeCount(s, n, idx))
	}
	r.calibrate()
	r.fitTasks()
	r.recommend()
	r.summarizeInstrument()
	r.Caveats = caveats(r)
	return r
}

func analyzeCount(s Sweep, n int, idx []int) Count {
	c := Count{Tasks: n, Points: idx}
	var offered, thr, conc, cthr []float64
	capAt := -1.0
	for _, i := range idx {
		p := s.Points[i]
		if p.Saturated != "" {
			c.Saturated++
			continue
		}
		offered, thr = append(offered, p.Offered), append(thr, p.Throughput)
		if p.Concurrency > 0 && p.Throughput > 0 {
			conc, cthr = append(conc, p.Concurrency), append(cthr, p.Throughput)
		}
		if p.Broken == "" && p.Throughput > c.Capacity {
			c.Capacity, capAt = p.Throughput, p.Offered
		}
	}
	for _, i := range idx {
		p := s.Points[i]
		if p.Saturated == "" && p.Broken != "" && p.Offered > capAt && (c.Next == 0 || p.Offered < c.Next) && capAt >= 0 {
			c.Next = p.Offered
		}
	}
	c.Knee = FindKnee(offered, thr)
	if len(conc) >= minConcurrencyPoints {
		if f, err := FitUSL(conc, cthr); err == nil {
			c.ByConcurrency = &f
		} else {
			c.ByConcurrencyErr = err.Error()
		}
	} else {
		c.ByConcurrencyErr = fmt.Sprintf("%d usable points, a fit needs %d", len(conc), minConcurrencyPoints)
	}
	return c
}

// calibrate measures the service time and the slots per task for M/M/c,
// and each count's M/M/c capacity.
func (r *Report) calibrate() {
	if len(r.Counts) == 0 {
		return
	}
	first := r.Counts[0]
	for _, i := range first.Points {
		if p := r.Sweep.Points[i]; p.OK() && p.ServiceTime.Mean > 0 {
			r.ServiceTime = p.ServiceTime.Mean
			break
		}
	}
	if r.ServiceTime <= 0 || !first.Knee.Found {
		return
	}
	r.SlotsPerTask = first.Knee.Throughput * r.ServiceTime.Seconds() / float64(first.Tasks)
	for i := range r.Counts {
		r.Counts[i].MMC = r.mmcCapacity(r.Counts[i].Tasks)
	}
}

// servers is the M/M/c server count of n tasks.
func (r *Report) servers(n int) int {
	return max(1, int(math.Round(r.SlotsPerTask*float64(n))))
}

// mmcCapacity is the highest rate n tasks serve within the latency
// objective by M/M/c.
func (r *Report) mmcCapacity(n int) float64 {
	obj := r.Sweep.Objective
	c := r.servers(n)
	hi := float64(c) / r.ServiceTime.Seconds()
	lo := 0.0
	ok := func(rate float64) bool {
		return (MMC{Rate: rate, Servers: c, ServiceTime: r.ServiceTime}).ResponseQuantile(obj.Quantile) <= obj.Latency
	}
	if !ok(hi * 1e-6) {
		return 0
	}
	for range 60 {
		mid := (lo + hi) / 2
		if ok(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// capacityPoints are the task counts with a capacity within the objective,
// and their capacity's range [lo, hi] (hi from the next broken rate). A
// count whose ramp never broke the objective (meshsim saturated, or the
// ramp ended) has only a lower bound: such censored counts are left out
// while any count was bracketed, since taking a lower bound for the
// capacity would bend the fit down.
func (r *Report) capacityPoints() (n, lo, hi []float64) {
	bracketed := false
	for _, c := range r.Counts {
		bracketed = bracketed || (c.Capacity > 0 && c.Next > 0)
	}
	for _, c := range r.Counts {
		if c.Capacity <= 0 || (bracketed && c.Next == 0) {
			continue
		}
		n, lo = append(n, float64(c.Tasks)), append(lo, c.Capacity)
		h := c.Capacity
		if c.Next > c.Capacity {
			h = c.Next
		}
		hi = append(hi, h)
	}
	return n, lo, hi
}

// censored lists the task counts whose capacity is only a lower bound.
func (r *Report) censored() []string {
	var out []string
	for _, c := range r.Counts {
		if c.Capacity > 0 && c.Next == 0 {
			out = append(out, fmt.Sprint(c.Tasks))
		}
	}
	return out
}

func (r *Report) fitTasks() {
	n, lo, _ := r.capacityPoints()
	if len(n) < 3 {
		r.ByTasksErr = fmt.Sprintf("%d task count%s met the objective; a USL fit needs 3", len(n), plural(len(n)))
		return
	}
	f, err := FitUSL(n, lo)
	if err != nil {
		r.ByTasksErr = err.Error()
		return
	}
	r.ByTasks = &f
}

// capacityModel predicts the capacity within the objective of n tasks.
type capacityModel func(n float64) float64

// tasksFor is the fewest tasks whose predicted capacity reaches rate (0 when
// none up to maxTasksSearched does).
func tasksFor(m capacityModel, rate float64) int {
	for n := 1; n <= maxTasksSearched; n++ {
		if m(float64(n)) >= rate {
			return n
		}
	}
	return 0
}

// model fits the capacity against tasks from the points given: the USL
// with three task counts or more, else linear scaling of the worst
// per-task capacity measured.
func model(n, x []float64) (capacityModel, string, error) {
	if len(n) >= 3 {
		f, err := FitUSL(n, x)
		if err != nil {
			return nil, "", err
		}
		return f.Throughput, "the USL fitted to the capacity within the objective at each task count", nil
	}
	if len(n) == 0 {
		return nil, "", fmt.Errorf("no task count met the objective")
	}
	per := math.Inf(1)
	for i := range n {
		per = min(per, x[i]/n[i])
	}
	return func(k float64) float64 { return per * k },
		fmt.Sprintf("linear scaling of %.0f req/s per task (too few task counts for a USL fit: it assumes no contention between tasks)", per), nil
}

// recommend sizes the service for the target rate. The uncertainty comes
// from a bootstrap: each round draws every task count's capacity uniformly
// within its measured range [last rate that met the objective, first that
// broke it] with the fit's relative residual noise, refits the model and
// sizes again; Low and High are the 5th and 95th percentiles.
func (r *Report) recommend() {
	s := r.Sweep
	if s.TargetRate <= 0 {
		return
	}
	rec := &Recommendation{TargetRate: s.TargetRate}
	r.Recommendation = rec
	n, lo, hi := r.capacityPoints()
	m, basis, err := model(n, lo)
	if err != nil {
		rec.Unreachable = err.Error()
		return
	}
	rec.Basis = basis
	need := tasksFor(m, s.TargetRate)
	if need == 0 {
		rec.Unreachable = fmt.Sprintf("by %s, no task count up to %d serves %.0f req/s within the objective", basis, maxTasksSearched, s.TargetRate)
		return
	}
	noise := 0.0
	if r.ByTasks != nil && len(lo) > 0 {
		noise = r.ByTasks.RMSE / stat.Mean(lo, nil)
	}
	rng := rand.New(rand.NewPCG(1, uint64(len(s.Points))))
	var draws []float64
	x := make([]float64, len(n))
	for range bootstrapRounds {
		for i := range n {
			x[i] = (lo[i] + rng.Float64()*(hi[i]-lo[i])) * (1 + noise*rng.NormFloat64())
		}
		bm, _, err := model(n, x)
		if err != nil {
			continue
		}
		if k := tasksFor(bm, s.TargetRate); k > 0 {
			draws = append(draws, float64(k))
		} else {
			draws = append(draws, maxTasksSearched)
		}
	}
	low, high := need, need
	if len(draws) > 0 {
		sort.Float64s(draws)
		low = min(need, int(stat.Quantile(0.05, stat.Empirical, draws, nil)))
		high = max(need, int(stat.Quantile(0.95, stat.Empirical, draws, nil)))
	}
	rec.Rows = r.rows(need, low, high, m)
	if open := r.censored(); len(open) == len(r.Counts) {
		rec.AtMost = fmt.Sprintf("no rate broke the objective at %s task(s) before the ramp ended, so the capacity measured there is a lower bound and these task counts are upper bounds", strings.Join(open, ", "))
	} else if len(open) > 0 {
		rec.Basis += fmt.Sprintf(" (left out: %s task(s), where no rate broke the objective before the ramp ended, so only a lower bound was measured)", strings.Join(open, ", "))
	}
}

// rows are the recommendation's cases for need tasks (low..high).
func (r *Report) rows(need, low, high int, m capacityModel) []Row {
	s := r.Sweep
	minH, maxP := s.MinimumHealthyPercent, s.MaximumPercent
	if minH == 0 && maxP == 0 {
		minH, maxP = 100, 200
	}
	roll := func(k int) int { return rolloutTasks(k, minH) }
	rows := []Row{{
		Case: "steady state", Tasks: need, Low: low, High: high,
		Detail: fmt.Sprintf("%d tasks serve %.0f req/s within %s by the model (%.0f req/s predicted)", need, s.TargetRate, objectiveText(s.Objective), m(float64(need))),
	}}
	nr := roll(need)
	if nr == 0 {
		rows = append(rows, Row{
			Case:   fmt.Sprintf("rolling deployment (minimumHealthyPercent %d, maximumPercent %d)", minH, maxP),
			Detail: "minimumHealthyPercent 0 lets ECS stop every task during a deployment: no task count keeps the target served",
		})
	} else {
		rows = append(rows, Row{
			Case: fmt.Sprintf("rolling deployment (minimumHealthyPercent %d, maximumPercent %d)", minH, maxP), Tasks: nr, Low: roll(low), High: roll(high),
			Detail: fmt.Sprintf("ECS keeps at least ⌈%d×%d%%⌉ = %d tasks in service and runs up to ⌊%d×%d%%⌋ = %d during the deployment (%d more than steady)",
				nr, minH, ceilPct(nr, minH), nr, maxP, floorPct(nr, maxP), max(0, floorPct(nr, maxP)-nr)),
		})
	}
	for _, lost := range []int{1, 2} {
		rows = append(rows, Row{
			Case: fmt.Sprintf("N+%d (%d task%s lost)", lost, lost, plural(lost)), Tasks: need + lost, Low: low + lost, High: high + lost,
			Detail: fmt.Sprintf("after losing %d task%s, %d still serve the target", lost, plural(lost), need),
		})
	}
	if r.SlotsPerTask > 0 {
		k := 0
		for t := 1; t <= maxTasksSearched; t++ {
			if r.mmcCapacity(t) >= s.TargetRate {
				k = t
				break
			}
		}
		row := Row{Case: "M/M/c estimate", Tasks: k, Low: k, High: k,
			Detail: fmt.Sprintf("Erlang C with %.1f slots per task and a %s mean service time (exponential service, Poisson arrivals)", r.SlotsPerTask, roundDur(r.ServiceTime))}
		if k == 0 {
			row.Detail += ": the objective is below what the service time allows"
		}
		rows = append(rows, row)
	}
	return rows
}

// rolloutTasks is the fewest tasks k ≥ need such that ECS, keeping
// ⌈k×minHealthy%⌉ tasks in service during a rolling deployment, still keeps
// need.
// It is 0 when minHealthy is 0 (ECS may then stop every task).
func rolloutTasks(need, minHealthy int) int {
	if need <= 0 || minHealthy <= 0 {
		return 0
	}
	for k := need; k <= need*100/minHealthy+1; k++ {
		if ceilPct(k, minHealthy) >= need {
			return k
		}
	}
	return 0
}

func ceilPct(n, pct int) int  { return (n*pct + 99) / 100 }
func floorPct(n, pct int) int { return n * pct / 100 }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func objectiveText(o Objective) string {
	return fmt.Sprintf("%s ≤ %s and errors ≤ %s", quantileName(o.Quantile), o.Latency, pctText(o.ErrorBudget))
}

func (r *Report) summarizeInstrument() {
	in := &r.Instrument
	in.CPUs = r.Sweep.Host.CPUs
	in.Points = len(r.Sweep.Points)
	var sum float64
	for _, p := range r.Sweep.Points {
		sum += p.ProcessCores
		in.ProcessCoresMax = max(in.ProcessCoresMax, p.ProcessCores)
		in.Load1 = max(in.Load1, p.Load1)
		in.LagP99 = max(in.LagP99, p.LagP99)
		in.SchedWait = max(in.SchedWait, p.SchedWait)
		if p.Saturated != "" {
			in.Saturated++
		}
	}
	if in.Points > 0 {
		in.ProcessCores = sum / float64(in.Points)
	}
}

// caveats is the honest paragraph, with the sweep's own figures.
func caveats(r *Report) []string {
	in := r.Instrument
	s := r.Sweep
	out := []string{
		fmt.Sprintf("Everything ran on one machine with %d CPUs: the load generator, the ingress and task sidecars, the AWS fakes and, with the %s runtime, the service's tasks themselves. meshsim's process used %.2f cores on average per point and %.2f at most; the host's load average reached %.1f. A task here gets whatever share of those CPUs the scheduler gives it, not the cpu units its task definition reserves on Fargate or EC2.",
			in.CPUs, orText(s.Runtime, "inproc"), in.ProcessCores, in.ProcessCoresMax, in.Load1),
		"What this measurement can say: how the service's throughput and latency respond to load and to more tasks when the service's own limits (concurrency, service time, locks, its backends) bind first — the shape of the curves, where the knee is relative to its cost per request, whether adding tasks scales linearly (σ and κ of the USL near 0) or not, and how much headroom a rollout and a lost task take. The sample service's cost is settable, so its knee is known and checks the method.",
		"What it cannot say: the absolute capacity of a production task. Real tasks run on other CPUs, with real network latency between the load balancer, the proxies and the tasks, and real backends and databases that have limits of their own; the task count at which those saturate is not measured here. Treat the recommended task counts as the result for this service's cost profile on this machine, to be confirmed by a load test in the target environment.",
	}
	if r.SlotsPerTask > 0 {
		out = append(out, fmt.Sprintf("The M/M/c estimate assumes Poisson arrivals and exponential service times of the measured mean (%s): its p99 is 4.6 times the mean even at low load. For a service whose times vary less (the load generator sends at a constant pace, and many services answer in a steady time) it overstates the tail and the tasks needed; for one with a heavier tail it understates them. Read it as a second opinion beside the measured curves.",
			roundDur(r.ServiceTime)))
	}
	if in.CPUs > 0 && in.Load1 > float64(in.CPUs) {
		out = append(out, fmt.Sprintf("Other programs competed for the machine: its load average reached %.1f on %d CPUs while meshsim's own process used at most %.2f cores. Every figure here is what the service achieved with the CPU share left to it; on a quiet machine the same sweep measures more, and fewer points are marked saturated.",
			in.Load1, in.CPUs, in.ProcessCoresMax))
	}
	if in.Saturated > 0 {
		out = append(out, fmt.Sprintf("%d of %d points were marked saturated: meshsim itself (the load generator's lag up to %s p99, its goroutines' CPU wait up to %s) was the bottleneck there, so they were left out of the fits. Capacity beyond them was not measurable on this machine.",
			in.Saturated, in.Points, roundDur(in.LagP99), roundDur(in.SchedWait)))
	} else {
		out = append(out, fmt.Sprintf("No point was marked saturated: the load generator kept its schedule (worst p99 lag %s) and meshsim's goroutines waited at most %s for a CPU, so the service, not meshsim, set the limits measured.",
			roundDur(in.LagP99), roundDur(in.SchedWait)))
	}
	return out
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
