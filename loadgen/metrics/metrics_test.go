package metrics_test

import (
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/metrics"
	"github.com/meshsim/meshsim/loadgen/rundir"
)

// observations is a small run: two steps, two versions, a failure with no
// kind, a 503, a canceled request and a stream event.
func observations(t0 time.Time) []rundir.Observation {
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	return []rundir.Observation{
		{Kind: rundir.KindHTTP, Step: 0, Scheduled: at(0), Sent: at(0), Latency: 10 * time.Millisecond, Status: 200, Version: "v1"},
		{Kind: rundir.KindHTTP, Step: 0, Scheduled: at(1), Sent: at(1), Latency: 20 * time.Millisecond, Status: 503, Error: "503", ErrorKind: "http-5xx", Version: "v1"},
		{Kind: rundir.KindStreamOpen, Step: 0, Scheduled: at(1), Sent: at(1)},
		{Kind: rundir.KindHTTP, Step: 1, Scheduled: at(2), Sent: at(2), Latency: 30 * time.Millisecond, Status: 200, Version: "v2"},
		{Kind: rundir.KindHTTP, Step: 1, Scheduled: at(3), Sent: at(3), Latency: 2 * time.Second, Error: "reset"},
		{Kind: rundir.KindHTTP, Step: 1, Scheduled: at(4), Sent: at(4), Latency: time.Second, Error: "context canceled", ErrorKind: metrics.CanceledKind},
		{Kind: rundir.KindHTTP, Step: 1, Scheduled: at(5), Sent: at(5), Latency: 40 * time.Millisecond, Status: 200, Version: "v1"},
	}
}

func TestStepCounts(t *testing.T) {
	t0 := time.Unix(1000, 0)
	run := metrics.NewRun(time.Minute)
	for _, o := range observations(t0) {
		run.Add(o)
	}
	for _, tt := range []struct {
		step                       int
		requests, failed, canceled int
		versions                   map[string]int
	}{
		{0, 2, 1, 0, map[string]int{"v1": 2}},
		{1, 3, 1, 1, map[string]int{"v1": 1, "v2": 1}},
		{2, 0, 0, 0, map[string]int{}},
	} {
		c := run.Step(tt.step)
		if c.Requests != tt.requests || c.Failed != tt.failed || c.Canceled != tt.canceled || len(c.Versions) != len(tt.versions) {
			t.Errorf("step %d: %+v, want %d requests, %d failed, %d canceled, versions %v", tt.step, c, tt.requests, tt.failed, tt.canceled, tt.versions)
		}
		for v, n := range tt.versions {
			if c.Versions[v] != n {
				t.Errorf("step %d: version %s %d, want %d", tt.step, v, c.Versions[v], n)
			}
		}
	}
	// Step 1's latencies: 30 ms, 2 s and 40 ms (the canceled request is
	// not an outcome); p99 is the slowest, as the HDR histogram holds it.
	q := run.StepQuantiles(1)
	if q.Count != 3 || q.P99 < 2*time.Second || q.P99 > 2*time.Second+2*time.Millisecond {
		t.Errorf("step 1 quantiles %+v", q)
	}
	var s metrics.Step = *metrics.NewStep()
	for _, o := range observations(t0) {
		if o.Step == 1 {
			s.Add(&o)
		}
	}
	if s.ErrorsByKind[metrics.OtherKind] != 1 || len(s.ErrorsByKind) != 1 {
		t.Errorf("errors by kind %v", s.ErrorsByKind)
	}
}

// TestWindowMatchesRunDirectory: a window taken live (as a gate does)
// equals the same window recomputed from the observations in file order,
// up to the number the live one had seen: later arrivals are left out.
func TestWindowMatchesRunDirectory(t *testing.T) {
	t0 := time.Unix(1000, 0)
	obs := observations(t0)
	run := metrics.NewRun(time.Minute)
	for _, o := range obs[:5] {
		run.Add(o)
	}
	from, to := t0.Add(500*time.Millisecond), t0.Add(10*time.Second)
	live := run.Window(from, to)
	for _, o := range obs[5:] { // arrive after the gate judged
		run.Add(o)
	}
	again := metrics.WindowOf(obs, from, to, live.Through)
	if live.Through != 5 || live.Requests != 3 || live.Failed != 2 {
		t.Errorf("live window %d through, %d requests, %d failed; want 5, 3, 2", live.Through, live.Requests, live.Failed)
	}
	if again.Requests != live.Requests || again.Failed != live.Failed || again.Latency.Quantiles() != live.Latency.Quantiles() {
		t.Errorf("recomputed %+v %+v, live %+v %+v", again.Step.Tally, again.Latency.Quantiles(), live.Step.Tally, live.Latency.Quantiles())
	}
	if all := run.Window(from, to); all.Requests != 4 {
		t.Errorf("window after every arrival: %d requests, want 4", all.Requests)
	}
}

// The span bounds what Window can see: requests that completed more than
// the span before the newest are forgotten.
func TestWindowSpan(t *testing.T) {
	t0 := time.Unix(1000, 0)
	run := metrics.NewRun(10 * time.Second)
	for i := range 200 {
		at := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		run.Add(rundir.Observation{Kind: rundir.KindHTTP, Scheduled: at, Sent: at, Status: 200})
	}
	if n := run.Window(t0, t0.Add(time.Hour)).Requests; n != 101 {
		t.Errorf("window: %d requests, want 101 (10 s of requests, 100 ms apart, inclusive)", n)
	}
	if n := run.Window(t0.Add(15*time.Second), t0.Add(time.Hour)).Requests; n != 50 {
		t.Errorf("last 5 s: %d requests, want 50", n)
	}
}

func BenchmarkRunAdd(b *testing.B) {
	run := metrics.NewRun(2 * time.Minute)
	t0 := time.Unix(1000, 0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		run.Add(rundir.Observation{Kind: rundir.KindHTTP, Scheduled: at, Sent: at, Status: 200, Latency: time.Duration(i%1000) * time.Microsecond, Version: "v1"})
	}
}

// TestHistogramText round-trips a histogram through its compact text form
// (what a baseline file stores) and lists its buckets.
func TestHistogramText(t *testing.T) {
	h := metrics.NewHistogram()
	for i := range 1000 {
		h.Record(time.Duration(1000+i*37) * time.Microsecond)
	}
	h.Record(250 * time.Millisecond)
	text, err := h.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	if len(text) > 8000 {
		t.Errorf("encoded histogram is %d bytes; want it compact", len(text))
	}
	back := metrics.NewHistogram()
	if err := back.UnmarshalText(text); err != nil {
		t.Fatal(err)
	}
	if got, want := back.Quantiles(), h.Quantiles(); got != want {
		t.Errorf("decoded quantiles %+v, want %+v", got, want)
	}
	var n int64
	for _, b := range back.Buckets() {
		if b.Count <= 0 || b.High < b.Low {
			t.Errorf("bucket %+v", b)
		}
		n += b.Count
	}
	if n != 1001 {
		t.Errorf("buckets hold %d latencies, want 1001", n)
	}
	if err := back.UnmarshalText([]byte("not a histogram")); err == nil {
		t.Error("garbage decoded without error")
	}
	m := metrics.NewHistogram()
	m.Merge(h)
	m.Merge(back)
	if m.Quantiles().Count != 2002 {
		t.Errorf("merged count %d, want 2002", m.Quantiles().Count)
	}
}
