package reports

import (
	"fmt"
	"strings"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
)

// The instrument's limits when the run directory states none: a step whose
// load generator fell further behind its schedule (p99 of sent − scheduled),
// or sent less of the offered rate, measured the machine rather than the
// rollout, and is inconclusive.
const (
	DefaultMaxLag      = 250 * time.Millisecond
	DefaultMinAchieved = 0.9
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
	// percent), and the sidecars' queueing (peak requests waiting for a
	// worker, peak in flight).
	CPU             float64 `json:"cpuCores,omitempty"`
	CPUMax          float64 `json:"cpuCoresMax,omitempty"`
	LoadAvg         float64 `json:"loadAvgMax,omitempty"`
	Steal           float64 `json:"stealPctMax,omitempty"`
	SidecarQueued   int     `json:"sidecarQueuedMax,omitempty"`
	SidecarInFlight int     `json:"sidecarInFlightMax,omitempty"`
	// Saturated says why the instrument could not be trusted in the step
	// ("the load generator fell 1.8 s behind schedule (p99 lag, limit
	// 250 ms); the host's load average was 14 on 2 cores"); empty when it
	// kept up. A saturated step is inconclusive.
	Saturated string `json:"saturated,omitempty"`
}

// instrumentLimits are the run's limits of a conclusive step, or the
// defaults.
func instrumentLimits(meta rundir.Meta) (maxLag time.Duration, minAchieved float64) {
	maxLag, minAchieved = DefaultMaxLag, DefaultMinAchieved
	if l := meta.Instrument; l != nil {
		if l.MaxLag > 0 {
			maxLag = l.MaxLag
		}
		if l.MinAchieved > 0 {
			minAchieved = l.MinAchieved
		}
	}
	return maxLag, minAchieved
}

// analyzeInstrument measures the load generator of each reached step from
// its requests and marks the steps whose instrument saturated. obs are the
// requests of each step, in r.Steps' order; all are the run's requests.
func analyzeInstrument(r *Report, meta rundir.Meta, obs [][]*rundir.Observation, all []*rundir.Observation) {
	maxLag, minAchieved := instrumentLimits(meta)
	in := &Instrument{MaxLag: maxLag, MinAchieved: minAchieved, Requests: len(all)}
	offered := meta.Load.Rate
	runLag := newLatencyRecorder()
	for _, o := range all {
		runLag.record(o.Sent.Sub(o.Scheduled))
	}
	in.LagP99 = runLag.summary().P99
	if offered > 0 && r.Run.Load.AchievedRate > 0 {
		in.Achieved = r.Run.Load.AchievedRate / offered
	}
	for i := range r.Steps {
		s := &r.Steps[i]
		if !s.Reached || s.Requests == 0 {
			continue
		}
		lag := newLatencyRecorder()
		for _, o := range obs[i] {
			if o.ErrorKind != canceledKind {
				lag.record(o.Sent.Sub(o.Scheduled))
			}
		}
		l := lag.summary()
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
		var why []string
		if si.LagP99 > maxLag {
			why = append(why, fmt.Sprintf("the load generator fell %s behind schedule (p99 lag; limit %s)", durationText(si.LagP99), durationText(maxLag)))
		}
		if si.RateJudged && si.Achieved < minAchieved {
			why = append(why, fmt.Sprintf("it sent %s req/s of the %s offered (%s; limit %s)",
				num(roundTo(si.SentRate, 1)), num(roundTo(offered, 1)), pct(si.Achieved), pct(minAchieved)))
		}
		if len(why) > 0 {
			si.Saturated = strings.Join(why, "; ")
		}
		s.Instrument = si
		if si.Saturated != "" {
			in.Inconclusive++
		}
	}
	r.Instrument = in
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
// the run tables: "load generator lag p99 3ms (limit 250ms), sent 99.8% of
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
		text += fmt.Sprintf(", meshsim used %s cores (peak %s)", num(roundTo(in.CPU, 2)), num(roundTo(in.CPUMax, 2)))
	}
	if in.LoadAvg > 0 {
		text += fmt.Sprintf(", load average up to %s", num(roundTo(in.LoadAvg, 1)))
	}
	if in.Steal > 0 {
		text += fmt.Sprintf(", steal up to %s%%", num(roundTo(in.Steal, 1)))
	}
	if in.Inconclusive > 0 {
		text += fmt.Sprintf("; saturated in %d step(s)", in.Inconclusive)
	}
	return text
}

// The per-step instrument table, shared by report.md, report.html and
// the terminal summary.
var instrumentColumns = []string{"Step", "Lag p50 ms", "Lag p99 ms", "Lag max ms", "Sent req/s", "Achieved", "Headroom", "Saturated"}

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
		num(roundTo(si.SentRate, 1)), achieved, headroomText(si, in), orDash(si.Saturated),
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
	return pct(roundTo(max(used, 0), 2)) + " of the limit"
}
