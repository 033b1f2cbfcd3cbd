package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/meshsim/meshsim/loadgen/metrics"
	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/scenarios/engine/status"
	"github.com/meshsim/meshsim/sim/contract"
)

// statuses records the progress reported.
type statuses struct {
	mu   sync.Mutex
	list []status.Status
}

func (s *statuses) Update(st status.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, st)
}

// TestTimelineHold holds steps on a fake clock (synctest): a step begins,
// is held for exactly its bake time with progress every tick and its live
// counts, and ends; a step cut short by the context ends marked cut.
func TestTimelineHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		agg := metrics.NewRun(time.Minute)
		progress := &statuses{}
		var events []string
		tl := newTimeline([]rundir.Step{{Index: 0, Name: "base", Weights: map[string]float64{"v1": 100}}, {Index: 1, Name: "half"}}, true, agg, progress,
			func(typ contract.EventType, _ string, d map[string]string) {
				events = append(events, fmt.Sprintf("%s %s%s", typ, d[contract.DetailStep], d[contract.DetailCut]))
			})
		var begun []string
		tl.onBegin = func(name string) { begun = append(begun, name) }

		t0 := time.Now()
		tl.begin(0, t0)
		agg.Add(rundir.Observation{Kind: rundir.KindHTTP, Step: 0, Status: 200, Version: "v1"})
		agg.Add(rundir.Observation{Kind: rundir.KindHTTP, Step: 0, Status: 503, Error: "503", Version: "v1"})
		if err := tl.hold(t.Context(), 0, time.Second); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(t0); d != time.Second {
			t.Errorf("held %v, want 1s", d)
		}
		last := progress.list[len(progress.list)-1]
		// One status at the start, one per tick, one at the end; the last
		// tick and the end fall due together, in either order.
		ticks := int(time.Second / tl.tick)
		if n := len(progress.list); n < ticks+1 || n > ticks+2 || last.StepElapsed != time.Second || last.Requests != 2 || last.Failed != 1 || last.Versions["v1"] != 2 || last.Steps != 2 {
			t.Errorf("%d statuses, last %+v", len(progress.list), last)
		}

		ctx, cancel := context.WithCancel(t.Context())
		tl.begin(1, time.Now())
		go func() {
			time.Sleep(300 * time.Millisecond)
			cancel()
		}()
		if err := tl.hold(ctx, 1, time.Hour); err != context.Canceled {
			t.Errorf("hold of a cancelled step: %v", err)
		}
		steps := tl.snapshot()
		if steps[0].Start != t0 || steps[0].End != t0.Add(time.Second) || steps[1].End.Sub(steps[1].Start) != 300*time.Millisecond {
			t.Errorf("steps %+v", steps)
		}
		want := "[step.start 0 step.end 0 step.start 1 step.end 1true]"
		if fmt.Sprint(events) != want || fmt.Sprint(begun) != "[base half]" {
			t.Errorf("events %v, want %s; begun %v", events, want, begun)
		}
		if tot := tl.totals(); len(tot) != 2 || tot[0].Requests != 2 || tot[1].Requests != 0 || tot[0].Name != "base" {
			t.Errorf("totals %+v", tot)
		}
	})
}

// TestTimelineAddPhases: deployment phases are added as ECS reports them;
// a phase is dated when ECS reported the change, and ends the previous one
// then, never before that one began.
func TestTimelineAddPhases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := newTimeline(nil, false, metrics.NewRun(time.Minute), nopProgress{}, func(contract.EventType, string, map[string]string) {})
		t0 := time.Now()
		a := tl.add("baseline", map[string]float64{"v1": 100}, t0)
		time.Sleep(time.Second)
		b := tl.add("deploy: SCALE_UP", nil, t0.Add(500*time.Millisecond)) // reported half a second ago
		time.Sleep(time.Second)
		c := tl.add("deploy: CLEAN_UP", nil, t0) // before b began: taken as now
		steps := tl.snapshot()
		if a != 0 || b != 1 || c != 2 || tl.current() != 2 {
			t.Fatalf("indexes %d %d %d, current %d", a, b, c, tl.current())
		}
		if steps[0].End != t0.Add(500*time.Millisecond) || steps[1].Start != t0.Add(500*time.Millisecond) ||
			steps[1].End != t0.Add(2*time.Second) || steps[2].Start != t0.Add(2*time.Second) {
			t.Errorf("steps %+v", steps)
		}
		if s := tl.status(1, 0, 0); s.Steps != 0 || s.StepName != "deploy: SCALE_UP" {
			t.Errorf("status of a phase %+v: phases have no known count", s)
		}
	})
}
