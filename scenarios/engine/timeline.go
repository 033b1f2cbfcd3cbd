package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/meshsim/meshsim/loadgen/metrics"
	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/scenarios/engine/status"
	"github.com/meshsim/meshsim/sim/contract"
)

// timeline is the run's sequence of steps: the scenario's route steps,
// planned in advance, or the phases of ECS deployments as they happen. It
// knows the step in force (every request is scheduled in one), records
// when each began and ended, and reports progress with the step's live
// counts.
type timeline struct {
	planned  bool // the steps are known in advance (route steps)
	agg      *metrics.Run
	progress Progress
	event    func(typ contract.EventType, resource string, detail map[string]string)
	// onBegin is called with a step's name as it begins (the faults tied
	// to a step fire then); nil for none.
	onBegin func(name string)
	// tick is how often hold reports progress.
	tick time.Duration
	// steer is the user's controls (nil for none); live assembles the
	// run's live figures for the status (nil for none).
	steer *Steer
	live  *live

	cur atomic.Int32 // index of the step in force

	mu    sync.Mutex
	steps []rundir.Step
	// deploy is the ECS deployment in progress, for the status.
	deploy deploymentStatus
}

// deploymentStatus is where a run of ECS deployments is: deployment i
// (from 1) of n, and the lifecycle stage ECS reports.
type deploymentStatus struct {
	i, n        int
	name, stage string
	// pending names the deployments still to run.
	pending []string
}

// setDeployment records which ECS deployment runs (i from 1; 0 for none)
// and the stage ECS reports.
func (t *timeline) setDeployment(d deploymentStatus) {
	t.mu.Lock()
	t.deploy = d
	t.mu.Unlock()
}

// setStage records the lifecycle stage the deployment in progress is in.
func (t *timeline) setStage(stage string) {
	t.mu.Lock()
	t.deploy.stage = stage
	t.mu.Unlock()
}

func newTimeline(steps []rundir.Step, planned bool, agg *metrics.Run, progress Progress, event func(contract.EventType, string, map[string]string)) *timeline {
	return &timeline{planned: planned, agg: agg, progress: progress, event: event, steps: steps, tick: 250 * time.Millisecond}
}

// current returns the index of the step in force.
func (t *timeline) current() int { return int(t.cur.Load()) }

// begin puts step i in force, recording that its configuration changed at
// `at` (for a deployment phase, when ECS reported the change, a moment
// before the engine saw it): requests scheduled from now on belong to it.
func (t *timeline) begin(i int, at time.Time) {
	t.mu.Lock()
	t.steps[i].Start = at
	st := t.steps[i]
	t.mu.Unlock()
	if t.onBegin != nil {
		t.onBegin(st.Name)
	}
	t.cur.Store(int32(i))
	t.event(contract.EventStepStart, "", map[string]string{contract.DetailStep: fmt.Sprint(i), contract.DetailName: st.Name, contract.DetailWeights: weightString(st.Weights)})
}

// add appends a step that the run discovered (a deployment phase) and
// puts it in force; it returns its index. A phase that began at `at`
// before the previous step's start is taken to begin now.
func (t *timeline) add(name string, weights map[string]float64, at time.Time) int {
	t.mu.Lock()
	i := len(t.steps)
	if i > 0 && !at.After(t.steps[i-1].Start) {
		at = time.Now()
	}
	if i > 0 && !t.steps[i-1].Start.IsZero() && (t.steps[i-1].End.IsZero() || t.steps[i-1].End.After(at)) {
		t.steps[i-1].End = at
	}
	t.steps = append(t.steps, rundir.Step{Index: i, Name: name, Weights: weights})
	t.mu.Unlock()
	t.begin(i, at)
	return i
}

// cutAfter drops the planned steps after step i, which will not run.
func (t *timeline) cutAfter(i int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.steps = t.steps[:i+1]
}

// end records the end of step i; cut marks a step the run stopped short.
func (t *timeline) end(i int, cut bool) {
	t.mu.Lock()
	t.steps[i].End = time.Now()
	t.mu.Unlock()
	detail := map[string]string{contract.DetailStep: fmt.Sprint(i)}
	if cut {
		detail[contract.DetailCut] = "true"
	}
	t.event(contract.EventStepEnd, "", detail)
}

// hold keeps step i in force for d, reporting progress, then ends it. The
// user's controls can end it early (advance), keep it in force past d
// (pause), or stop the run (abort: errAborted; roll back: errRolledBack),
// the step then ending cut. When ctx ends first, the step ends cut and
// hold returns ctx's error.
func (t *timeline) hold(ctx context.Context, i int, d time.Duration) error {
	start := time.Now()
	done := time.NewTimer(d)
	defer done.Stop()
	tick := time.NewTicker(t.tick)
	defer tick.Stop()
	elapsed := false
	for {
		switch t.steer.decide(elapsed) {
		case holdEnd:
			t.report(i, time.Since(start), d)
			t.end(i, false)
			return nil
		case holdAbort:
			t.end(i, true)
			return errAborted
		case holdRollback:
			t.end(i, true)
			return errRolledBack
		}
		t.report(i, time.Since(start), d)
		select {
		case <-ctx.Done():
			t.end(i, true)
			return ctx.Err()
		case <-tick.C:
		case <-t.steer.woken():
		case <-done.C:
			elapsed = true
		}
	}
}

// report sends the progress of step i: elapsed of bake (0 when the step
// has no set length), with its live counts.
func (t *timeline) report(i int, elapsed, bake time.Duration) {
	t.progress.Update(t.status(i, elapsed, bake))
}

func (t *timeline) status(i int, elapsed, bake time.Duration) status.Status {
	t.mu.Lock()
	st := t.steps[i]
	steps := len(t.steps)
	s := status.Status{Phase: status.PhaseRollout, Step: i, StepName: st.Name, StepElapsed: elapsed, StepBake: bake}
	s.Plan, s.Left = t.plan(i, elapsed, bake)
	if d := t.deploy; d.i > 0 {
		s.Deployment, s.Deployments, s.DeploymentName, s.Stage = d.i, d.n, d.name, d.stage
		stages := ecstypes.ServiceDeploymentLifecycleStage("").Values()
		s.Stages = len(stages)
		s.StageIndex = slices.Index(stages, ecstypes.ServiceDeploymentLifecycleStage(d.stage)) + 1
	}
	t.mu.Unlock()
	if t.planned {
		s.Steps = steps
	}
	for _, v := range sortedKeys(st.Weights) {
		s.Weights = append(s.Weights, status.VersionWeight{Version: v, Weight: int(math.Round(st.Weights[v]))})
	}
	c := t.agg.Step(i)
	s.Requests, s.Failed = int64(c.Requests), int64(c.Failed)
	s.Versions = make(map[string]int64, len(c.Versions))
	for v, n := range c.Versions {
		s.Versions[v] = int64(n)
	}
	s.Control = t.steer.State()
	s.Live = t.live.view(i, s.Weights)
	return s
}

// plan lists the run's steps, step i current, with the deployments still
// to run, and the time the planned holds still take (0 when ECS decides
// how long the run lasts); t.mu is held.
func (t *timeline) plan(i int, elapsed, bake time.Duration) ([]status.PlanStep, time.Duration) {
	plan := make([]status.PlanStep, 0, len(t.steps)+len(t.deploy.pending))
	left := max(bake-elapsed, 0)
	for j, st := range t.steps {
		p := status.PlanStep{Name: st.Name, Bake: st.Bake, State: status.StateDone}
		switch {
		case j == i:
			p.State = status.StateCurrent
		case j > i:
			p.State = status.StatePending
			left += st.Bake
		}
		plan = append(plan, p)
	}
	for _, name := range t.deploy.pending {
		plan = append(plan, status.PlanStep{Name: name, State: status.StatePending})
	}
	if !t.planned {
		left = 0
	}
	return plan, left
}

// totals returns every step's counts so far; once the load has stopped,
// its final counts.
func (t *timeline) totals() []status.StepTotal {
	steps := t.snapshot()
	out := make([]status.StepTotal, len(steps))
	for i, st := range steps {
		c := t.agg.Step(i)
		out[i] = status.StepTotal{Step: i, Name: st.Name, Requests: int64(c.Requests), Failed: int64(c.Failed), Versions: make(map[string]int64, len(c.Versions))}
		for v, n := range c.Versions {
			out[i].Versions[v] = int64(n)
		}
	}
	return out
}

// start returns when step i began.
func (t *timeline) start(i int) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.steps[i].Start
}

// snapshot copies the steps as recorded so far.
func (t *timeline) snapshot() []rundir.Step {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]rundir.Step(nil), t.steps...)
}

// pickStack chooses, for one request of a migration, the stack whose
// ingress gets it: 0 (App Mesh) or 1 (Service Connect), by the current
// step's weights.
func (t *timeline) pickStack() int {
	t.mu.Lock()
	w := t.steps[t.current()].Weights
	t.mu.Unlock()
	am, twin := w[scenarios.StackAppMesh], w[scenarios.StackServiceConnect]
	if am+twin <= 0 || rand.Float64()*(am+twin) < am {
		return 0
	}
	return 1
}
