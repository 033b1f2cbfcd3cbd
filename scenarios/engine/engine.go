// Package engine runs a scenario: it stands the world up through the AWS
// APIs (aws-sdk-go-v2 clients against the fakes' endpoint), waits until the
// services are steady and the data plane answers, drives load through the
// ingress while it applies each rollout step with UpdateRoute and holds it
// for its bake time, records every observation and world event in the run
// directory, and tears the world down at the end, also when cancelled.
package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshsim/meshsim/loadgen"
	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/sim/awsclient"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/poll"
	"google.golang.org/grpc/resolver"
)

// Options configure a run.
type Options struct {
	// Endpoint is the fakes' endpoint URL, for example http://127.0.0.1:4566.
	Endpoint string
	// Dir is the run directory to create.
	Dir string
	// RunID names the run; Runtime names the runtime executing the tasks.
	RunID   string
	Runtime string
	// Progress receives status updates; nil for none.
	Progress Progress
	// XDSAddress is the control plane's host:port, for proxyless gRPC
	// clients (load.client: proxyless).
	XDSAddress string
	// XDSResolver builds a proxyless client's xDS resolver
	// (loadgen/proxyless.NewResolver); required for load.client: proxyless.
	XDSResolver func(bootstrap []byte) (resolver.Builder, error)
	// Faults carries out the scenario's faults that need the runtime (kill,
	// pause, disconnect); nil when the runtime cannot.
	Faults Faults
	// SetupTimeout bounds standing the world up and waiting for it to be
	// ready (default 90s).
	SetupTimeout time.Duration
}

// Progress receives the engine's status as the run goes. Update is called
// from the engine's goroutines, one call at a time.
type Progress interface {
	Update(Status)
}

// Status is what the engine is doing, with the current step's live counts.
type Status struct {
	// Phase is "setup", "rollout", "deployment", "teardown" or "done".
	Phase   string
	Message string
	// Step is the current step index (rollout phase), of Steps.
	Step, Steps int
	StepName    string
	// Weights is the current step's configured weights, in version order.
	Weights     []VersionWeight
	StepElapsed time.Duration
	StepBake    time.Duration
	// Requests and Failed count the current step's observations so far;
	// Versions counts successful responses per version of the measured
	// service.
	Requests, Failed int64
	Versions         map[string]int64
}

// VersionWeight is one version's configured weight.
type VersionWeight struct {
	Version string
	Weight  int
}

// Result is the outcome of a run.
type Result struct {
	// Dir is the run directory, complete or partial.
	Dir string
	// Partial is set when the run did not reach its end; Reason says why.
	Partial bool
	Reason  string
	Load    loadgen.Summary
}

// Run runs sc. It always leaves a readable run directory in opts.Dir, and
// returns an error only when the run could not complete (setup failure,
// cancellation); the Result is valid even then.
func Run(ctx context.Context, sc *scenarios.Scenario, opts Options) (*Result, error) {
	if opts.SetupTimeout == 0 {
		opts.SetupTimeout = 90 * time.Second
	}
	if opts.Progress == nil {
		opts.Progress = nopProgress{}
	}
	res := &Result{Dir: opts.Dir}
	if err := CheckFaults(sc, opts.Faults); err != nil {
		return res, err
	}
	w, err := rundir.Create(opts.Dir, meta(sc, opts))
	if err != nil {
		return res, fmt.Errorf("creating run directory: %w", err)
	}
	r := &runner{sc: sc, opts: opts, out: w, progress: opts.Progress, counts: newStepCounter(), recent: newWindow(2 * time.Minute),
		deploymentChanged: make(chan struct{}, 1)}
	r.steps = meta(sc, opts).Steps
	runErr := r.run(ctx, res)

	r.progress.Update(Status{Phase: "done", Message: "writing the run directory"})
	ended := time.Now()
	if runErr != nil {
		res.Partial, res.Reason = true, runErr.Error()
	}
	if err := w.UpdateMeta(func(m *rundir.Meta) {
		m.Ended = ended
		m.Partial, m.Reason = res.Partial, res.Reason
		r.mu.Lock()
		defer r.mu.Unlock()
		m.Steps = r.steps
		m.Deployments = r.deployments
	}); err != nil && runErr == nil {
		runErr = fmt.Errorf("recording the run's end: %w", err)
	}
	if err := w.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("closing the run directory: %w", err)
	}
	return res, runErr
}

func meta(sc *scenarios.Scenario, opts Options) rundir.Meta {
	m := rundir.Meta{
		FormatVersion:   rundir.FormatVersion,
		RunID:           opts.RunID,
		Scenario:        sc.Name,
		ScenarioSource:  sc.Source,
		Runtime:         opts.Runtime,
		Started:         time.Now(),
		MeasuredService: sc.Load.Measure,
		TimeScale:       sc.TimeScale,
		Load: rundir.Load{
			Rate:     sc.Load.Rate,
			Target:   sc.Ingress.Name + " → " + sc.Ingress.Service + sc.Load.Path,
			Timeout:  sc.Load.Timeout,
			Duration: sc.Duration(),
			Streams:  sc.Load.Streams,
		},
		Instrument: &rundir.InstrumentLimits{MaxLag: sc.Instrument.MaxLag, MinAchieved: sc.Instrument.MinAchieved},
	}
	for i, st := range sc.Rollout.Steps {
		weights := map[string]float64{}
		for v, pct := range st.Weights {
			weights[v] = float64(pct)
		}
		m.Steps = append(m.Steps, rundir.Step{Index: i, Name: st.Name, Weights: weights, Bake: st.Bake})
	}
	for _, a := range sc.Asserts {
		m.Assertions = append(m.Assertions, rundir.Assertion{Kind: a.Kind, Value: a.Value, Source: a.Pos.String()})
	}
	return m
}

type runner struct {
	sc       *scenarios.Scenario
	opts     Options
	out      *rundir.Writer
	progress Progress

	// step is the index in steps of the step in force.
	step   atomic.Int32
	meters meters // the load generators' (see instrument)
	counts *stepCounter
	recent *window

	mu          sync.Mutex
	steps       []rundir.Step // planned route steps, or deployment phases as they happen
	deployments []rundir.Deployment
	gates       gateSet
	// deploymentChanged is signalled when ECS reports a deployment change
	// on the event stream; lastChange is that event's time.
	deploymentChanged chan struct{}
	lastChange        atomic.Int64 // unix nanoseconds
	faults            *faultScheduler
}

func (r *runner) run(ctx context.Context, res *Result) error {
	sc := r.sc
	// Record the world's events from the fakes' event stream for the whole run.
	recCtx, stopRec := context.WithCancel(context.Background())
	recDone := make(chan struct{})
	go func() {
		defer close(recDone)
		recordEvents(recCtx, r.opts.Endpoint, r.out, r.onEvent)
	}()
	defer func() {
		// Let the last events (deregistrations, task stops) arrive.
		time.Sleep(300 * time.Millisecond)
		stopRec()
		<-recDone
	}()

	clients := awsclient.New(r.opts.Endpoint, sc.Region, recordCalls(r.out))
	wld := &world{sc: sc, aws: clients}
	defer func() {
		r.progress.Update(Status{Phase: "teardown", Message: "deleting the world through the AWS APIs"})
		tctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := wld.teardown(tctx); err != nil {
			r.engineEvent("teardown.error", "", map[string]string{"error": err.Error()})
		}
	}()

	setupCtx, cancelSetup := context.WithTimeout(ctx, r.opts.SetupTimeout)
	defer cancelSetup()
	r.progress.Update(Status{Phase: "setup", Message: "creating Cloud Map, App Mesh and ECS resources"})
	if err := wld.create(setupCtx); err != nil {
		return setupError(ctx, err)
	}
	r.progress.Update(Status{Phase: "setup", Message: "waiting for ECS services to reach a steady state"})
	if err := wld.waitStable(setupCtx, r.opts.SetupTimeout); err != nil {
		return setupError(ctx, err)
	}
	ip, err := wld.taskIP(setupCtx, sc.Ingress.Name)
	if err != nil {
		return setupError(ctx, err)
	}
	var twinIP string
	if wld.migration() {
		if twinIP, err = wld.taskIP(setupCtx, sc.Ingress.Name+"-sc"); err != nil {
			return setupError(ctx, err)
		}
	}
	ld := r.load(wld, ip, twinIP)
	r.progress.Update(Status{Phase: "setup", Message: "waiting for the data plane to answer through " + ld.describe()})
	if err := ld.ready(setupCtx); err != nil {
		return setupError(ctx, err)
	}
	r.engineEvent("world.ready", "", map[string]string{"ingress": ld.describe()})

	// Drive load for the whole rollout.
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var (
		loadWG  sync.WaitGroup
		loadErr error
	)
	stopInstrument := r.startInstrument()
	loadWG.Add(1)
	go func() {
		defer loadWG.Done()
		res.Load, loadErr = ld.run(loadCtx, func() int { return int(r.step.Load()) }, countingSink{r.out, r.counts, r.recent})
	}()
	r.mu.Lock()
	r.faults = r.scheduleFaults(loadCtx, wld)
	r.mu.Unlock()

	var stepErr error
	if len(sc.Rollout.Deployments) > 0 {
		stepErr = r.runDeployments(ctx, wld)
	} else {
		stepErr = r.runSteps(ctx, wld)
	}
	stopLoad()
	loadWG.Wait()
	stopInstrument()
	if stepErr != nil {
		return stepErr
	}
	if loadErr != nil && !errors.Is(loadErr, context.Canceled) {
		return fmt.Errorf("load: %w", loadErr)
	}
	return ctx.Err()
}

// runSteps applies each route step's weights and holds them for the bake
// time.
func (r *runner) runSteps(ctx context.Context, wld *world) error {
	for i, st := range r.sc.Rollout.Steps {
		r.beginStep(i)
		if i > 0 && !wld.migration() { // a migration's weights split the load itself
			if err := wld.setWeights(ctx, st.Weights); err != nil {
				r.endStep(i, false)
				return fmt.Errorf("step %d (%s): %w", i+1, st.Name, err)
			}
		}
		if err := r.hold(ctx, i, st.Bake); err != nil {
			return err
		}
	}
	return nil
}

// beginStep puts step i in force: requests scheduled from now on belong to
// it.
func (r *runner) beginStep(i int) { r.beginStepAt(i, time.Now()) }

// beginStepAt puts step i in force, recording that its configuration
// changed at `at` (for a deployment phase, when ECS reported the change,
// a moment before the engine saw it).
func (r *runner) beginStepAt(i int, at time.Time) {
	r.mu.Lock()
	r.steps[i].Start = at
	st := r.steps[i]
	faults := r.faults
	r.mu.Unlock()
	faults.stepBegan(st.Name)
	r.step.Store(int32(i))
	r.engineEvent(contract.EventStepStart, "", map[string]string{contract.DetailStep: fmt.Sprint(i), contract.DetailName: st.Name, contract.DetailWeights: weightString(st.Weights)})
}

// addStep appends a step that the run discovered (a deployment phase) and
// puts it in force; it returns its index.
func (r *runner) addStep(name string, weights map[string]float64) int {
	return r.addStepAt(name, weights, time.Now())
}

// addStepAt is addStep for a phase that began at `at`; a time before the
// previous step's start is taken as now.
func (r *runner) addStepAt(name string, weights map[string]float64, at time.Time) int {
	r.mu.Lock()
	i := len(r.steps)
	if i > 0 && !at.After(r.steps[i-1].Start) {
		at = time.Now()
	}
	if i > 0 && (r.steps[i-1].End.IsZero() || r.steps[i-1].End.After(at)) {
		r.steps[i-1].End = at
	}
	r.steps = append(r.steps, rundir.Step{Index: i, Name: name, Weights: weights})
	r.mu.Unlock()
	r.beginStepAt(i, at)
	return i
}

// endStep records the end of step i.
func (r *runner) endStep(i int, cut bool) {
	r.mu.Lock()
	r.steps[i].End = time.Now()
	r.mu.Unlock()
	detail := map[string]string{contract.DetailStep: fmt.Sprint(i)}
	if cut {
		detail[contract.DetailCut] = "true"
	}
	r.engineEvent(contract.EventStepEnd, "", detail)
}

// hold keeps step i in force for d, reporting progress, then ends it.
func (r *runner) hold(ctx context.Context, i int, d time.Duration) error {
	start := time.Now()
	end := start.Add(d)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for now := time.Now(); now.Before(end); now = time.Now() {
		r.progress.Update(r.status(i, now.Sub(start), d))
		select {
		case <-ctx.Done():
			r.endStep(i, true)
			return ctx.Err()
		case <-tick.C:
		case <-time.After(time.Until(end)):
		}
	}
	r.progress.Update(r.status(i, d, d))
	r.endStep(i, false)
	return nil
}

func (r *runner) status(i int, elapsed, bake time.Duration) Status {
	r.mu.Lock()
	st := r.steps[i]
	steps := len(r.steps)
	r.mu.Unlock()
	if len(r.sc.Rollout.Steps) == 0 {
		steps = 0 // deployment phases appear as ECS reports them
	}
	s := Status{Phase: "rollout", Step: i, Steps: steps, StepName: st.Name, StepElapsed: elapsed, StepBake: bake}
	for _, v := range sortedKeys(st.Weights) {
		s.Weights = append(s.Weights, VersionWeight{v, int(math.Round(st.Weights[v]))})
	}
	s.Requests, s.Failed, s.Versions = r.counts.get(i)
	return s
}

func (r *runner) engineEvent(typ contract.EventType, resource string, detail map[string]string) {
	_ = r.out.Event(rundir.Event{Time: time.Now(), Source: contract.SourceEngine, Type: typ, Resource: resource, Detail: detail})
}

func weightString(w map[string]float64) string {
	parts := make([]string, 0, len(w))
	for _, v := range sortedKeys(w) {
		parts = append(parts, fmt.Sprintf("%s=%g", v, w[v]))
	}
	return strings.Join(parts, ",")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// setupError prefers the caller's cancellation over the error it caused.
func setupError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("cancelled during setup: %w", ctx.Err())
	}
	return fmt.Errorf("setup: %w", err)
}

// waitDataPlane sends requests through the ingress until one is answered by
// the measured service, so load starts on a mesh that routes.
func waitDataPlane(ctx context.Context, target, host, measure string) error {
	client := &http.Client{Timeout: time.Second}
	var last string
	err := poll.Until(ctx, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return false, err
		}
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		resp.Body.Close()
		chain := resp.Header.Get(contract.HeaderChain)
		if resp.StatusCode == http.StatusOK && strings.Contains(","+chain, ","+measure+"/") {
			return true, nil
		}
		last = fmt.Sprintf("status %d, chain %q", resp.StatusCode, chain)
		return false, nil
	})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("the data plane did not answer through %s (Host %s); last: %s", target, host, last)
	}
	return err
}

// stepCounter counts observations per step for progress display.
type stepCounter struct {
	mu    sync.Mutex
	steps map[int]*stepCount
}

type stepCount struct {
	requests, failed int64
	versions         map[string]int64
}

func newStepCounter() *stepCounter { return &stepCounter{steps: map[int]*stepCount{}} }

func (c *stepCounter) add(o rundir.Observation) {
	if !o.IsRequest() {
		return // stream events are not requests
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	sc := c.steps[o.Step]
	if sc == nil {
		sc = &stepCount{versions: map[string]int64{}}
		c.steps[o.Step] = sc
	}
	sc.requests++
	if !o.OK() {
		sc.failed++
		return
	}
	sc.versions[o.Version]++
}

func (c *stepCounter) get(step int) (requests, failed int64, versions map[string]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	versions = map[string]int64{}
	sc := c.steps[step]
	if sc == nil {
		return 0, 0, versions
	}
	for k, v := range sc.versions {
		versions[k] = v
	}
	return sc.requests, sc.failed, versions
}

// countingSink writes observations to the run directory and counts them for
// progress and gates.
type countingSink struct {
	out    *rundir.Writer
	counts *stepCounter
	recent *window
}

func (s countingSink) Observe(o rundir.Observation) error {
	s.counts.add(o)
	s.recent.add(o)
	return s.out.Observe(o)
}

type nopProgress struct{}

func (nopProgress) Update(Status) {}
