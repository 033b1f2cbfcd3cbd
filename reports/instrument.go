package reports

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/meshsim/meshsim/loadgen/metrics"
	"github.com/meshsim/meshsim/loadgen/rundir"
)

// The instrument's limits when the run directory states none: a step whose
// load generator fell further behind its schedule (p99 of sent − scheduled),
// or sent less of the offered rate, measured the machine rather than the
// rollout, and is inconclusive.
const (
	DefaultMaxLag      = 500 * time.Millisecond
	DefaultMinAchieved = 0.9
	DefaultMaxCPUWait  = 100 * time.Millisecond
)

// minExpectedForRate is the least number of requests a step must have been
// offered for its achieved rate to be judged: below it (a deployment phase
// of a few milliseconds) the rate is noise, and only the lag is judged.
const minExpectedForRate = 20

// Instrument is what meshsim measured of itself over the whole run: the
// limits the steps were held to, and the host it ran on. The host figures
// are zero when the run directory does not record them.
type Instrument struct {
	// MaxLag and MinAchieved are the limits of a conclusive step.
	MaxLag      time.Duration `json:"maxLagNs"`
	MinAchieved float64       `json:"minAchieved"`
	MaxCPUWait  time.Duration `json:"maxCPUWaitNs"`
	// LagP99 is the p99 of the load generator's lag over every request of
	// the run; Achieved the fraction of the offered rate it sent.
	LagP99   time.Duration `json:"lagP99Ns"`
	Achieved float64       `json:"achieved"`
	// Host figures, recorded by the instrument's sampler: the host's cores,
	// meshsim's CPU use in cores (average and peak), the host's load
	// average (peak) and CPU steal (peak, percent).
	Cores   int     `json:"cores,omitempty"`
	CPU     float64 `json:"cpuCores,omitempty"`
	CPUMax  float64 `json:"cpuCoresMax,omitempty"`
	LoadAvg float64 `json:"loadAvgMax,omitempty"`
	Steal   float64 `json:"stealPctMax,omitempty"`
	// Unreadable says, for each host figure that could not be read on
	// this system, why ("CPU steal not readable: …"); such a figure is
	// zero above, which does not mean none.
	Unreadable []string `json:"unreadable,omitempty"`
	// Requests counts the requests the figures above are measured from.
	Requests int `json:"requests"`
	// Inconclusive counts the judged steps whose instrument saturated.
	Inconclusive int `json:"inconclusiveSteps"`
}

// StepInstrument is what meshsim measured of itself during one step.
type StepInstrument struct {
	// Lag is how far behind its constant-rate schedule the load generator
	// sent the step's requests (sent − scheduled).
	LagP50 time.Duration `json:"lagP50Ns"`
	LagP99 time.Duration `json:"lagP99Ns"`
	LagMax time.Duration `json:"lagMaxNs"`
	// OfferedRate is the scenario's rate; SentRate the requests the
	// generator sent while the step was in force, per second; Achieved is
	// SentRate/OfferedRate (0 when the step was too short to judge it, see
	// RateJudged).
	OfferedRate float64 `json:"offeredRate"`
	SentRate    float64 `json:"sentRate"`
	Achieved    float64 `json:"achieved"`
	RateJudged  bool    `json:"rateJudged"`
	// Host figures during the step, recorded by the instrument's sampler
	// (zero when the run directory has none): meshsim's CPU in cores
	// (average, peak), the host's load average and CPU steal (peak,
	// percent), and the sidecars' queueing (peak requests waiting for the
	// upstream's response headers, peak in flight).
	CPU             float64 `json:"cpuCores,omitempty"`
	CPUMax          float64 `json:"cpuCoresMax,omitempty"`
	LoadAvg         float64 `json:"loadAvgMax,omitempty"`
	Steal           float64 `json:"stealPctMax,omitempty"`
	SidecarQueued   int64   `json:"sidecarQueuedMax,omitempty"`
	SidecarInFlight int64   `json:"sidecarInFlightMax,omitempty"`
	// Overdue is the most the load generator's next send was overdue when
	// it was sampled, and Backlog the most requests due and not sent: the
	// lag of requests that have no observation yet.
	Overdue time.Duration `json:"overdueMaxNs,omitempty"`
	Backlog uint64        `json:"backlogMax,omitempty"`
	// StreamLag is the latest a long-lived stream's message went out after
	// it fell due (Chat streams send one every stream interval).
	StreamLag time.Duration `json:"streamLagMaxNs,omitempty"`
	// SchedWait is the longest per-second p99 of how long meshsim's
	// goroutines waited for a CPU once runnable (the Go scheduler's
	// latency): with the inproc runtime the sidecars and services run in
	// meshsim's process, and a process starved of CPU delays their
	// requests however well the load generator keeps its schedule.
	SchedWait time.Duration `json:"schedWaitP99MaxNs,omitempty"`
	// Saturated says why the instrument could not be trusted in the step
	// ("the load generator fell 1.8 s behind schedule (p99 lag, limit
	// 500 ms); the host's load average was 14 on 2 cores"); empty when it
	// kept up. A saturated step is inconclusive.
	Saturated string `json:"saturated,omitempty"`
}

// instrumentLimits are the run's limits of a conclusive step, or the
// defaults.
func instrumentLimits(meta rundir.Meta) (maxLag time.Duration, minAchieved float64, maxCPUWait time.Duration) {
	maxLag, minAchieved, maxCPUWait = DefaultMaxLag, DefaultMinAchieved, DefaultMaxCPUWait
	if l := meta.Instrument; l != nil {
		if l.MaxCPUWait > 0 {
			maxCPUWait = l.MaxCPUWait
		}
		if l.MaxLag > 0 {
			maxLag = l.MaxLag
		}
		if l.MinAchieved > 0 {
			minAchieved = l.MinAchieved
		}
	}
	return maxLag, minAchieved, maxCPUWait
}

// analyzeInstrument measures the load generator of each reached step from
// its requests and marks the steps whose instrument saturated. obs are the
// requests of each step, in r.Steps' order; all are the run's requests.
func analyzeInstrument(r *Report, meta rundir.Meta, obs [][]*rundir.Observation, all []*rundir.Observation, samples []rundir.InstrumentSample) {
	maxLag, minAchieved, maxCPUWait := instrumentLimits(meta)
	in := &Instrument{MaxLag: maxLag, MinAchieved: minAchieved, MaxCPUWait: maxCPUWait, Requests: len(all)}
	offered := meta.Load.Rate
	sampled, run := sampleFigures(samples)
	run.fillRun(in)
	runLag := metrics.NewHistogram()
	for _, o := range all {
		runLag.Record(o.Sent.Sub(o.Scheduled))
	}
	in.LagP99 = runLag.Quantiles().P99
	if offered > 0 && r.Run.Load.AchievedRate > 0 {
		in.Achieved = r.Run.Load.AchievedRate / offered
	}
	for i := range r.Steps {
		s := &r.Steps[i]
		if !s.Reached || s.Requests == 0 {
			continue
		}
		lag := metrics.NewHistogram()
		for _, o := range obs[i] {
			if o.ErrorKind != canceledKind {
				lag.Record(o.Sent.Sub(o.Scheduled))
			}
		}
		l := lag.Quantiles()
		si := &StepInstrument{LagP50: l.P50, LagP99: l.P99, LagMax: l.Max, OfferedRate: offered}
		if s.Duration > 0 {
			end := s.Start.Add(s.Duration)
			sent := 0
			for _, o := range all {
				if !o.Sent.Before(s.Start) && o.Sent.Before(end) {
					sent++
				}
			}
			si.SentRate = float64(sent) / s.Duration.Seconds()
			if offered > 0 && offered*s.Duration.Seconds() >= minExpectedForRate {
				si.RateJudged = true
				si.Achieved = si.SentRate / offered
			}
		}
		h := sampled[s.Index]
		if h != nil {
			h.fill(si)
		}
		var why []string
		if si.LagP99 > maxLag {
			why = append(why, fmt.Sprintf("the load generator fell %s behind schedule (p99 lag; limit %s)", durationText(si.LagP99), durationText(maxLag)))
		} else if si.Overdue > maxLag {
			why = append(why, fmt.Sprintf("the load generator's next request was %s overdue, %d requests behind (limit %s)", durationText(si.Overdue), si.Backlog, durationText(maxLag)))
		}
		if si.SchedWait > maxCPUWait {
			why = append(why, fmt.Sprintf("meshsim's goroutines waited up to %s for a CPU (p99 over a second; limit %s)", durationText(si.SchedWait), durationText(maxCPUWait)))
		}
		if si.StreamLag > maxLag {
			why = append(why, fmt.Sprintf("the streams' messages went out up to %s late (limit %s)", durationText(si.StreamLag), durationText(maxLag)))
		}
		if si.RateJudged && si.Achieved < minAchieved {
			why = append(why, fmt.Sprintf("it sent %s req/s of the %s offered (%s; limit %s)",
				num(roundTo(si.SentRate, 1)), num(roundTo(offered, 1)), pct(roundTo(si.Achieved, 3)), pct(minAchieved)))
		}
		if len(why) > 0 {
			if h != nil && h.load1 > 0 && h.cpus > 0 {
				why = append(why, fmt.Sprintf("the host's load average was %s on %d cores", num(roundTo(h.load1, 1)), h.cpus))
			}
			si.Saturated = strings.Join(why, "; ")
		}
		s.Instrument = si
		if si.Saturated != "" {
			in.Inconclusive++
		}
	}
	r.Instrument = in
}

// figures aggregates the instrument samples of one step (or of the run).
type figures struct {
	cpus            int
	cpuTime         time.Duration // process CPU over cpuInterval
	cpuInterval     time.Duration
	cpuMax          float64 // cores, the busiest interval
	load1, steal    float64 // peaks; steal as a share
	queued, inFlght int64
	overdue         time.Duration
	streamLag       time.Duration
	schedWait       time.Duration
	unreadable      []string
	backlog         uint64
}

// sampleFigures aggregates instrument.jsonl by step index, and over the
// whole run.
func sampleFigures(samples []rundir.InstrumentSample) (byStep map[int]*figures, run *figures) {
	byStep = map[int]*figures{}
	run = &figures{}
	for _, smp := range samples {
		f := byStep[smp.Step]
		if f == nil {
			f = &figures{}
			byStep[smp.Step] = f
		}
		for _, g := range []*figures{f, run} {
			g.add(smp)
		}
	}
	return byStep, run
}

func (f *figures) add(s rundir.InstrumentSample) {
	switch s.Kind {
	case rundir.SampleHost:
		f.cpus = max(f.cpus, s.CPUs)
		if s.ProcessCPU != nil && s.Interval > 0 {
			f.cpuTime += *s.ProcessCPU
			f.cpuInterval += s.Interval
			f.cpuMax = max(f.cpuMax, float64(*s.ProcessCPU)/float64(s.Interval))
		}
		if s.Load1 != nil {
			f.load1 = max(f.load1, *s.Load1)
		}
		if s.StealShare != nil {
			f.steal = max(f.steal, *s.StealShare)
		}
		if s.SchedP99 != nil {
			f.schedWait = max(f.schedWait, *s.SchedP99)
		}
		for _, why := range s.Unreadable {
			if !slices.Contains(f.unreadable, why) {
				f.unreadable = append(f.unreadable, why)
			}
		}
	case rundir.SampleLoadgen:
		if s.Generator == rundir.GeneratorChat {
			f.streamLag = max(f.streamLag, s.MaxLag)
		} else {
			f.overdue = max(f.overdue, s.Lag)
			if s.Due > s.Sent {
				f.backlog = max(f.backlog, s.Due-s.Sent)
			}
		}
	case rundir.SampleSidecar:
		f.queued = max(f.queued, s.PeakWaiting, s.Waiting)
		f.inFlght = max(f.inFlght, s.PeakInFlight, s.InFlight)
	}
}

func (f *figures) cpu() float64 {
	if f.cpuInterval <= 0 {
		return 0
	}
	return float64(f.cpuTime) / float64(f.cpuInterval)
}

func (f *figures) fill(si *StepInstrument) {
	si.CPU, si.CPUMax = f.cpu(), f.cpuMax
	si.LoadAvg, si.Steal = f.load1, 100*f.steal
	si.SidecarQueued, si.SidecarInFlight = f.queued, f.inFlght
	si.Overdue, si.Backlog, si.StreamLag, si.SchedWait = f.overdue, f.backlog, f.streamLag, f.schedWait
}

func (f *figures) fillRun(in *Instrument) {
	in.Cores, in.CPU, in.CPUMax = f.cpus, f.cpu(), f.cpuMax
	in.LoadAvg, in.Steal = f.load1, 100*f.steal
	in.Unreadable = f.unreadable
}

// durationText is d rounded for people: "1.8s", "240ms".
func durationText(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}

// instrumentText is the run's instrument in one line, for the summary and
// the run tables: "load generator lag p99 3ms (limit 500ms), sent 99.8% of
// the offered rate (limit 90%)".
func instrumentText(in *Instrument) string {
	if in == nil {
		return "-"
	}
	if in.Requests == 0 {
		return fmt.Sprintf("not measured: no request was sent (limits: load generator lag p99 %s, %s of the offered rate)",
			durationText(in.MaxLag), pct(in.MinAchieved))
	}
	text := fmt.Sprintf("load generator lag p99 %s (limit %s), sent %s of the offered rate (limit %s)",
		durationText(in.LagP99), durationText(in.MaxLag), pct(roundTo(in.Achieved, 4)), pct(in.MinAchieved))
	if in.Cores > 0 {
		text += fmt.Sprintf("; host %d cores", in.Cores)
	}
	if in.CPU > 0 {
		text += fmt.Sprintf(", meshsim used %s cores", num(roundTo(in.CPU, 2)))
		if in.Cores > 0 {
			text += fmt.Sprintf(" (%s of the host; peak %s)", pct(roundTo(in.CPU/float64(in.Cores), 3)), num(roundTo(in.CPUMax, 2)))
		} else {
			text += fmt.Sprintf(" (peak %s)", num(roundTo(in.CPUMax, 2)))
		}
	}
	if in.LoadAvg > 0 {
		text += fmt.Sprintf(", load average up to %s", num(roundTo(in.LoadAvg, 1)))
	}
	if in.Steal > 0 {
		text += fmt.Sprintf(", steal up to %s%%", num(roundTo(in.Steal, 1)))
	}
	for _, why := range in.Unreadable {
		what, _, _ := strings.Cut(why, ":")
		text += ", " + what // "CPU steal not readable"
	}
	if in.Inconclusive > 0 {
		text += fmt.Sprintf("; saturated in %d step(s)", in.Inconclusive)
	}
	return text
}

// The per-step instrument table, shared by report.md, report.html and
// the terminal summary.
var instrumentColumns = []string{"Step", "Lag p50 ms", "Lag p99 ms", "Lag max ms", "Sent req/s", "Achieved", "Headroom",
	"meshsim CPU", "Host load", "Sidecar queue", "Saturated"}

// instrumentRow is the row of s in the instrument table; ok is false for
// a step without figures.
func instrumentRow(s StepReport, in *Instrument) (row []string, ok bool) {
	si := s.Instrument
	if si == nil {
		return nil, false
	}
	achieved := "-"
	if si.RateJudged {
		achieved = pct(roundTo(si.Achieved, 4))
	}
	return []string{
		fmt.Sprintf("%d %s", s.Index, s.Name),
		ms(si.LagP50), ms(si.LagP99), ms(si.LagMax),
		num(roundTo(si.SentRate, 1)), achieved, headroomText(si, in),
		cpuCell(si, in), hostCell(si, in), queueCell(si), orDash(si.Saturated),
	}, true
}

// headroomText says how close a step came to its limits: the larger of its
// p99 lag as a share of the limit and its shortfall as a share of the
// allowed shortfall, "12% of the limit".
func headroomText(si *StepInstrument, in *Instrument) string {
	if in == nil || in.MaxLag <= 0 {
		return "-"
	}
	used := float64(si.LagP99) / float64(in.MaxLag)
	if si.RateJudged && in.MinAchieved < 1 {
		used = max(used, (1-si.Achieved)/(1-in.MinAchieved))
	}
	if in.MaxCPUWait > 0 {
		used = max(used, float64(si.SchedWait)/float64(in.MaxCPUWait))
	}
	return pct(roundTo(max(used, 0), 2)) + " of the limit"
}

// cpuCell is meshsim's CPU use in a step and how long its goroutines
// waited for a CPU: "1.42 of 2 cores (peak 1.9), CPU wait p99 3ms".
func cpuCell(si *StepInstrument, in *Instrument) string {
	if si.CPU <= 0 {
		return "-"
	}
	text := num(roundTo(si.CPU, 2))
	if in != nil && in.Cores > 0 {
		text += fmt.Sprintf(" of %d cores", in.Cores)
	}
	text += fmt.Sprintf(" (peak %s)", num(roundTo(si.CPUMax, 2)))
	if si.SchedWait > 0 {
		text += ", CPU wait p99 " + durationText(si.SchedWait)
	}
	return text
}

// hostCell is the host's load in a step: "load 14.2, steal 0.3%".
func hostCell(si *StepInstrument, in *Instrument) string {
	var parts []string
	if si.LoadAvg > 0 {
		parts = append(parts, "load "+num(roundTo(si.LoadAvg, 1)))
	}
	if si.Steal > 0 {
		parts = append(parts, "steal "+num(roundTo(si.Steal, 1))+"%")
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// queueCell is the sidecars' peak queueing in a step: "38 waiting, 41 in
// flight".
func queueCell(si *StepInstrument) string {
	if si.SidecarQueued == 0 && si.SidecarInFlight == 0 {
		return "-"
	}
	return fmt.Sprintf("%d waiting, %d in flight", si.SidecarQueued, si.SidecarInFlight)
}
