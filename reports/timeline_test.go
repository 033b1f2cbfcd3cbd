package reports_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
	"github.com/meshsim/meshsim/sim/contract"
)

// recordedRollout is a recorded canary: 10 s of v1 alone, then 10 s at
// 75/25 in which v2's share climbs from 0 to 25% over the first seconds
// (the proxies take the route one by one) and a v2 task stops, dropping
// requests (reset) and then refusing them; a gate fails and the user
// rolls back; five streams break and resume.
func recordedRollout() *rundir.Run {
	run := rolloutStreams()
	run.Meta.Steps = []rundir.Step{
		step(0, "baseline", 0, 10*time.Second, map[string]float64{"v1": 100, "v2": 0}),
		step(1, "canary-25", 10*time.Second, 20*time.Second, map[string]float64{"v1": 75, "v2": 25}),
	}
	var obs []rundir.Observation
	for _, o := range run.Observations {
		if o.IsStream() {
			obs = append(obs, o)
		}
	}
	obs = append(obs, served(0, at(0), 100*time.Millisecond, map[string]int{"v1": 100})...)
	for sec := 10; sec < 20; sec++ {
		v2 := min(sec-10, 3) * 25 / 10 // 0, 2, 5, 7, 7… of 10
		obs = append(obs, served(1, at(time.Duration(sec)*time.Second), 100*time.Millisecond, map[string]int{"v1": 10 - v2, "v2": v2})...)
	}
	for i := range obs {
		if obs[i].Version == "v2" {
			obs[i].Latency = 40 * time.Millisecond // the canary is slower
		}
	}
	obs = append(obs, failObs(1, at(15*time.Second), "reset"), failObs(1, at(15500*time.Millisecond), "reset"), failObs(1, at(16*time.Second), "refused"))
	run.Observations = obs
	ev := func(t time.Duration, src contract.Source, typ contract.EventType, res string, d map[string]string) rundir.Event {
		return rundir.Event{Time: at(t), Source: src, Type: typ, Resource: res, Detail: d}
	}
	run.Events = []rundir.Event{
		ev(10*time.Second, contract.SourceAppMesh, contract.EventRouteUpdated, "arn:aws:appmesh:us-east-1:000000000000:mesh/m/virtualRouter/r/route/api", map[string]string{"weights": "v1=75,v2=25"}),
		ev(15*time.Second, contract.SourceECS, contract.EventTaskState, "arn:aws:ecs:us-east-1:000000000000:task/c/abc", map[string]string{"from": "RUNNING", "to": "DEACTIVATING", "service": "api-v2"}),
		ev(15200*time.Millisecond, contract.SourceCloudMap, contract.EventInstanceDeregistered, "arn:aws:servicediscovery:us-east-1:000000000000:service/srv-1", map[string]string{"instanceId": "abc", "ipv4": "127.0.1.5"}),
		ev(17*time.Second, contract.SourceEngine, contract.EventGateFailed, "arn:aws:lambda:us-east-1:000000000000:function:g", map[string]string{"stage": "POST_TEST_TRAFFIC_SHIFT", "reason": "error rate 0.3 > 0.01"}),
		ev(18*time.Second, contract.SourceEngine, contract.EventControl, "", map[string]string{"action": "rollback", "reason": "rolled back by the user during step 2"}),
	}
	return run
}

// TestTimeline: the run second by second, as the charts draw it.
func TestTimeline(t *testing.T) {
	r := reports.Analyze(recordedRollout())
	tl := r.Timeline
	if tl == nil {
		t.Fatal("no timeline")
	}
	if tl.Interval != time.Second || len(tl.Buckets) != 21 || strings.Join(tl.Versions, ",") != "v1,v2" || strings.Join(tl.ErrorKinds, ",") != "refused,reset" {
		t.Fatalf("interval %v, %d buckets, versions %v, error kinds %v", tl.Interval, len(tl.Buckets), tl.Versions, tl.ErrorKinds)
	}
	for sec, want := range map[int]int{5: 0, 10: 0, 11: 2, 12: 5, 19: 7} {
		if got := tl.Buckets[sec].Served["v2"]; got != want {
			t.Errorf("second %d: v2 served %d, want %d", sec, got, want)
		}
	}
	if b := tl.Buckets[15]; b.Errors["reset"] != 2 || b.Failed != 2 || tl.Buckets[16].Errors["refused"] != 1 {
		t.Errorf("failures in seconds 15, 16: %+v, %+v", b.Errors, tl.Buckets[16].Errors)
	}
	if b := tl.Buckets[12]; b.P99["v2"] != 40*time.Millisecond || b.P50["v1"] != time.Millisecond {
		t.Errorf("second 12 latencies p50 %v p99 %v", b.P50, b.P99)
	}
	// Streams: five open from 1 s; s5 breaks at 11 s (never resumed), s1
	// and s2 at 12 s, resumed at 12.5 s.
	if b := tl.Buckets[5]; b.Open != 5 || b.Broken != 0 {
		t.Errorf("second 5: streams %+v", b)
	}
	if b := tl.Buckets[12]; b.Open != 4 || b.Broken != 1 || b.Breaks != 2 || b.Resumes != 2 {
		t.Errorf("second 12: open %d broken %d breaks %d resumes %d", b.Open, b.Broken, b.Breaks, b.Resumes)
	}
	var kinds []string
	for _, e := range tl.Events {
		kinds = append(kinds, e.Kind)
	}
	want := []string{reports.EventKindRouteUpdate, reports.EventKindTaskStopping, reports.EventKindEndpointRemoved, reports.EventKindGate, reports.EventKindRollback}
	if strings.Join(kinds, ",") != strings.Join(want, ",") {
		t.Errorf("marked events %v, want %v", kinds, want)
	}
}

// TestHTMLChartsHoldTheSeries: report.html of the recorded run draws, over
// time with the steps named, the observed share against the configured
// weight per version, the failures by class with the world events, the
// latency per version and the streams, each series in the legend, the
// versions in distinct colours; the page is full width and self-contained.
func TestHTMLChartsHoldTheSeries(t *testing.T) {
	var b bytes.Buffer
	if err := reports.WriteHTML(&b, reports.Analyze(recordedRollout())); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	figures := map[string]*html.Node{}
	for _, f := range elements(doc, "figure") {
		for _, a := range f.Attr {
			if a.Key == "id" {
				figures[a.Val] = f
			}
		}
	}
	for id, series := range map[string][]string{
		"chart-share": {"v1 observed", "v1 configured", "v2 observed", "v2 configured", "baseline", "canary-25", "time since the run's first request (s)"},
		"chart-failures": {"reset", "refused", "route update (1)", "task stopping (1)", "endpoint removed (1)", "gate decision (1)", "rollback (1)",
			"baseline", "canary-25"},
		"chart-latency":  {"v1 p50", "v1 p99", "v2 p50", "v2 p99", "canary-25"},
		"chart-streams":  {"open", "broken (awaiting a resume)", "breaks in the second", "resumes in the second"},
		"chart-requests": {"0 baseline", "1 canary-25", "requests", "failed"},
	} {
		f := figures[id]
		if f == nil || len(charts(f)) != 1 {
			t.Errorf("no chart %s", id)
			continue
		}
		drawn := text(charts(f)[0])
		for _, s := range series {
			if !strings.Contains(drawn, s) {
				t.Errorf("%s lacks %q", id, s)
			}
		}
	}
	// The versions are drawn in distinct colours (the palette's first two).
	share := renderOf(figures["chart-share"])
	for _, c := range []string{"stroke:#1F77B4", "stroke:#FF7F0E"} {
		if !strings.Contains(share, c) {
			t.Errorf("the share chart has no line in %s", c)
		}
	}
	for _, want := range []string{"figure svg { width: 100%", `<a href="run.json"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, tag := range []string{"script", "link", "img", "iframe"} {
		if n := len(elements(doc, tag)); n != 0 {
			t.Errorf("%d %s elements: the page must be self-contained", n, tag)
		}
	}
}

// renderOf is the HTML source of n.
func renderOf(n *html.Node) string {
	var b bytes.Buffer
	_ = html.Render(&b, n)
	return b.String()
}
