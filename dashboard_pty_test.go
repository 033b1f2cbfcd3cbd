package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/vt"
	"github.com/creack/pty"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
	"github.com/meshsim/meshsim/sim/contract"
)

// screen is a terminal emulator fed from a pseudo-terminal: what a user
// would see.
type screen struct {
	mu sync.Mutex
	vt *vt.Emulator
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.vt.Write(p)
}

func (s *screen) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.vt.String()
}

// TestDashboardInATerminal runs "meshsim run" in a pseudo-terminal during
// a short scenario and reads its screen back through a terminal emulator:
// the dashboard draws the steps, the versions and the event log; n
// advances to the next step, r rolls back to the first step's weights
// (a "rollback" step, recorded as a control event), q asks before it
// quits and y confirms; the run is then reported as interrupted and
// partial, with its reports written.
func TestDashboardInATerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real run")
	}
	dir := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "run", "bookingapp-canary", "--bake", "10s", "--rate", "40", "--out", dir)
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "TERM=xterm-256color")
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 60, Cols: 140})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	scr := &screen{vt: vt.NewEmulator(140, 60)}
	go func() { _, _ = io.Copy(scr, ptmx) }()    // what meshsim draws
	go func() { _, _ = io.Copy(ptmx, scr.vt) }() // the terminal's answers to its queries
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	waitFor := func(what string, ok func(string) bool) string {
		t.Helper()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			s := scr.text()
			if ok(s) {
				return s
			}
			select {
			case err := <-exited:
				time.Sleep(500 * time.Millisecond) // the last output
				t.Fatalf("meshsim exited (%v) before the screen showed %s:\n%s", err, what, scr.text())
			case <-ctx.Done():
				t.Fatalf("the screen never showed %s:\n%s", what, s)
			case <-tick.C:
			}
		}
	}
	press := func(keys string) {
		t.Helper()
		if _, err := ptmx.Write([]byte(keys)); err != nil {
			t.Fatal(err)
		}
	}

	// The event log shows the engine's AWS calls (during setup: within a
	// step, a route change's xDS events may scroll its UpdateRoute out).
	waitFor("an AWS call in the event log", has("events", "AWS "))
	// n must be pressed while step 2 holds, or it skips another.
	s := waitFor("step 2", both(current("step 2/5 canary-25"),
		has("meshsim · bookingapp-canary · rollout", "weight → observed", "events", "tasks", "instrument", "q quit")))
	t.Logf("screen in step 2:\n%s", s)
	press("n")
	waitFor("step 3 after n", current("step 3/5 half"))
	press("r")
	s = waitFor("the rollback step", has("step 4/4 rollback", "decisions", "rollback: rolled back by the user during step 3"))
	t.Logf("screen after r:\n%s", s)
	press("q")
	waitFor("the quit question", has("quit?"))
	press("y")
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
			t.Errorf("meshsim exited with %v, want exit %d", err, exitInterrupted)
		}
	case <-ctx.Done():
		t.Fatal("meshsim did not exit after q, y")
	}

	checkQuitRun(t, dir)
}

// has matches a screen that shows every one of parts.
func has(parts ...string) func(string) bool {
	return func(s string) bool {
		for _, p := range parts {
			if !strings.Contains(s, p) {
				return false
			}
		}
		return true
	}
}

// current matches the header of the step in force ("step 2/5 canary-25
// 0.3s / 10s"), not the same step's line among the ended steps.
func current(step string) func(string) bool {
	re := regexp.MustCompile(regexp.QuoteMeta(step) + `\s+[0-9.]+s / 10s`)
	return func(s string) bool { return re.MatchString(s) }
}

// both matches a screen that a and b match.
func both(a, b func(string) bool) func(string) bool {
	return func(s string) bool { return a(s) && b(s) }
}

// checkQuitRun checks the run directory of the run the test drove: the
// first three steps and a rollback step with the first step's weights,
// steps 2 and 3 cut short by the keys, one rollback control event, and a
// partial report.
func checkQuitRun(t *testing.T, dir string) {
	t.Helper()
	run, err := rundir.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(run.Meta.Steps))
	for i, st := range run.Meta.Steps {
		names[i] = st.Name
	}
	if len(names) != 4 || names[3] != "rollback" || !run.Meta.Partial {
		t.Errorf("steps %v (want the first three and rollback), partial %v", names, run.Meta.Partial)
	}
	if len(names) == 4 {
		if w := run.Meta.Steps[3].Weights; w["v1"] != 100 || w["v2"] != 0 {
			t.Errorf("rollback step's weights %v, want the first step's", w)
		}
		// n and r ended steps 2 and 3 well before their 10 s bake.
		for _, st := range run.Meta.Steps[1:3] {
			if d := st.End.Sub(st.Start); d >= 9*time.Second {
				t.Errorf("step %q lasted %v: the key did not end it", st.Name, d)
			}
		}
	}
	controls := 0
	for _, e := range run.Events {
		if e.Source == contract.SourceEngine && e.Type == contract.EventControl && e.Detail[contract.DetailAction] == "rollback" {
			controls++
		}
	}
	if controls != 1 {
		t.Errorf("%d rollback control events, want 1", controls)
	}
	var rep reports.Report
	data, err := os.ReadFile(filepath.Join(dir, reports.JSONFile))
	if err != nil {
		t.Fatalf("no report after quitting: %v", err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Run.Partial {
		t.Error("the report of a quit run is not partial")
	}
}
