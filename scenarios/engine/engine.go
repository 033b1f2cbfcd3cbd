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
	// Phase is "setup", "ready", "rollout", "teardown" or "done".
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
	w, err := rundir.Create(opts.Dir, meta(sc, opts))
	if err != nil {
		return res, fmt.Errorf("creating run directory: %w", err)
	}
	r := &runner{sc: sc, opts: opts, out: w, progress: opts.Progress}
	runErr := r.run(ctx, res)

	r.progress.Update(Status{Phase: "done", Message: "writing the run directory"})
	ended := time.Now()
	if runErr != nil {
		res.Partial, res.Reason = true, runErr.Error()
	}
	if err := w.UpdateMeta(func(m *rundir.Meta) {
		m.Ended = ended
		m.Partial, m.Reason = res.Partial, res.Reason
		for i, st := range r.stepTimes {
			m.Steps[i].Start, m.Steps[i].End = st[0], st[1]
		}
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
		Load: rundir.Load{
			Rate:     sc.Load.Rate,
			Target:   sc.Ingress.Name + " → " + sc.Ingress.Service + "." + sc.Namespace + sc.Load.Path,
			Timeout:  sc.Load.Timeout,
			Duration: sc.Duration(),
		},
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

	step      atomic.Int32
	stepTimes [][2]time.Time
	counts    *stepCounter
}

func (r *runner) run(ctx context.Context, res *Result) error {
	sc := r.sc
	// Record the world's events from the fakes' event stream for the whole run.
	recCtx, stopRec := context.WithCancel(context.Background())
	recDone := make(chan struct{})
	go func() {
		defer close(recDone)
		recordEvents(recCtx, r.opts.Endpoint, r.out)
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
	target := fmt.Sprintf("http://%s:%d%s", ip, egressPort, sc.Load.Path)
	host := fmt.Sprintf("%s.%s:%d", sc.Ingress.Service, sc.Namespace, mustService(sc, sc.Ingress.Service).Port)
	r.progress.Update(Status{Phase: "setup", Message: "waiting for the data plane to answer through " + target})
	if err := waitDataPlane(setupCtx, target, host, sc.Load.Measure); err != nil {
		return setupError(ctx, err)
	}
	r.engineEvent("world.ready", "", map[string]string{"ingress": target, "host": host})

	// Drive load for the whole rollout.
	r.counts = newStepCounter(len(sc.Rollout.Steps))
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var (
		loadWG  sync.WaitGroup
		loadErr error
	)
	loadWG.Add(1)
	go func() {
		defer loadWG.Done()
		res.Load, loadErr = loadgen.RunHTTP(loadCtx, loadgen.HTTPConfig{
			Target:          target,
			Host:            host,
			Method:          http.MethodGet,
			Rate:            sc.Load.Rate,
			Timeout:         sc.Load.Timeout,
			MeasuredService: sc.Load.Measure,
		}, func() int { return int(r.step.Load()) }, countingSink{r.out, r.counts})
	}()

	stepErr := r.runSteps(ctx, wld)
	stopLoad()
	loadWG.Wait()
	if stepErr != nil {
		return stepErr
	}
	if loadErr != nil && !errors.Is(loadErr, context.Canceled) {
		return fmt.Errorf("load: %w", loadErr)
	}
	return ctx.Err()
}

// runSteps applies each step's weights and holds them for the bake time.
func (r *runner) runSteps(ctx context.Context, wld *world) error {
	steps := r.sc.Rollout.Steps
	r.stepTimes = make([][2]time.Time, len(steps))
	for i, st := range steps {
		r.step.Store(int32(i))
		start := time.Now()
		r.stepTimes[i][0] = start
		r.engineEvent("step.start", "", map[string]string{"step": fmt.Sprint(i), "name": st.Name, "weights": weightString(st)})
		if i > 0 {
			if err := wld.setWeights(ctx, st.Weights); err != nil {
				r.stepTimes[i][1] = time.Now()
				return fmt.Errorf("step %d (%s): %w", i+1, st.Name, err)
			}
		}
		end := start.Add(st.Bake)
		tick := time.NewTicker(250 * time.Millisecond)
		for now := time.Now(); now.Before(end); now = time.Now() {
			r.progress.Update(r.status(i, st, now.Sub(start)))
			select {
			case <-ctx.Done():
				tick.Stop()
				r.stepTimes[i][1] = time.Now()
				r.engineEvent("step.end", "", map[string]string{"step": fmt.Sprint(i), "cut": "true"})
				return ctx.Err()
			case <-tick.C:
			case <-time.After(time.Until(end)):
			}
		}
		tick.Stop()
		r.stepTimes[i][1] = time.Now()
		r.progress.Update(r.status(i, st, st.Bake))
		r.engineEvent("step.end", "", map[string]string{"step": fmt.Sprint(i)})
	}
	return nil
}

func (r *runner) status(i int, st scenarios.Step, elapsed time.Duration) Status {
	s := Status{
		Phase: "rollout", Step: i, Steps: len(r.sc.Rollout.Steps), StepName: st.Name,
		StepElapsed: elapsed, StepBake: st.Bake,
	}
	for _, v := range st.Order {
		s.Weights = append(s.Weights, VersionWeight{v, st.Weights[v]})
	}
	s.Requests, s.Failed, s.Versions = r.counts.get(i)
	return s
}

func (r *runner) engineEvent(typ, resource string, detail map[string]string) {
	_ = r.out.Event(rundir.Event{Time: time.Now(), Source: "engine", Type: typ, Resource: resource, Detail: detail})
}

func weightString(st scenarios.Step) string {
	parts := make([]string, len(st.Order))
	for i, v := range st.Order {
		parts[i] = fmt.Sprintf("%s=%d", v, st.Weights[v])
	}
	return strings.Join(parts, ",")
}

func mustService(sc *scenarios.Scenario, name string) *scenarios.Service {
	s, _ := sc.Service(name)
	return s
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
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return err
		}
		req.Host = host
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			chain := resp.Header.Get("x-meshsim-chain")
			if resp.StatusCode == http.StatusOK && strings.Contains(","+chain, ","+measure+"/") {
				return nil
			}
			last = fmt.Sprintf("status %d, chain %q", resp.StatusCode, chain)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the data plane did not answer through %s (Host %s); last: %s", target, host, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stepCounter counts observations per step for progress display.
type stepCounter struct {
	mu       sync.Mutex
	requests []int64
	failed   []int64
	versions []map[string]int64
}

func newStepCounter(n int) *stepCounter {
	c := &stepCounter{requests: make([]int64, n), failed: make([]int64, n), versions: make([]map[string]int64, n)}
	for i := range c.versions {
		c.versions[i] = map[string]int64{}
	}
	return c
}

func (c *stepCounter) add(o rundir.Observation) {
	if o.Step < 0 || o.Step >= len(c.requests) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests[o.Step]++
	if !o.OK() {
		c.failed[o.Step]++
		return
	}
	c.versions[o.Step][o.Version]++
}

func (c *stepCounter) get(step int) (requests, failed int64, versions map[string]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	versions = make(map[string]int64, len(c.versions[step]))
	for k, v := range c.versions[step] {
		versions[k] = v
	}
	return c.requests[step], c.failed[step], versions
}

// countingSink writes observations to the run directory and counts them.
type countingSink struct {
	out    *rundir.Writer
	counts *stepCounter
}

func (s countingSink) Observe(o rundir.Observation) error {
	s.counts.add(o)
	return s.out.Observe(o)
}

type nopProgress struct{}

func (nopProgress) Update(Status) {}

// SortedVersions returns the keys of m in order.
func SortedVersions(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
