// Package engine runs a scenario: it stands the world up through the AWS
// APIs (aws-sdk-go-v2 clients against the fakes' endpoint), waits until the
// services are steady and the data plane answers, drives load through the
// ingress while it applies each rollout step with UpdateRoute (or an ECS
// deployment with UpdateService) and holds it for its bake time, records
// every observation and world event in the run directory, and tears the
// world down at the end, also when cancelled.
//
// A run is composed of parts, each owning its goroutines and waiting for
// them before Run returns: the timeline (steps and deployment phases), the
// load, the gates that answer lifecycle hooks, and the faults.
package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/meshsim/meshsim/loadgen"
	"github.com/meshsim/meshsim/loadgen/metrics"
	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/scenarios/engine/status"
	"github.com/meshsim/meshsim/sim/awsclient"
	"github.com/meshsim/meshsim/sim/contract"
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
	// DNSAddress is the host:port of the name server that answers the
	// Route 53 fake's zones, through which routing route53's clients
	// resolve (sim.World.DNSAddress).
	DNSAddress string
	// XDSResolver builds a proxyless client's xDS resolver
	// (loadgen/proxyless.NewResolver); required for load.client: proxyless.
	XDSResolver func(bootstrap []byte) (resolver.Builder, error)
	// Faults carries out the scenario's faults that need the runtime (kill,
	// pause, disconnect); nil when the runtime cannot.
	Faults Faults
	// SetupTimeout bounds standing the world up and waiting for it to be
	// ready (default 90s).
	SetupTimeout time.Duration
	// Until, when set, puts the run in external-driver mode (meshsim up):
	// the engine stands the world up and measures, but applies none of
	// the scenario's rollout; someone else drives the rollout through the
	// fakes, and each route update and deployment change ECS and App Mesh
	// report begins a step. The run ends when Until is closed.
	Until <-chan struct{}
	// Ready, when set, is called once the world answers through the
	// ingress and the load is about to start.
	Ready func()
	// Steer, when set, is the user's controls of the run (pause, advance,
	// roll back, abort); nil for none.
	Steer *Steer
	// Events, when set, receives every event the run records (AWS calls,
	// world events, the engine's own), for a live log.
	Events Events
}

// Events receives the run's events as they are recorded. Event is called
// from the engine's goroutines, concurrently; it must not block.
type Events interface {
	Event(status.Event)
}

// Progress receives the engine's status as the run goes. Update is called
// from the engine's goroutines, one call at a time.
type Progress interface {
	Update(status.Status)
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

// recentSpan is how long the live aggregator keeps requests for the gates'
// windows, at least.
const recentSpan = 2 * time.Minute

// Run runs sc. It always leaves a readable run directory in opts.Dir, and
// returns an error only when the run could not complete (setup failure,
// cancellation); the Result is valid even then. No goroutine Run starts
// outlives it.
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
	if err := CheckUserSoftware(sc, opts.Runtime); err != nil {
		return res, err
	}
	if err := CheckDNS(sc, opts.DNSAddress); err != nil {
		return res, err
	}
	m := meta(sc, opts)
	w, err := rundir.Create(opts.Dir, m)
	if err != nil {
		return res, fmt.Errorf("creating run directory: %w", err)
	}
	if data, err := scenarioSource(sc); err == nil {
		_ = w.WriteScenario(data) // a copy for the report to link; the run goes on without it
	}
	r := newRunner(sc, opts, w, m.Steps)
	runErr := r.run(ctx, res)

	opts.Progress.Update(status.Status{Phase: status.PhaseDone, Message: "writing the run directory", Totals: r.timeline.totals()})
	ended := time.Now()
	if runErr != nil {
		res.Partial, res.Reason = true, runErr.Error()
	}
	if err := w.UpdateMeta(func(m *rundir.Meta) {
		m.Ended = ended
		m.Partial, m.Reason = res.Partial, res.Reason
		m.Steps = r.timeline.snapshot()
		m.Deployments = r.deployments.snapshot()
	}); err != nil && runErr == nil {
		runErr = fmt.Errorf("recording the run's end: %w", err)
	}
	if err := w.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("closing the run directory: %w", err)
	}
	return res, runErr
}

// scenarioSource is the scenario's text: its file, or the built-in
// library's YAML.
func scenarioSource(sc *scenarios.Scenario) ([]byte, error) {
	if name, ok := strings.CutPrefix(sc.Source, "builtin:"); ok {
		return scenarios.BuiltinSource(name)
	}
	return os.ReadFile(sc.Source)
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
		Instrument: &rundir.InstrumentLimits{MaxLag: sc.Instrument.MaxLag, MinAchieved: sc.Instrument.MinAchieved, MaxCPUWait: sc.Instrument.MaxCPUWait},
	}
	for i, st := range sc.Rollout.Steps {
		weights := map[string]float64{}
		for v, pct := range st.Weights {
			weights[v] = float64(pct)
		}
		m.Steps = append(m.Steps, rundir.Step{Index: i, Name: st.Name, Weights: weights, Bake: st.Bake})
	}
	if opts.Until != nil {
		m.Steps = []rundir.Step{{Index: 0, Name: externalStep}}
	}
	if sc.Routing == scenarios.RoutingRoute53 {
		d := sc.DNS
		m.DNS = &rundir.DNS{Record: strings.ToLower(d.Record + "." + d.Zone + "."), TTL: d.TTL, Clients: d.Clients, Cache: d.Cache,
			KeepAlive: d.KeepAlive, ConnectionLifetime: d.ConnectionLifetime}
		m.Load.Target = fmt.Sprintf("%d clients → %s", d.Clients, m.DNS.Record)
	}
	for _, a := range sc.Asserts {
		m.Assertions = append(m.Assertions, rundir.Assertion{Kind: a.Kind, Value: a.Value, Source: a.Pos.String()})
	}
	return m
}

// runner composes the parts of one run. It holds no lock of its own: each
// part guards its own state.
type runner struct {
	sc       *scenarios.Scenario
	opts     Options
	out      *rundir.Writer
	progress Progress

	meters      meters // the load generators' (see instrument)
	obs         *observer
	timeline    *timeline
	deployments *deploymentLog
	changes     *changes
	gates       *gates
	faults      *faults
	// tasks attributes requests to versions by the endpoint the ingress
	// forwarded to (the user's software names no version).
	tasks *taskBook
	// external receives the events that begin steps in external-driver
	// mode; nil otherwise.
	external *external
	// live assembles the status's live figures.
	live *live
}

func newRunner(sc *scenarios.Scenario, opts Options, w *rundir.Writer, steps []rundir.Step) *runner {
	r := &runner{sc: sc, opts: opts, out: w, progress: opts.Progress, deployments: &deploymentLog{}, changes: newChanges(), tasks: newTaskBook()}
	agg := metrics.NewRun(max(recentSpan, longestGateSpan(sc)))
	r.obs = &observer{out: w, agg: agg}
	r.live = newLive(agg, r.tasks)
	r.timeline = newTimeline(steps, len(sc.Rollout.Steps) > 0 && opts.Until == nil, agg, opts.Progress, r.engineEvent)
	r.timeline.steer, r.timeline.live = opts.Steer, r.live
	if opts.Until != nil {
		r.external = newExternal()
	}
	r.gates = newGates(agg, httpAnswerer{endpoint: opts.Endpoint}, r.deployments, r.engineEvent)
	return r
}

// run stands the world up, drives the load through the rollout and tears
// the world down. Every part it starts has stopped when it returns.
func (r *runner) run(ctx context.Context, res *Result) error {
	// Record the world's events from the fakes' event stream for the whole
	// run, teardown included.
	stopEvents := recordEvents(r.opts.Endpoint, r.out, func(e rundir.Event) {
		r.tasks.observe(e)
		r.live.observe(e)
		r.forward(e)
		r.external.observe(e)
		r.onEvent(e)
	})
	defer stopEvents()

	clients := awsclient.New(r.opts.Endpoint, r.sc.Region, recordCalls(r.record))
	wld := &world{sc: r.sc, aws: clients, tasks: r.tasks, event: r.engineEvent}
	defer r.teardown(wld)

	ld, err := r.setup(ctx, wld)
	if err != nil {
		return err
	}
	return r.rollout(ctx, wld, ld, res)
}

// setup creates the world and waits until its services are stable and the
// data plane answers through the ingress.
func (r *runner) setup(ctx context.Context, wld *world) (*loadPlan, error) {
	setupCtx, cancel := context.WithTimeout(ctx, r.opts.SetupTimeout)
	defer cancel()
	r.progress.Update(status.Status{Phase: status.PhaseSetup, Message: "creating Cloud Map, App Mesh and ECS resources"})
	if err := wld.create(setupCtx); err != nil {
		return nil, setupError(ctx, err)
	}
	r.progress.Update(status.Status{Phase: status.PhaseSetup, Message: "waiting for ECS services to reach a steady state"})
	if err := wld.waitStable(setupCtx, r.opts.SetupTimeout); err != nil {
		return nil, setupError(ctx, err)
	}
	ld, err := r.planLoad(setupCtx, wld)
	if err != nil {
		return nil, setupError(ctx, err)
	}
	r.progress.Update(status.Status{Phase: status.PhaseSetup, Message: "waiting for the data plane to answer through " + ld.describe()})
	if err := ld.ready(setupCtx); err != nil {
		return nil, setupError(ctx, err)
	}
	r.engineEvent(contract.EventWorldReady, "", map[string]string{"ingress": ld.describe()})
	return ld, nil
}

// planLoad plans the load once the world is steady: through the ingress
// task (and, in a migration, its twin), or, with routing route53, from the
// clients that resolve the weighted records it creates now.
func (r *runner) planLoad(ctx context.Context, wld *world) (*loadPlan, error) {
	sc := r.sc
	if wld.route53() {
		r.progress.Update(status.Status{Phase: status.PhaseSetup, Message: "creating the Route 53 hosted zone and weighted records"})
		if err := wld.createRecords(ctx); err != nil {
			return nil, err
		}
		return planDNSLoad(sc, &r.meters, wld, r.opts.DNSAddress), nil
	}
	ip, err := wld.ingressIP(ctx)
	if err != nil {
		return nil, err
	}
	var twinIP string
	if wld.migration() {
		if twinIP, err = wld.taskIP(ctx, sc.Ingress.Name+"-sc"); err != nil {
			return nil, err
		}
	}
	return planLoad(sc, r.opts, &r.meters, wld, ip, twinIP), nil
}

// rollout drives the load while the timeline runs the steps or the
// deployments, with the faults scheduled; it returns once the load, the
// faults and the gates have stopped.
func (r *runner) rollout(ctx context.Context, wld *world, ld *loadPlan, res *Result) error {
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var (
		loadWG  sync.WaitGroup
		loadErr error
	)
	r.faults = startFaults(loadCtx, r.sc, wld, r.opts.Faults, r.engineEventAt)
	r.timeline.onBegin = r.faults.stepBegan
	r.gates.start(ctx)
	stopInstrument := r.startInstrument()
	stopPublishing := r.startPublishing(wld)
	loadWG.Add(1)
	go func() {
		defer loadWG.Done()
		res.Load, loadErr = ld.run(loadCtx, r.timeline.current, r.timeline.pickStack, r.obs)
	}()

	if r.opts.Ready != nil {
		r.opts.Ready()
	}
	var stepErr error
	switch {
	case r.opts.Until != nil:
		stepErr = r.watchExternal(ctx, wld)
	case len(r.sc.Rollout.Deployments) > 0:
		stepErr = r.runDeployments(ctx, wld)
	default:
		stepErr = r.runSteps(ctx, wld)
	}
	stopLoad()
	loadWG.Wait()
	stopInstrument()
	stopPublishing()
	r.gates.stop()
	r.faults.stop()
	if stepErr != nil {
		return stepErr
	}
	if loadErr != nil && !errors.Is(loadErr, context.Canceled) {
		return fmt.Errorf("load: %w", loadErr)
	}
	return ctx.Err()
}

// teardown deletes the world through the AWS APIs, also after a
// cancellation.
func (r *runner) teardown(wld *world) {
	r.progress.Update(status.Status{Phase: status.PhaseTeardown, Message: "deleting the world through the AWS APIs"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := wld.teardown(ctx); err != nil {
		r.engineEvent(contract.EventTeardownError, "", map[string]string{contract.DetailError: err.Error()})
	}
}

// runSteps applies each route step's weights and holds them for the bake
// time. A rollback the user asks for returns to the first step's weights.
func (r *runner) runSteps(ctx context.Context, wld *world) error {
	for i, st := range r.sc.Rollout.Steps {
		r.timeline.begin(i, time.Now())
		if i > 0 && !wld.migration() { // a migration's weights split the load itself
			set := wld.setWeights
			if wld.route53() {
				set = func(ctx context.Context, weights map[string]int) error {
					return wld.setRecordWeights(ctx, st.Name, weights)
				}
			}
			if err := set(ctx, st.Weights); err != nil {
				r.timeline.end(i, false)
				return fmt.Errorf("step %d (%s): %w", i+1, st.Name, err)
			}
		}
		err := r.timeline.hold(ctx, i, st.Bake)
		if errors.Is(err, errRolledBack) {
			return r.rollBack(ctx, wld, i)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// rollBack ends a rollout of route steps that the user rolled back during
// step i: the steps after it are dropped, and a "rollback" step puts the
// first step's weights back and holds them for its bake time.
func (r *runner) rollBack(ctx context.Context, wld *world, i int) error {
	r.opts.Steer.takeRollback()
	first := r.sc.Rollout.Steps[0]
	r.engineEvent(contract.EventControl, "", map[string]string{
		contract.DetailAction: "rollback",
		contract.DetailReason: fmt.Sprintf("rolled back by the user during step %d (%s): weights back to %s's", i+1, r.sc.Rollout.Steps[i].Name, first.Name),
	})
	weights := make(map[string]float64, len(first.Weights))
	for v, w := range first.Weights {
		weights[v] = float64(w)
	}
	r.timeline.cutAfter(i)
	j := r.timeline.add("rollback", weights, time.Now())
	if !wld.migration() {
		if err := wld.setWeights(ctx, first.Weights); err != nil {
			r.timeline.end(j, false)
			return fmt.Errorf("rollback: %w", err)
		}
	}
	return r.timeline.hold(ctx, j, first.Bake)
}

// onEvent hands each world event to the parts that react to one: ECS
// deployment changes wake the deployment follower, lifecycle hook
// invocations go to the gates.
func (r *runner) onEvent(e rundir.Event) {
	r.changes.observe(e)
	r.gates.observe(e)
}

func (r *runner) engineEvent(typ contract.EventType, resource string, detail map[string]string) {
	r.engineEventAt(time.Now(), typ, resource, detail)
}

// engineEventAt records an engine event that happened at `at`.
func (r *runner) engineEventAt(at time.Time, typ contract.EventType, resource string, detail map[string]string) {
	r.record(rundir.Event{Time: at, Source: contract.SourceEngine, Type: typ, Resource: resource, Detail: detail})
}

// record writes an event the engine made to the run directory and hands
// it to the live log.
func (r *runner) record(e rundir.Event) {
	_ = r.out.Event(e)
	r.forward(e)
}

// forward hands an event to the live log, if there is one.
func (r *runner) forward(e rundir.Event) {
	if r.opts.Events == nil {
		return
	}
	r.opts.Events.Event(status.Event{Time: e.Time, Source: string(e.Source), Type: string(e.Type), Resource: e.Resource, Detail: e.Detail})
}

// observer is the load's sink: it adds each observation to the live
// aggregate and writes it to the run directory, in one order, so that an
// aggregate window's Through counts the same observations in the file.
type observer struct {
	mu  sync.Mutex
	out *rundir.Writer
	agg *metrics.Run
	// pub publishes the observations to CloudWatch (nil before the load
	// starts).
	pub *publisher
}

// Observe implements loadgen.Sink.
func (o *observer) Observe(obs rundir.Observation) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.agg.Add(obs)
	o.pub.add(&obs)
	return o.out.Observe(obs)
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

type nopProgress struct{}

func (nopProgress) Update(status.Status) {}
