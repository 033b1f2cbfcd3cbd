package tui

import (
	"bytes"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/meshsim/meshsim/scenarios/engine/status"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

// run is a canary rehearsal as the engine reports it: setup, two rollout
// steps, a deployment phase whose step count is unknown, and the end.
var run = []struct {
	status  status.Status
	want    []string // in the view
	notWant []string
	rows    map[string][2]float64 // version → configured, observed share shown as bars
}{
	{
		status:  status.Status{Phase: "setup", Message: "creating Cloud Map, App Mesh and ECS resources"},
		want:    []string{"meshsim · bookingapp-canary · setup", "creating Cloud Map, App Mesh and ECS resources", "q or ctrl+c: stop the run"},
		notWant: []string{"ended steps", "requests", "stopping"},
	},
	{
		status: status.Status{Phase: "rollout", Step: 0, Steps: 2, StepName: "base", StepElapsed: time.Second, StepBake: 4 * time.Second,
			Weights:  []status.VersionWeight{{Version: "v1", Weight: 100}, {Version: "v2", Weight: 0}},
			Requests: 100, Versions: map[string]int64{"v1": 100}},
		want:    []string{"· rollout", "step 1/2 base  1.0s / 4s", " 25%", "configured", "observed", "requests 100   failed 0"},
		notWant: []string{"ended steps", "creating Cloud Map"},
		rows:    map[string][2]float64{"v1": {1, 1}, "v2": {0, 0}},
	},
	{
		status: status.Status{Phase: "rollout", Step: 0, Steps: 2, StepName: "base", StepElapsed: 4 * time.Second, StepBake: 4 * time.Second,
			Weights:  []status.VersionWeight{{Version: "v1", Weight: 100}, {Version: "v2", Weight: 0}},
			Requests: 400, Versions: map[string]int64{"v1": 400}},
		want:    []string{"step 1/2 base  4.0s / 4s", "100%", "requests 400   failed 0"},
		notWant: []string{"ended steps"},
	},
	{
		status: status.Status{Phase: "rollout", Step: 1, Steps: 2, StepName: "canary-25", StepElapsed: 1500 * time.Millisecond, StepBake: 6 * time.Second,
			Weights:  []status.VersionWeight{{Version: "v1", Weight: 75}, {Version: "v2", Weight: 25}},
			Requests: 202, Failed: 2, Versions: map[string]int64{"v1": 148, "v2": 50, "": 2}},
		want: []string{"step 2/2 canary-25  1.5s / 6s", "requests 202   failed 2", " 74.0%", " 25.0%", "(unknown)",
			"ended steps", "step 1/2 base  v1=100 v2=0 → v1 100.0% v2 0.0%  400 req  0 failed"},
		rows: map[string][2]float64{"v1": {0.75, 0.74}, "v2": {0.25, 0.25}, "(unknown)": {0, 0.01}},
	},
	{
		status: status.Status{Phase: "rollout", Step: 2, StepName: "deploy: IN_PROGRESS", StepElapsed: 2500 * time.Millisecond,
			Weights:  []status.VersionWeight{{Version: "v1", Weight: 50}, {Version: "v2", Weight: 50}},
			Requests: 10, Versions: map[string]int64{"v2": 10}},
		want: []string{"step 3 deploy: IN_PROGRESS  2.5s\n", "requests 10   failed 0",
			"step 2/2 canary-25  v1=75 v2=25 → v1 74.0% v2 25.0% (unknown) 1.0%  202 req  2 failed"},
		notWant: []string{"step 3/", " / "},
		rows:    map[string][2]float64{"v1": {0.5, 0}, "v2": {0.5, 1}},
	},
	{
		status: status.Status{Phase: "deployment", Message: "deploy ended SUCCESSFUL; waiting for the service to be stable"},
		want: []string{"· deployment", "deploy ended SUCCESSFUL", "step 1/2 base", "step 2/2 canary-25",
			"step 3 deploy: IN_PROGRESS  v1=50 v2=50 → v1 0.0% v2 100.0%  10 req  0 failed"},
		notWant: []string{"requests", "configured"},
	},
	{
		status:  status.Status{Phase: "done", Message: "writing the run directory"},
		want:    []string{"· done", "writing the run directory", "step 3 deploy: IN_PROGRESS  v1=50"},
		notWant: []string{"deploy ended SUCCESSFUL"},
	},
}

func TestModelShowsTheRun(t *testing.T) {
	var m tea.Model = NewModel("bookingapp-canary", nil)
	m, _ = m.Update(tea.WindowSizeMsg{Width: 100, Height: 40})
	height := 0
	for i, tc := range run {
		m, _ = m.Update(StatusMsg(tc.status))
		view := ansi.Strip(m.View().Content)
		// The frame never shrinks, and its last line is empty (see View).
		if h := strings.Count(view, "\n"); h < height {
			t.Errorf("status %d: the view shrank from %d to %d lines", i, height, h)
		} else {
			height = h
		}
		if !strings.HasSuffix(view, "\n") {
			t.Errorf("status %d: the view's last line is not empty", i)
		}
		for _, want := range tc.want {
			if !strings.Contains(view, want) {
				t.Errorf("status %d: view lacks %q:\n%s", i, want, view)
			}
		}
		for _, notWant := range tc.notWant {
			if strings.Contains(view, notWant) {
				t.Errorf("status %d: view has %q:\n%s", i, notWant, view)
			}
		}
		for version, shares := range tc.rows {
			conf, obs, ok := rowBars(view, version)
			if !ok {
				t.Errorf("status %d: no row for %s:\n%s", i, version, view)
				continue
			}
			for j, bar := range []string{conf, obs} {
				width := len([]rune(bar))
				if want := int(math.Round(float64(width) * shares[j])); strings.Count(bar, "█") != want {
					t.Errorf("status %d: %s bar %d is %q, want %d of %d cells full", i, version, j, bar, want, width)
				}
			}
		}
	}
	if got := len(m.(Model).history); got != 3 {
		t.Errorf("history holds %d steps, want 3", got)
	}

	// Once the run has ended, the frame left on screen offers no keys.
	m, _ = m.Update(endMsg{})
	if view := ansi.Strip(m.View().Content); strings.Contains(view, "ctrl+c") || strings.Count(view, "\n") != height {
		t.Errorf("after the end, %d lines:\n%s", strings.Count(view, "\n"), view)
	}
}

// rowBars finds the view's row for version and returns its configured and
// observed bars.
func rowBars(view, version string) (conf, obs string, ok bool) {
	for _, line := range strings.Split(view, "\n") {
		f := strings.Fields(line)
		if len(f) == 5 && f[0] == version && strings.ContainsAny(f[1], "█░") {
			return f[1], f[3], true
		}
	}
	return "", "", false
}

func TestModelKeysStopTheRunOnce(t *testing.T) {
	q := tea.KeyPressMsg{Code: 'q', Text: "q"}
	ctrlC := tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	other := tea.KeyPressMsg{Code: 'x', Text: "x"}
	for _, tc := range []struct {
		name    string
		keys    []tea.Msg
		cancels int
	}{
		{"q", []tea.Msg{q}, 1},
		{"ctrl+c", []tea.Msg{ctrlC}, 1},
		{"q then ctrl+c", []tea.Msg{q, ctrlC, q}, 1},
		{"other keys", []tea.Msg{other, tea.KeyPressMsg{Code: tea.KeyEnter}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cancels := 0
			var m tea.Model = NewModel("demo", func() { cancels++ })
			for _, k := range tc.keys {
				var cmd tea.Cmd
				m, cmd = m.Update(k)
				if cmd != nil {
					t.Errorf("key %v returned a command; the dashboard quits only when closed", k)
				}
			}
			if cancels != tc.cancels {
				t.Errorf("cancel called %d times, want %d", cancels, tc.cancels)
			}
			stopping := strings.Contains(ansi.Strip(m.View().Content), "stopping: the run is winding down")
			if stopping != (tc.cancels > 0) || m.(Model).Stopping() != stopping {
				t.Errorf("view shows stopping %v, model %v, want %v", stopping, m.(Model).Stopping(), tc.cancels > 0)
			}
		})
	}
}

func TestModelFitsTheWidth(t *testing.T) {
	for _, width := range []int{30, 60, 120} {
		var m tea.Model = NewModel("a-scenario-with-a-long-name", nil)
		m, _ = m.Update(tea.WindowSizeMsg{Width: width, Height: 40})
		for _, tc := range run {
			m, _ = m.Update(StatusMsg(tc.status))
		}
		m, _ = m.Update(StatusMsg(run[3].status))
		for _, line := range strings.Split(m.View().Content, "\n") {
			if w := ansi.StringWidth(line); w > width {
				t.Errorf("width %d: line of %d cells: %q", width, w, ansi.Strip(line))
			}
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

	// However many steps go by untaken, the queue stays bounded and keeps
	// the latest.
	for i := range 10 * maxPending {
		d.Update(step(i, 0))
	}
	if len(d.pending) != maxPending || d.pending[maxPending-1].Step != 10*maxPending-1 {
		t.Errorf("pending holds %d, last step %d", len(d.pending), d.pending[len(d.pending)-1].Step)
	}
}

// TestProgram runs the model in a bubbletea program: statuses arrive as
// messages, q asks the run to stop, and the program keeps showing the run
// winding down until it is told to quit.
func TestProgram(t *testing.T) {
	cancelled := make(chan struct{})
	tm := teatest.NewTestModel(t, NewModel("bookingapp-canary", func() { close(cancelled) }), teatest.WithInitialTermSize(100, 30))
	for _, tc := range run[:4] {
		tm.Send(StatusMsg(tc.status))
	}
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("canary-25")) },
		teatest.WithDuration(5*time.Second))
	tm.Type("q")
	select {
	case <-cancelled:
	case <-time.After(polltest.Limit):
		t.Fatal("q did not cancel the run")
	}
	tm.Send(StatusMsg(status.Status{Phase: "teardown", Message: "deleting the world"}))
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	m := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)
	if !m.Stopping() || m.status.Phase != "teardown" || len(m.history) != 2 || m.history[1].StepName != "canary-25" {
		t.Errorf("final model: stopping %v, phase %q, history %+v", m.Stopping(), m.status.Phase, m.history)
	}
	view := ansi.Strip(m.View().Content)
	for _, want := range []string{"deleting the world", "step 2/2 canary-25  v1=75 v2=25", "stopping:"} {
		if !strings.Contains(view, want) {
			t.Errorf("final view lacks %q:\n%s", want, view)
		}
	}
}

// TestDashboard drives a Dashboard as the engine and main do: Update from
// another goroutine, a key press that cancels, Close before the report.
func TestDashboard(t *testing.T) {
	in, keys, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	defer keys.Close()
	var out bytes.Buffer
	cancelled := make(chan struct{})
	d := StartDashboard(NewModel("bookingapp-canary", func() { close(cancelled) }),
		tea.WithInput(in), tea.WithOutput(&out), tea.WithWindowSize(100, 30))

	updated := make(chan struct{})
	go func() { // the engine
		defer close(updated)
		for _, tc := range run[:4] {
			d.Update(tc.status)
		}
	}()
	<-updated
	if _, err := keys.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cancelled:
	case <-time.After(polltest.Limit):
		t.Fatal("q did not cancel the run")
	}
	d.Update(status.Status{Phase: "done", Message: "writing the run directory"})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d.Update(status.Status{Phase: "setup", Message: "after close"}) // dropped, does not block
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	m := d.final.(Model)
	if !m.Stopping() || !m.ended || m.status.Phase != "done" || len(m.history) != 2 {
		t.Errorf("final model: stopping %v, ended %v, phase %q, history %+v", m.Stopping(), m.ended, m.status.Phase, m.history)
	}
	if view := ansi.Strip(m.View().Content); !strings.Contains(view, "stopped at your request") {
		t.Errorf("final view:\n%s", view)
	}
	if len(d.pending) != 0 {
		t.Errorf("%d statuses left pending after Close", len(d.pending))
	}
	if !bytes.Contains(out.Bytes(), []byte("bookingapp-canary")) {
		t.Errorf("the program drew nothing: %q", out.String())
	}
}

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
	d := StartDashboard(NewModel("bench", nil), tea.WithInput(nil), tea.WithOutput(io.Discard), tea.WithWindowSize(100, 30))
	defer d.Close()
	st := run[3].status
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		st.Step = i / 1000 // a new step now and then
		d.Update(st)
	}
}
