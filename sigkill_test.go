package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
	"github.com/meshsim/meshsim/sim/contract"
)

// runMainEnv makes the test binary act as the meshsim command, so that a
// test can start a real meshsim process (and kill it).
const runMainEnv = "MESHSIM_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(exitOK)
	}
	os.Exit(m.Run())
}

// stepEvents reads the engine's step events written so far: the indexes of
// the steps that started and of those that ended.
func stepEvents(path string) (started, ended map[int]bool) {
	started, ended = map[int]bool{}, map[int]bool{}
	f, err := os.Open(path)
	if err != nil {
		return started, ended
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e rundir.Event
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Source != contract.SourceEngine {
			continue // a torn line at the end
		}
		i, err := strconv.Atoi(e.Detail[contract.DetailStep])
		if err != nil {
			continue
		}
		switch e.Type {
		case contract.EventStepStart:
			started[i] = true
		case contract.EventStepEnd:
			ended[i] = true
		}
	}
	return started, ended
}

// A run killed with SIGKILL at a step boundary leaves run.json as written
// at its start; "meshsim report" still judges every step that ran, on the
// windows the engine's step events give (issue: after SIGKILL only the
// last reached step was judged).
func TestReportAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real run")
	}
	dir := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// A low rate keeps the run light on a busy machine; the bake is what
	// the reproduction used.
	cmd := exec.CommandContext(ctx, os.Args[0], "run", "bookingapp-canary", "--plain", "--bake", "2s", "--rate", "50", "--out", dir)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Kill it at the boundary between steps 1 and 2: as soon as the run
	// directory shows step 2 started. The events reach the file within
	// 200 ms; poll them until then.
	events := filepath.Join(dir, rundir.EventsFile)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for started, _ := stepEvents(events); !started[2]; started, _ = stepEvents(events) {
		select {
		case err := <-exited:
			t.Fatalf("meshsim exited before step 2 began: %v", err)
		case <-ctx.Done():
			t.Fatalf("step 2 did not begin within the test's time")
		case <-tick.C:
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited

	started, ended := stepEvents(events)
	t.Logf("killed after step events: started %v, ended %v", started, ended)
	out, errOut, code := execute(t, "report", dir)
	var r reports.Report
	data, err := os.ReadFile(filepath.Join(dir, reports.JSONFile))
	if err != nil {
		t.Fatalf("no report (exit %d): %v\n%s\n%s", code, err, out, errOut)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if !r.Run.Partial || r.Verdict == reports.VerdictPass || code == exitOK {
		t.Errorf("killed run: partial %v, verdict %q, exit %d", r.Run.Partial, r.Verdict, code)
	}
	if code != verdictCode(r.Verdict) {
		t.Errorf("exit code %d for verdict %q", code, r.Verdict)
	}
	judged := 0
	for _, s := range r.Steps {
		ran := started[s.Index]
		if s.Reached != ran {
			t.Errorf("step %d %q: reached %v, its step.start recorded %v", s.Index, s.Name, s.Reached, ran)
		}
		if !ended[s.Index] {
			continue
		}
		// A step that ran to its end has its window and its shares
		// counted after its own weights' convergence, before the next
		// step's change.
		if s.End.IsZero() || s.Requests == 0 || s.ShareRequests == 0 || s.Convergence.Excluded == s.Requests ||
			s.Verdict == reports.VerdictNotJudged || s.Convergence.After > s.Duration {
			t.Errorf("step %d %q not judged on its own window: end %v, %d requests, %d counted, convergence %+v, verdict %q (%s)",
				s.Index, s.Name, s.End, s.Requests, s.ShareRequests, s.Convergence, s.Verdict, s.VerdictReason)
			continue
		}
		judged++
	}
	t.Logf("verdict %s (%s); %d steps ended and judged of %d started", r.Verdict, r.VerdictReason, judged, len(started))
	for _, a := range r.Assertions {
		t.Logf("%s %s: %s", a.Verdict, a.Kind, a.Message)
	}
	if judged < 2 {
		t.Errorf("%d completed steps judged, want steps 0 and 1", judged)
	}
}
