package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/sim/contract"
)

// This file is the external-driver mode (meshsim up): the engine stands
// the world up, drives the load and measures, while someone else rolls
// out (the AWS CLI, boto3, a CI job, against the fakes). Its steps are
// what ECS and App Mesh report: each route update and each deployment
// change begins one.

// externalStep is the name of the step in force before anything changed.
const externalStep = "up"

// external receives, in external-driver mode, the world's events that
// begin steps.
type external struct {
	events chan rundir.Event
}

func newExternal() *external { return &external{events: make(chan rundir.Event, 1024)} }

// observe passes on the events that may begin a step; it never blocks
// (the event recorder must not stall), so a burst beyond the buffer loses
// steps, never observations.
func (x *external) observe(e rundir.Event) {
	if x == nil || !stepEvent(e) {
		return
	}
	select {
	case x.events <- e:
	default:
	}
}

func stepEvent(e rundir.Event) bool {
	switch {
	case e.Source == contract.SourceAppMesh && e.Type == contract.EventRouteUpdated:
		return true
	case e.Source == contract.SourceECS && e.Type == contract.EventDeploymentState:
		return true
	}
	return false
}

// watchExternal keeps step 0 in force, then begins a step for each route
// update and deployment change reported, until until is closed or ctx is
// done.
func (r *runner) watchExternal(ctx context.Context, wld *world) error {
	start := time.Now()
	r.timeline.begin(0, start)
	cur, began := 0, start
	tick := time.NewTicker(r.timeline.tick)
	defer tick.Stop()
	seen := map[string]string{} // deployment id → the last rollout state seen
	for {
		select {
		case <-ctx.Done():
			r.timeline.end(cur, true)
			return ctx.Err()
		case <-r.opts.Until:
			r.timeline.end(cur, false)
			return nil
		case <-tick.C:
			r.timeline.report(cur, time.Since(began), 0)
		case e := <-r.external.events:
			if e.Time.Before(start) {
				continue // the world being set up
			}
			name, weights, ok := wld.externalStep(e, seen)
			if ok {
				cur, began = r.timeline.add(name, weights, e.Time), time.Now()
			}
		}
	}
}

// externalStep names the step an event begins, with the weights per
// version it configures (nil when it configures none); ok is false for an
// event that begins no step (a deployment's state unchanged).
func (w *world) externalStep(e rundir.Event, seen map[string]string) (name string, weights map[string]float64, ok bool) {
	if e.Source == contract.SourceAppMesh {
		route := e.Resource[strings.LastIndexByte(e.Resource, '/')+1:]
		weights = map[string]float64{}
		for t := range strings.SplitSeq(e.Detail["weights"], ",") {
			node, pct, found := strings.Cut(t, "=")
			if !found {
				continue
			}
			v, err := strconv.ParseFloat(pct, 64)
			if err != nil {
				continue
			}
			weights[w.nodeVersion(node)] += v
		}
		return fmt.Sprintf("UpdateRoute %s (version %s)", route, e.Detail["version"]), normalized(weights), true
	}
	id, state := e.Detail["id"], e.Detail[contract.DetailRolloutState]
	if id == "" || state == "" || seen[id] == state {
		return "", nil, false
	}
	seen[id] = state
	td := e.Detail[contract.DetailTaskDefinition]
	td = td[strings.LastIndexByte(td, '/')+1:]
	return fmt.Sprintf("%s deployment %s of %s: %s", e.Detail[contract.DetailService], id[strings.LastIndexByte(id, '/')+1:], td, strings.ToLower(state)), nil, true
}

// nodeVersion names the version a virtual node runs, or the node itself
// when it is not one of the scenario's.
func (w *world) nodeVersion(node string) string {
	for _, u := range w.units() {
		if u.name == node {
			return u.version.Name
		}
	}
	return node
}

// normalized turns relative weights into percentages.
func normalized(weights map[string]float64) map[string]float64 {
	var sum float64
	for _, v := range weights {
		sum += v
	}
	if sum == 0 {
		return weights
	}
	for k, v := range weights {
		weights[k] = 100 * v / sum
	}
	return weights
}
