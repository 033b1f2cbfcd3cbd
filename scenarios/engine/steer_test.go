package engine

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/meshsim/meshsim/loadgen/metrics"
	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/scenarios/engine/status"
	"github.com/meshsim/meshsim/sim/contract"
)

// TestSteerHold drives a step's hold with the user's controls on a fake
// clock: a pause keeps the step in force past its bake (holding) until
// resumed; advance ends it at once; rollback and abort end it cut with
// their errors; without a request the hold lasts exactly the bake.
func TestSteerHold(t *testing.T) {
	type act struct {
		at time.Duration
		do func(*Steer)
	}
	tests := []struct {
		name    string
		acts    []act
		want    error
		held    time.Duration
		holding bool // a status said the step was holding past its bake
	}{
		{name: "no request", held: time.Second},
		{name: "advance", acts: []act{{300 * time.Millisecond, (*Steer).Advance}}, held: 300 * time.Millisecond},
		{name: "pause then resume", acts: []act{{200 * time.Millisecond, func(s *Steer) { s.TogglePause() }}, {2500 * time.Millisecond, func(s *Steer) { s.TogglePause() }}},
			held: 2500 * time.Millisecond, holding: true},
		{name: "pause then advance", acts: []act{{200 * time.Millisecond, func(s *Steer) { s.TogglePause() }}, {1700 * time.Millisecond, (*Steer).Advance}},
			held: 1700 * time.Millisecond, holding: true},
		{name: "rollback", acts: []act{{400 * time.Millisecond, (*Steer).Rollback}}, want: errRolledBack, held: 400 * time.Millisecond},
		{name: "abort", acts: []act{{600 * time.Millisecond, (*Steer).Abort}}, want: errAborted, held: 600 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				progress := &statuses{}
				var ends []string
				tl := newTimeline([]rundir.Step{{Index: 0, Name: "base", Weights: map[string]float64{"v1": 100}}}, true, metrics.NewRun(time.Minute), progress,
					func(typ contract.EventType, _ string, d map[string]string) {
						if typ == contract.EventStepEnd {
							ends = append(ends, "end"+d[contract.DetailCut])
						}
					})
				steer := NewSteer()
				tl.steer = steer
				t0 := time.Now()
				tl.begin(0, t0)
				for _, a := range tc.acts {
					go func() {
						time.Sleep(a.at)
						a.do(steer)
					}()
				}
				err := tl.hold(t.Context(), 0, time.Second)
				if !errors.Is(err, tc.want) {
					t.Errorf("hold: %v, want %v", err, tc.want)
				}
				if d := time.Since(t0); d != tc.held {
					t.Errorf("held %v, want %v", d, tc.held)
				}
				holding := false
				for _, s := range progress.list {
					holding = holding || s.Control.Holding
				}
				if holding != tc.holding {
					t.Errorf("a status said holding: %v, want %v", holding, tc.holding)
				}
				wantEnd := "end"
				if tc.want != nil {
					wantEnd = "endtrue"
				}
				if len(ends) != 1 || ends[0] != wantEnd {
					t.Errorf("step ends %v, want [%s]", ends, wantEnd)
				}
				synctest.Wait()
			})
		})
	}
}

// TestTimelinePlan: the status lists the run's steps with the current one
// and the time the planned holds still take.
func TestTimelinePlan(t *testing.T) {
	tl := newTimeline([]rundir.Step{{Name: "a", Bake: 2 * time.Second}, {Name: "b", Bake: 3 * time.Second}, {Name: "c", Bake: 4 * time.Second}}, true,
		metrics.NewRun(time.Minute), nopProgress{}, func(contract.EventType, string, map[string]string) {})
	s := tl.status(1, time.Second, 3*time.Second)
	var states []string
	for _, p := range s.Plan {
		states = append(states, p.Name+":"+p.State)
	}
	if got := len(states); got != 3 || states[0] != "a:"+status.StateDone || states[1] != "b:"+status.StateCurrent || states[2] != "c:"+status.StatePending {
		t.Errorf("plan %v", states)
	}
	if s.Left != 6*time.Second || s.Steps != 3 {
		t.Errorf("left %v (want 6s), steps %d", s.Left, s.Steps)
	}
	tl.setDeployment(deploymentStatus{i: 1, n: 2, name: "canary", stage: "PRODUCTION_TRAFFIC_SHIFT", pending: []string{"deployment 2/2: next"}})
	s = tl.status(1, 0, 0)
	if s.Deployment != 1 || s.Deployments != 2 || s.StageIndex != 7 || s.Stages != 10 || len(s.Plan) != 4 {
		t.Errorf("deployment status %+v", s)
	}
}
