package reports_test

import (
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
)

// lagged returns n requests of step from start, one every gap, each sent
// lag after its schedule; the requests whose position fail picks fail.
func lagged(step int, start time.Time, gap, lag time.Duration, n int, fail func(int) bool) []rundir.Observation {
	out := make([]rundir.Observation, n)
	for i := range out {
		o := okObs(step, start.Add(time.Duration(i)*gap), "v1", lag+time.Millisecond)
		o.Sent = o.Scheduled.Add(lag)
		if fail != nil && fail(i) {
			o = failObs(step, o.Scheduled, "reset")
			o.Sent = o.Scheduled.Add(lag)
		}
		out[i] = o
	}
	return out
}

// A step in which meshsim could not keep up is inconclusive with the
// reason; no assertion judges it, so its failures cannot fail the run,
// while a failure in a step the instrument kept up in still does.
func TestInstrumentSaturation(t *testing.T) {
	steps := []rundir.Step{
		step(0, "baseline", 0, 10*time.Second, map[string]float64{"v1": 100}),
		step(1, "canary", 10*time.Second, 20*time.Second, map[string]float64{"v1": 100}),
	}
	load1, cpu := 14.0, 1800*time.Millisecond
	hostSample := rundir.InstrumentSample{Kind: rundir.SampleHost, Time: at(15 * time.Second), Interval: time.Second, Step: 1,
		CPUs: 2, Load1: &load1, ProcessCPU: &cpu}
	everyOther := func(i int) bool { return i%2 == 0 }
	for _, tc := range []struct {
		name         string
		obs          []rundir.Observation
		samples      []rundir.InstrumentSample
		limits       *rundir.InstrumentLimits
		verdict      string
		step1        string
		reason       []string
		step0Verdict string
	}{
		{
			name:    "kept up",
			obs:     concat(lagged(0, at(0), 10*time.Millisecond, time.Millisecond, 1000, nil), lagged(1, at(10*time.Second), 10*time.Millisecond, 2*time.Millisecond, 1000, nil)),
			verdict: reports.VerdictPass, step1: reports.VerdictPass, step0Verdict: reports.VerdictPass,
		},
		{
			name: "lag: failures in the saturated step are not judged",
			obs: concat(lagged(0, at(0), 10*time.Millisecond, time.Millisecond, 1000, nil),
				lagged(1, at(10*time.Second), 10*time.Millisecond, 1800*time.Millisecond, 1000, everyOther)),
			samples: []rundir.InstrumentSample{hostSample},
			verdict: reports.VerdictInconclusive, step1: reports.VerdictInconclusive, step0Verdict: reports.VerdictPass,
			reason: []string{"the load generator fell 1.8s behind schedule (p99 lag; limit 500ms)", "the host's load average was 14 on 2 cores"},
		},
		{
			name: "a failure in a step that kept up still fails",
			obs: concat(lagged(0, at(0), 10*time.Millisecond, time.Millisecond, 1000, func(i int) bool { return i == 3 }),
				lagged(1, at(10*time.Second), 10*time.Millisecond, 1800*time.Millisecond, 1000, everyOther)),
			verdict: reports.VerdictFail, step1: reports.VerdictInconclusive, step0Verdict: reports.VerdictFail,
		},
		{
			name: "short of the offered rate",
			obs: concat(lagged(0, at(0), 10*time.Millisecond, time.Millisecond, 1000, nil),
				lagged(1, at(10*time.Second), 20*time.Millisecond, time.Millisecond, 500, nil)),
			verdict: reports.VerdictInconclusive, step1: reports.VerdictInconclusive, step0Verdict: reports.VerdictPass,
			reason: []string{"it sent 50 req/s of the 100 offered (50%; limit 90%)"},
		},
		{
			// Within the run's own limits the lag is the rollout's
			// latency, and fails the latency assertion.
			name: "the run's own limits",
			obs: concat(lagged(0, at(0), 10*time.Millisecond, time.Millisecond, 1000, nil),
				lagged(1, at(10*time.Second), 20*time.Millisecond, 1800*time.Millisecond, 500, nil)),
			limits:  &rundir.InstrumentLimits{MaxLag: 2 * time.Second, MinAchieved: 0.4},
			verdict: reports.VerdictFail, step1: reports.VerdictFail, step0Verdict: reports.VerdictPass,
		},
		{
			name: "requests overdue and never sent",
			obs:  concat(lagged(0, at(0), 10*time.Millisecond, time.Millisecond, 1000, nil), lagged(1, at(10*time.Second), 10*time.Millisecond, time.Millisecond, 1000, nil)),
			samples: []rundir.InstrumentSample{{Kind: rundir.SampleLoadgen, Time: at(19 * time.Second), Interval: time.Second, Step: 1,
				Generator: rundir.GeneratorHTTP, Due: 1900, Sent: 1700, Lag: 2 * time.Second}},
			verdict: reports.VerdictInconclusive, step1: reports.VerdictInconclusive, step0Verdict: reports.VerdictPass,
			reason: []string{"the load generator's next request was 2s overdue, 200 requests behind (limit 500ms)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := newRun(steps, tc.obs, nil, rundir.Assertion{Kind: "no-failed-requests"}, rundir.Assertion{Kind: "latency-p99-below", Value: float64(time.Second)})
			run.Meta.Instrument = tc.limits
			run.Instrument = tc.samples
			r := reports.Analyze(run)
			if r.Verdict != tc.verdict {
				t.Errorf("verdict %q (%s), want %q", r.Verdict, r.VerdictReason, tc.verdict)
			}
			s0, s1 := r.Steps[0], r.Steps[1]
			if s0.Verdict != tc.step0Verdict || s1.Verdict != tc.step1 {
				t.Errorf("step verdicts %q (%s), %q (%s); want %q, %q", s0.Verdict, s0.VerdictReason, s1.Verdict, s1.VerdictReason, tc.step0Verdict, tc.step1)
			}
			for _, want := range tc.reason {
				if !strings.Contains(s1.VerdictReason, want) || !strings.Contains(r.VerdictReason, want) {
					t.Errorf("step reason %q / run reason %q lack %q", s1.VerdictReason, r.VerdictReason, want)
				}
			}
			if s1.Verdict == reports.VerdictInconclusive {
				for _, a := range r.Assertions {
					if !strings.Contains(a.Message, `step 1 "canary" (inconclusive)`) {
						t.Errorf("%s message %q does not name the inconclusive step", a.Kind, a.Message)
					}
				}
			}
			if s1.Instrument == nil || r.Instrument == nil {
				t.Fatalf("no instrument figures")
			}
			if len(tc.samples) > 0 && tc.samples[0].Kind == rundir.SampleHost {
				if s1.Instrument.LoadAvg != 14 || s1.Instrument.CPU != 1.8 || r.Instrument.Cores != 2 {
					t.Errorf("host figures %+v, run %+v", *s1.Instrument, *r.Instrument)
				}
			}
		})
	}
}
