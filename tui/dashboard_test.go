package tui

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/meshsim/meshsim/scenarios/engine/status"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

// t0 is when the recorded run began.
var t0 = time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// history builds a version's last seconds: rate r each second, p99 p.
func history(n int, r float64, p time.Duration) []status.Second {
	h := make([]status.Second, n)
	for i := range h {
		h[i] = status.Second{Rate: r + float64(i%4), P99: p + time.Duration(i%3)*time.Millisecond}
	}
	return h
}

var plan = []status.PlanStep{{Name: "base", Bake: 6 * time.Second}, {Name: "canary-10", Bake: 6 * time.Second}, {Name: "canary-50", Bake: 6 * time.Second}, {Name: "full", Bake: 6 * time.Second}}

func planAt(cur int) []status.PlanStep {
	p := append([]status.PlanStep(nil), plan...)
	for i := range p {
		switch {
		case i < cur:
			p[i].State = status.StateDone
		case i == cur:
			p[i].State = status.StateCurrent
		default:
			p[i].State = status.StatePending
		}
	}
	return p
}

var live = &status.Live{
	Versions: []status.VersionLive{
		{Version: "v1", Weight: 90, Share: 0.896, Rate: 90, Requests: 448, P50: 2100 * time.Microsecond, P99: 9 * time.Millisecond, History: history(20, 88, 8*time.Millisecond)},
		{Version: "v2", Weight: 10, Share: 0.104, Rate: 10, Requests: 52, Failed: 3, Errors: map[string]int64{"app-5xx": 2, "reset": 1},
			P50: 2400 * time.Microsecond, P99: 41 * time.Millisecond, History: history(8, 9, 40*time.Millisecond)},
	},
	Streams: status.Streams{Open: 9, Broken: 1, Breaks: 2, Resumes: 1},
	Tasks: []status.Task{
		{Service: "api-v1", Version: "v1", ID: "a1", State: "RUNNING"}, {Service: "api-v1", Version: "v1", ID: "a2", State: "RUNNING"},
		{Service: "api-v2", Version: "v2", ID: "b1", State: "RUNNING"}, {Service: "api-v2", Version: "v2", ID: "b2", State: "PENDING"},
		{Service: "web", Version: "v1", ID: "w1", State: "RUNNING"},
	},
	Instrument: status.Instrument{Lag: 300 * time.Microsecond, MaxLag: 2 * time.Millisecond, CPU: 0.42, CPUs: 2, SchedP99: 150 * time.Microsecond, Load1: 1.5},
}

// frames is a canary rehearsal as the engine reports it, one message at
// a time; each frame's text is kept in testdata/NAME.golden.
var frames = []struct {
	name string
	msgs []tea.Msg
}{
	{"01-setup", []tea.Msg{StatusMsg{Phase: status.PhaseSetup, Message: "creating Cloud Map, App Mesh and ECS resources"},
		EventsMsg{
			{Time: at(0.1), Source: "engine", Type: "aws.call", Detail: map[string]string{"service": "ECS", "operation": "CreateCluster", "duration": "2ms"}},
			{Time: at(0.5), Source: "ecs", Type: "task.state", Resource: "arn:aws:ecs:us-east-1:000000000000:task/shop/0123456789abcdef", Detail: map[string]string{"service": "api-v1", "from": "PENDING", "to": "RUNNING"}},
		}}},
	{"02-base", []tea.Msg{StatusMsg{Phase: status.PhaseRollout, Step: 0, Steps: 4, StepName: "base", StepElapsed: 2 * time.Second, StepBake: 6 * time.Second,
		Weights: []status.VersionWeight{{Version: "v1", Weight: 100}, {Version: "v2", Weight: 0}}, Requests: 200, Versions: map[string]int64{"v1": 200},
		Plan: planAt(0), Left: 22 * time.Second}}},
	{"03-canary", []tea.Msg{
		EventsMsg{
			{Time: at(6), Source: "engine", Type: "step.start", Detail: map[string]string{"step": "1", "name": "canary-10", "weights": "v1=90,v2=10"}},
			{Time: at(6.01), Source: "appmesh", Type: "route.updated", Resource: "arn:aws:appmesh:us-east-1:000000000000:mesh/shop/virtualRouter/api-router/route/api-route", Detail: map[string]string{"weights": "api-v1=90,api-v2=10"}},
			{Time: at(6.02), Source: "xds", Type: "xds.push", Resource: "shop", Detail: map[string]string{"node": "mesh/shop/virtualNode/web-v1"}},
		},
		StatusMsg{Phase: status.PhaseRollout, Step: 1, Steps: 4, StepName: "canary-10", StepElapsed: 5 * time.Second, StepBake: 6 * time.Second,
			Weights: []status.VersionWeight{{Version: "v1", Weight: 90}, {Version: "v2", Weight: 10}}, Requests: 500, Failed: 3, Versions: map[string]int64{"v1": 448, "v2": 52},
			Plan: planAt(1), Left: 13 * time.Second, Live: live}}},
	{"04-paused", []tea.Msg{
		StatusMsg{Phase: status.PhaseRollout, Step: 1, Steps: 4, StepName: "canary-10", StepElapsed: 7 * time.Second, StepBake: 6 * time.Second,
			Weights: []status.VersionWeight{{Version: "v1", Weight: 90}, {Version: "v2", Weight: 10}}, Requests: 700, Failed: 3, Versions: map[string]int64{"v1": 630, "v2": 70},
			Plan: planAt(1), Left: 12 * time.Second, Live: live, Control: status.Control{Paused: true, Holding: true}}}},
	{"05-gate-rollback", []tea.Msg{
		EventsMsg{
			{Time: at(14), Source: "engine", Type: "gate.failed", Resource: "arn:aws:lambda:us-east-1:000000000000:function:meshsim-gate-1-1", Detail: map[string]string{"stage": "POST_TEST_TRAFFIC_SHIFT", "reason": "error rate 0.058 > 0.01 over 5s (52 requests)"}},
			{Time: at(14.2), Source: "ecs", Type: "deployment.state", Resource: "arn:aws:ecs:us-east-1:000000000000:service/shop/api", Detail: map[string]string{"service": "api", "status": "ROLLBACK_IN_PROGRESS", "reason": "lifecycle hook failed"}},
		},
		StatusMsg{Phase: status.PhaseRollout, Step: 3, StepName: "canary: rollback TEST_TRAFFIC_SHIFT", StepElapsed: 1500 * time.Millisecond,
			Deployment: 1, Deployments: 2, DeploymentName: "canary", Stage: "TEST_TRAFFIC_SHIFT", StageIndex: 4, Stages: 8,
			Weights: []status.VersionWeight{{Version: "v1", Weight: 100}}, Requests: 150, Versions: map[string]int64{"v1": 150},
			Plan: []status.PlanStep{{Name: "baseline", State: status.StateDone}, {Name: "canary: PRE_SCALE_UP", State: status.StateDone}, {Name: "canary: TEST_TRAFFIC_SHIFT", State: status.StateDone},
				{Name: "canary: rollback TEST_TRAFFIC_SHIFT", State: status.StateCurrent}, {Name: "deployment 2/2: full", State: status.StatePending}},
			Live: live}}},
	{"06-done", []tea.Msg{StatusMsg{Phase: status.PhaseDone, Message: "writing the run directory",
		Totals: []status.StepTotal{{Step: 0, Name: "base", Requests: 600, Versions: map[string]int64{"v1": 600}}}}, endMsg{}}},
}

// TestModelGoldenFrames feeds the model a fixed sequence of statuses and
// events and compares each frame's text with its golden file (go test
// ./tui -run Golden -update rewrites them, in testdata/TestModelGoldenFrames).
func TestModelGoldenFrames(t *testing.T) {
	var m tea.Model = NewModel("bookingapp-canary", nil).WithControls(&fakeControls{}).WithRunID("20261203-070000-bookingapp-canary").WithZone(time.UTC)
	m, _ = m.Update(tea.WindowSizeMsg{Width: 120, Height: 50})
	height := 0
	for _, f := range frames {
		for _, msg := range f.msgs {
			m, _ = m.Update(msg)
		}
		frame := ansi.Strip(m.View().Content)
		// The frame never shrinks, and its last line is empty (see View).
		if h := strings.Count(frame, "\n"); h < height {
			t.Errorf("%s: the frame shrank from %d to %d lines", f.name, height, h)
		} else {
			height = h
		}
		for i, l := range strings.Split(frame, "\n") {
			if w := ansi.StringWidth(l); w > 120 {
				t.Errorf("%s: line %d is %d cells wide", f.name, i, w)
			}
		}
		t.Run(f.name, func(t *testing.T) { golden.RequireEqual(t, frame) })
	}
}

// TestFramesShowTheRun names what the golden frames must hold, so that a
// careless -update cannot lose it.
func TestFramesShowTheRun(t *testing.T) {
	want := map[string][]string{
		"01-setup": {"meshsim · bookingapp-canary · setup", "run 20261203-070000-bookingapp-canary", "AWS ECS CreateCluster 2ms",
			"task 01234567 (api-v1) PENDING → RUNNING", "? help", "p pause", "n next", "r roll back", "a abort", "q quit"},
		"02-base": {"step 1/4 base  2.0s / 6s", "4s left", "run: 22s left", "▶ base 6s", "· canary-10 6s", "requests 200   failed 0"},
		"03-canary": {"step 2/4 canary-10", "✓ base 6s", "▶ canary-10 6s", " 90% →  89.6%", " 10% →  10.4%", "app-5xx 2 · reset 1", "41.0ms",
			"api-v1 RUNNING 2", "api-v2 PENDING 1 RUNNING 1", "web v1 RUNNING 1", "open 9  broken/resuming 1", "load generator lag 300µs (max 2.0ms)",
			"meshsim CPU 0.42 of 2 cores", "App Mesh route route/api-route updated", "xDS push", "ended steps", "step 1/4 base"},
		"04-paused":        {"PAUSED at the end of the step", "7.0s / 6s"},
		"05-gate-rollback": {"deployment 1/2 canary · stage 4/8 TEST_TRAFFIC_SHIFT · step 4", "decisions", "gate FAILED POST_TEST_TRAFFIC_SHIFT: error rate 0.058 > 0.01", "ECS deployment api ROLLBACK_IN_PROGRESS lifecycle hook failed", "· deployment 2/2: full"},
		"06-done":          {"· done", "writing the run directory", "step 1/4 base  v1=100 v2=0 → v1 100.0% v2 0.0%  600 req  0 failed"},
	}
	for name, lines := range want {
		data, err := os.ReadFile(filepath.Join("testdata", "TestModelGoldenFrames", name+".golden"))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			if !strings.Contains(string(data), l) {
				t.Errorf("%s lacks %q:\n%s", name, l, data)
			}
		}
	}
}

// fakeControls records what the keys asked.
type fakeControls struct {
	paused bool
	calls  []string
}

func (c *fakeControls) TogglePause() bool {
	c.paused = !c.paused
	c.calls = append(c.calls, "pause")
	return c.paused
}
func (c *fakeControls) Advance()  { c.calls = append(c.calls, "advance") }
func (c *fakeControls) Rollback() { c.calls = append(c.calls, "rollback") }
func (c *fakeControls) Abort()    { c.calls = append(c.calls, "abort") }

func key(s string) tea.Msg {
	switch s {
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

func TestModelKeys(t *testing.T) {
	tests := []struct {
		name     string
		keys     []string
		calls    string // the controls called, in order
		cancels  int
		footer   string // in the last frame
		stopping bool
	}{
		{"pause", []string{"p"}, "[pause]", 0, "pausing: the run holds at the end of this step", false},
		{"pause and resume", []string{"p", "p"}, "[pause pause]", 0, "resumed", false},
		{"advance", []string{"n"}, "[advance]", 0, "advancing: this step ends now", false},
		{"roll back", []string{"r"}, "[rollback]", 0, "rolling back", false},
		{"abort", []string{"a"}, "[abort]", 0, "stopping: the run is winding down", true},
		{"abort once", []string{"a", "a", "r"}, "[abort]", 0, "stopping:", true},
		{"quit asks first", []string{"q"}, "[]", 0, "quit? the run stops, the world is torn down and the partial run is reported", false},
		{"quit confirmed", []string{"q", "y"}, "[]", 1, "stopping:", true},
		{"quit refused", []string{"q", "n"}, "[]", 0, "the run goes on", false},
		{"quit refused then pause", []string{"q", "esc", "p"}, "[pause]", 0, "pausing", false},
		{"ctrl+c quits at once", []string{"ctrl+c", "q", "y", "ctrl+c"}, "[]", 1, "stopping:", true},
		{"help", []string{"?"}, "[]", 0, "? help", false},
		{"other keys", []string{"x", "enter"}, "[]", 0, "p pause", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeControls{}
			cancels := 0
			var m tea.Model = NewModel("demo", func() { cancels++ }).WithControls(c)
			m, _ = m.Update(StatusMsg(frames[1].msgs[0].(StatusMsg)))
			for _, k := range tc.keys {
				var cmd tea.Cmd
				m, cmd = m.Update(key(k))
				if cmd != nil {
					t.Errorf("key %q returned a command; the dashboard quits only when closed", k)
				}
			}
			if got := fmt.Sprint(c.calls); got != tc.calls {
				t.Errorf("controls called %s, want %s", got, tc.calls)
			}
			if cancels != tc.cancels {
				t.Errorf("cancel called %d times, want %d", cancels, tc.cancels)
			}
			view := ansi.Strip(m.View().Content)
			if !strings.Contains(view, tc.footer) {
				t.Errorf("view lacks %q:\n%s", tc.footer, view)
			}
			if m.(Model).Stopping() != tc.stopping {
				t.Errorf("stopping %v, want %v", m.(Model).Stopping(), tc.stopping)
			}
		})
	}
}

func TestModelHelpAndScroll(t *testing.T) {
	var m tea.Model = NewModel("demo", nil).WithControls(&fakeControls{}).WithZone(time.UTC)
	m, _ = m.Update(key("?"))
	if v := ansi.Strip(m.View().Content); !strings.Contains(v, "pause at the end of the current step, or resume") || !strings.Contains(v, "quit (asks first)") {
		t.Errorf("help:\n%s", v)
	}
	m, _ = m.Update(key("?"))
	var evs EventsMsg
	for i := range 20 {
		evs = append(evs, status.Event{Time: at(float64(i)), Source: "engine", Type: "step.start", Detail: map[string]string{"step": fmt.Sprint(i), "name": fmt.Sprintf("s%d", i)}})
	}
	m, _ = m.Update(evs)
	v := ansi.Strip(m.View().Content)
	if !strings.Contains(v, "step 19 begins: s19") || strings.Contains(v, "step 11 begins") {
		t.Errorf("the log does not show the newest 8:\n%s", v)
	}
	for range 5 {
		m, _ = m.Update(key("up"))
	}
	v = ansi.Strip(m.View().Content)
	if !strings.Contains(v, "step 14 begins") || strings.Contains(v, "step 15 begins") || !strings.Contains(v, "5 newer below") {
		t.Errorf("scrolled back 5:\n%s", v)
	}
	m, _ = m.Update(key("G"))
	if v := ansi.Strip(m.View().Content); !strings.Contains(v, "step 19 begins") {
		t.Errorf("back to the newest:\n%s", v)
	}
}

func TestModelFitsTheWidth(t *testing.T) {
	for _, width := range []int{30, 60, 120} {
		var m tea.Model = NewModel("a-scenario-with-a-long-name", nil).WithControls(&fakeControls{})
		m, _ = m.Update(tea.WindowSizeMsg{Width: width, Height: 40})
		for _, f := range frames[:5] {
			for _, msg := range f.msgs {
				m, _ = m.Update(msg)
			}
			for _, line := range strings.Split(m.View().Content, "\n") {
				if w := ansi.StringWidth(line); w > width {
					t.Errorf("width %d, %s: line of %d cells: %q", width, f.name, w, ansi.Strip(line))
				}
			}
		}
	}
}

func TestSparkline(t *testing.T) {
	tests := []struct {
		values []float64
		width  int
		want   string
	}{
		{nil, 4, "    "},
		{[]float64{1, 2, 4, 8}, 4, "▂▃▅█"},
		{[]float64{0, 8}, 4, "   █"},
		{[]float64{1, 8, 2, 2, 4, 4}, 3, "█▃▅"}, // pairs, their largest
	}
	for _, tc := range tests {
		if got := sparkline(tc.values, tc.width); got != tc.want {
			t.Errorf("sparkline(%v, %d) = %q, want %q", tc.values, tc.width, got, tc.want)
		}
	}
}

func TestDashboardUpdateCoalesces(t *testing.T) {
	d := &Dashboard{wake: make(chan struct{}, 1)} // no program: nothing takes the statuses
	step := func(i int, elapsed time.Duration) status.Status {
		return status.Status{Phase: "rollout", Step: i, Steps: 2, StepElapsed: elapsed}
	}
	d.Update(status.Status{Phase: "setup", Message: "one"})
	d.Update(status.Status{Phase: "setup", Message: "two"})
	for i := range 1000 {
		d.Update(step(0, time.Duration(i)))
	}
	d.Update(step(1, 0))
	d.Update(step(1, 5))
	d.Update(status.Status{Phase: "done", Message: "end"})
	want := []status.Status{{Phase: "setup", Message: "two"}, step(0, 999), step(1, 5), {Phase: "done", Message: "end"}}
	if len(d.pending) != len(want) {
		t.Fatalf("%d statuses pending, want %d", len(d.pending), len(want))
	}
	for i := range want {
		if d.pending[i].Phase != want[i].Phase || d.pending[i].Message != want[i].Message ||
			d.pending[i].Step != want[i].Step || d.pending[i].StepElapsed != want[i].StepElapsed {
			t.Errorf("pending[%d] = %+v, want %+v", i, d.pending[i], want[i])
		}
	}
	// However many steps or events go by untaken, the queues stay bounded
	// and keep the latest.
	for i := range 10 * maxPending {
		d.Update(step(i, 0))
	}
	if len(d.pending) != maxPending || d.pending[maxPending-1].Step != 10*maxPending-1 {
		t.Errorf("pending holds %d, last step %d", len(d.pending), d.pending[len(d.pending)-1].Step)
	}
	for i := range 3 * maxPendingEvents {
		d.Event(status.Event{Resource: fmt.Sprint(i)})
	}
	if n := len(d.events); n > maxPendingEvents || d.events[n-1].Resource != fmt.Sprint(3*maxPendingEvents-1) {
		t.Errorf("events pending %d, last %q", n, d.events[n-1].Resource)
	}
}

// TestProgram runs the model in a bubbletea program (teatest): statuses
// and events arrive as messages, p reaches the controls, q asks and y
// confirms, and the program keeps showing the run winding down until it
// is told to quit.
func TestProgram(t *testing.T) {
	cancelled := make(chan struct{})
	c := &fakeControls{}
	tm := teatest.NewTestModel(t, NewModel("bookingapp-canary", func() { close(cancelled) }).WithControls(c).WithZone(time.UTC), teatest.WithInitialTermSize(120, 50))
	for _, f := range frames[:3] {
		for _, msg := range f.msgs {
			tm.Send(msg)
		}
	}
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		return bytes.Contains(b, []byte("canary-10")) && bytes.Contains(b, []byte("xDS push"))
	},
		teatest.WithDuration(5*time.Second))
	tm.Type("p")
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("pausing")) }, teatest.WithDuration(5*time.Second))
	tm.Type("q")
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("quit?")) }, teatest.WithDuration(5*time.Second))
	tm.Type("y")
	select {
	case <-cancelled:
	case <-time.After(polltest.Limit):
		t.Fatal("q, y did not cancel the run")
	}
	tm.Send(StatusMsg(status.Status{Phase: status.PhaseTeardown, Message: "deleting the world"}))
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	m := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)
	if !m.Stopping() || m.status.Phase != status.PhaseTeardown || len(m.history) != 2 || fmt.Sprint(c.calls) != "[pause]" {
		t.Errorf("final model: stopping %v, phase %q, history %d, controls %v", m.Stopping(), m.status.Phase, len(m.history), c.calls)
	}
	view := ansi.Strip(m.View().Content)
	for _, want := range []string{"deleting the world", "step 1/4 base", "stopping:", "api-v2 PENDING 1 RUNNING 1"} {
		if !strings.Contains(view, want) {
			t.Errorf("final view lacks %q:\n%s", want, view)
		}
	}
}

// TestDashboard drives a Dashboard as the engine and main do: Update and
// Event from other goroutines, keys that steer and cancel, Close before
// the report.
func TestDashboard(t *testing.T) {
	in, keys, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	defer keys.Close()
	var out bytes.Buffer
	cancelled := make(chan struct{})
	c := &lockedControls{calls: make(chan string, 4)}
	d := StartDashboard(NewModel("bookingapp-canary", func() { close(cancelled) }).WithControls(c),
		tea.WithInput(in), tea.WithOutput(&out), tea.WithWindowSize(120, 50))

	updated := make(chan struct{})
	go func() { // the engine
		defer close(updated)
		for _, f := range frames[:3] {
			for _, msg := range f.msgs {
				switch msg := msg.(type) {
				case StatusMsg:
					d.Update(status.Status(msg))
				case EventsMsg:
					for _, e := range msg {
						d.Event(e)
					}
				}
			}
		}
	}()
	<-updated
	if _, err := keys.Write([]byte("n")); err != nil {
		t.Fatal(err)
	}
	select {
	case call := <-c.calls:
		if call != "advance" {
			t.Errorf("n called %s", call)
		}
	case <-time.After(polltest.Limit):
		t.Fatal("n did not reach the controls")
	}
	if _, err := keys.Write([]byte("qy")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cancelled:
	case <-time.After(polltest.Limit):
		t.Fatal("q, y did not cancel the run")
	}
	d.Update(status.Status{Phase: status.PhaseDone, Message: "writing the run directory"})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d.Update(status.Status{Phase: status.PhaseSetup, Message: "after close"}) // dropped, does not block
	d.Event(status.Event{Type: "after close"})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	m := d.final.(Model)
	if !m.Stopping() || !m.ended || m.status.Phase != status.PhaseDone || len(m.history) != 2 || len(m.events) != 5 {
		t.Errorf("final model: stopping %v, ended %v, phase %q, history %d, events %d", m.Stopping(), m.ended, m.status.Phase, len(m.history), len(m.events))
	}
	if view := ansi.Strip(m.View().Content); !strings.Contains(view, "stopped at your request") {
		t.Errorf("final view:\n%s", view)
	}
	if len(d.pending) != 0 || len(d.events) != 0 {
		t.Errorf("%d statuses and %d events left pending after Close", len(d.pending), len(d.events))
	}
	if !bytes.Contains(out.Bytes(), []byte("bookingapp-canary")) {
		t.Errorf("the program drew nothing: %q", out.String())
	}
}

// lockedControls hands each call to the test, from the program's
// goroutine.
type lockedControls struct{ calls chan string }

func (c *lockedControls) TogglePause() bool { c.calls <- "pause"; return true }
func (c *lockedControls) Advance()          { c.calls <- "advance" }
func (c *lockedControls) Rollback()         { c.calls <- "rollback" }
func (c *lockedControls) Abort()            { c.calls <- "abort" }

func TestIsTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for name, out := range map[string]io.Writer{"buffer": &bytes.Buffer{}, "pipe": w} {
		if IsTerminal(out) {
			t.Errorf("%s taken for a terminal", name)
		}
	}
}

// BenchmarkDashboardUpdate measures what the engine pays per status while
// a program draws them.
func BenchmarkDashboardUpdate(b *testing.B) {
	d := StartDashboard(NewModel("bench", nil), tea.WithInput(nil), tea.WithOutput(io.Discard), tea.WithWindowSize(120, 50))
	defer d.Close()
	st := status.Status(frames[2].msgs[1].(StatusMsg))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		st.Step = i / 1000 // a new step now and then
		d.Update(st)
	}
}
