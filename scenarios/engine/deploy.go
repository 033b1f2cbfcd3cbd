package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/scenarios/engine/status"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/poll"
)

// runDeployments runs the scenario's ECS deployments one after another:
// a baseline step, then for each deployment an UpdateService to the new
// revision, one step per phase ECS reports (lifecycle stage and production
// traffic weights), and a settled step held after the deployment ends.
func (r *runner) runDeployments(ctx context.Context, wld *world) error {
	sc := r.sc
	svc, _ := sc.Service(sc.Rollout.Service)
	u := wld.unitFor(svc)
	current := u.version.Name

	deps := sc.Rollout.Deployments
	pending := func(from int) []string {
		var names []string
		for j := from; j < len(deps); j++ {
			names = append(names, fmt.Sprintf("deployment %d/%d: %s", j+1, len(deps), deps[j].Name))
		}
		return names
	}
	r.timeline.setDeployment(deploymentStatus{pending: pending(0)})
	i := r.timeline.add("baseline", map[string]float64{current: 100}, time.Now())
	if err := r.timeline.hold(ctx, i, deps[0].Hold); err != nil {
		return r.stoppedBetween(err)
	}
	for di, dep := range deps {
		r.timeline.setDeployment(deploymentStatus{i: di + 1, n: len(deps), name: dep.Name, pending: pending(di + 1)})
		next, err := r.deploy(ctx, wld, u, di, dep, current)
		if err != nil {
			if errors.Is(err, errRolledBack) {
				return r.stoppedBetween(err)
			}
			return fmt.Errorf("deployment %d (%s): %w", di+1, dep.Name, err)
		}
		current = next
	}
	return nil
}

// stoppedBetween ends a run of deployments that the user rolled back while
// no deployment was in progress (a baseline or settled hold): the service
// runs one revision, so nothing is deployed any more. Other errors pass.
func (r *runner) stoppedBetween(err error) error {
	if !errors.Is(err, errRolledBack) {
		return err
	}
	r.opts.Steer.takeRollback()
	r.engineEvent(contract.EventControl, "", map[string]string{
		contract.DetailAction: "rollback",
		contract.DetailReason: "rolled back by the user between deployments: the deployments still to run are skipped",
	})
	return nil
}

// deploy runs one deployment from version `from` and returns the version
// the service runs afterwards (the new one, or `from` after a rollback).
func (r *runner) deploy(ctx context.Context, wld *world, u unit, di int, dep scenarios.Deployment, from string) (string, error) {
	td, err := wld.registerTaskDefinition(ctx, u, versionOf(u.service, dep.To))
	if err != nil {
		return from, err
	}
	idx := r.deployments.add(rundir.Deployment{
		Name: dep.Name, Service: u.name, Strategy: string(dep.Strategy), From: from, To: dep.To,
		Expect: dep.Expect, ExpectReason: dep.ExpectReason, Started: time.Now(),
	})
	cfg, hooks := deploymentConfig(r.sc.Region, di, dep)
	if cfg.Alarms, err = putAlarms(ctx, wld.aws.CloudWatch, r.sc.Cluster, u.name, dep); err != nil {
		return from, err
	}
	r.gates.arm(hooks, idx)
	defer r.gates.arm(nil, -1)

	out, err := wld.aws.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{
		Cluster:                 aws.String(r.sc.Cluster),
		Service:                 aws.String(u.name),
		TaskDefinition:          aws.String(td),
		DeploymentConfiguration: cfg,
	})
	if err != nil {
		return from, fmt.Errorf("ecs UpdateService %s: %w", u.name, err)
	}
	arn, err := r.serviceDeploymentARN(ctx, wld, u.name, out)
	if err != nil {
		return from, err
	}
	r.deployments.update(idx, func(d *rundir.Deployment) { d.Arn = arn })

	final, err := r.follow(ctx, wld, idx, dep, arn)
	if err != nil {
		return from, err
	}
	outcome := r.recordOutcome(idx, final)
	now := from
	if outcome == string(ecstypes.ServiceDeploymentStatusSuccessful) {
		now = dep.To
	}

	// Hold the settled state: the service runs one revision again.
	r.progress.Update(status.Status{Phase: status.PhaseDeployment, Message: fmt.Sprintf("%s ended %s; waiting for the service to be stable", dep.Name, outcome)})
	if err := wld.waitStable(ctx, r.opts.SetupTimeout); err != nil {
		return now, err
	}
	i := r.timeline.add(fmt.Sprintf("%s: settled (%s)", dep.Name, strings.ToLower(outcome)), map[string]float64{now: 100}, time.Now())
	return now, r.timeline.hold(ctx, i, dep.Hold)
}

// deploymentConfig is the ECS deployment configuration of deployment di,
// with one lifecycle hook per gate; hooks maps each hook's function ARN to
// its gate.
func deploymentConfig(region string, di int, dep scenarios.Deployment) (*ecstypes.DeploymentConfiguration, map[string]scenarios.Hook) {
	cfg := &ecstypes.DeploymentConfiguration{
		Strategy:              ecstypes.DeploymentStrategy(dep.Strategy),
		MinimumHealthyPercent: aws.Int32(int32(dep.MinimumHealthyPercent)),
		MaximumPercent:        aws.Int32(int32(dep.MaximumPercent)),
		DeploymentCircuitBreaker: &ecstypes.DeploymentCircuitBreaker{
			Enable: dep.CircuitBreaker, Rollback: dep.Rollback,
		},
	}
	if dep.Bake > 0 {
		cfg.BakeTimeInMinutes = aws.Int32(int32(dep.Bake / time.Minute))
	}
	switch dep.Strategy {
	case scenarios.StrategyCanary:
		cfg.CanaryConfiguration = &ecstypes.CanaryConfiguration{
			CanaryPercent: aws.Float64(dep.CanaryPercent), CanaryBakeTimeInMinutes: aws.Int32(int32(dep.CanaryBake / time.Minute)),
		}
	case scenarios.StrategyLinear:
		cfg.LinearConfiguration = &ecstypes.LinearConfiguration{
			StepPercent: aws.Float64(dep.LinearPercent), StepBakeTimeInMinutes: aws.Int32(int32(dep.LinearBake / time.Minute)),
		}
	}
	hooks := map[string]scenarios.Hook{}
	for hi, h := range dep.Hooks {
		fn := fmt.Sprintf("arn:aws:lambda:%s:000000000000:function:meshsim-gate-%d-%d", region, di+1, hi+1)
		hooks[fn] = h
		stages := make([]ecstypes.DeploymentLifecycleHookStage, len(h.Stages))
		for j, st := range h.Stages {
			stages[j] = ecstypes.DeploymentLifecycleHookStage(st)
		}
		cfg.LifecycleHooks = append(cfg.LifecycleHooks, ecstypes.DeploymentLifecycleHook{
			TargetType:      ecstypes.DeploymentLifecycleHookTargetTypeAwsLambda,
			HookTargetArn:   aws.String(fn),
			RoleArn:         aws.String("arn:aws:iam::000000000000:role/meshsim-hooks"),
			LifecycleStages: stages,
		})
	}
	return cfg, hooks
}

// phases turns what DescribeServiceDeployments reports into timeline
// steps: a new step whenever the lifecycle stage or the traffic weights
// change.
type phases struct {
	r       *runner
	idx     int // the deployment's index in the log
	name    string
	lastKey string
	step    int // the step in force, -1 before the first
}

// saw records one look at the deployment: a new phase begins when its
// stage or weights differ from the last look's.
func (p *phases) saw(sd *ecstypes.ServiceDeployment, weights map[string]float64) {
	stage := string(sd.LifecycleStage)
	key := stage + " " + weightString(weights)
	if key == p.lastKey {
		return
	}
	// The phase began when ECS reported the change on the event stream, a
	// moment before this look saw it; the proxies may already have the new
	// weights.
	at := p.r.changes.last()
	if p.step >= 0 {
		p.r.timeline.end(p.step, false)
	}
	p.r.timeline.setStage(stage)
	p.step = p.r.timeline.add(fmt.Sprintf("%s: %s", p.name, phaseName(stage, sd.Status)), weights, at)
	p.lastKey = key
	p.r.deployments.update(p.idx, func(d *rundir.Deployment) {
		if n := len(d.Stages); stage != "" && (n == 0 || d.Stages[n-1].Stage != stage) {
			d.Stages = append(d.Stages, rundir.Stage{Stage: stage, At: time.Now()})
		}
	})
}

// follow watches deployment arn until it ends, one timeline step per
// phase, and returns its final state. It looks again as soon as ECS
// reports a deployment change on the event stream (so a step begins within
// a round trip of the weights changing), or after a while in any case.
func (r *runner) follow(ctx context.Context, wld *world, idx int, dep scenarios.Deployment, arn string) (*ecstypes.ServiceDeployment, error) {
	p := &phases{r: r, idx: idx, name: dep.Name, step: -1}
	revs := map[string]string{} // service revision ARN → version
	var final *ecstypes.ServiceDeployment
	err := poll.UntilWoken(ctx, 250*time.Millisecond, r.changes.wake, func(ctx context.Context) (bool, error) {
		sd, err := describeDeployment(ctx, wld, arn)
		if err != nil {
			return false, err
		}
		p.saw(sd, r.revisionWeights(ctx, wld, sd, revs, dep.Strategy))
		if terminal(sd.Status) {
			final = sd
			return true, nil
		}
		if err := r.steerDeployment(ctx, wld, arn); err != nil {
			return false, err
		}
		r.timeline.report(p.step, time.Since(r.timeline.start(p.step)), 0)
		return false, nil
	})
	if p.step >= 0 {
		r.timeline.end(p.step, err != nil)
	}
	return final, err
}

// steerDeployment carries out what the user asked while deployment arn
// runs: a rollback stops it with ROLLBACK (ECS then rolls back, and the
// follower sees it as usual); an abort stops the run.
func (r *runner) steerDeployment(ctx context.Context, wld *world, arn string) error {
	if r.opts.Steer.aborted() {
		return errAborted
	}
	if !r.opts.Steer.takeRollback() {
		return nil
	}
	_, err := wld.aws.ECS.StopServiceDeployment(ctx, &ecs.StopServiceDeploymentInput{
		ServiceDeploymentArn: aws.String(arn), StopType: ecstypes.StopServiceDeploymentStopTypeRollback,
	})
	reason := "rolled back by the user: ECS StopServiceDeployment ROLLBACK"
	if err != nil {
		reason = fmt.Sprintf("rollback asked by the user failed: ecs StopServiceDeployment: %v", err)
	}
	r.engineEvent(contract.EventControl, arn, map[string]string{contract.DetailAction: "rollback", contract.DetailReason: reason})
	return nil
}

// recordOutcome records how deployment idx ended, with ECS's reason for a
// rollback, and returns its final status.
func (r *runner) recordOutcome(idx int, final *ecstypes.ServiceDeployment) string {
	outcome := string(final.Status)
	r.deployments.update(idx, func(d *rundir.Deployment) {
		d.Outcome, d.Ended = outcome, time.Now()
		if rb := final.Rollback; rb != nil {
			d.RollbackReason = aws.ToString(rb.Reason)
		}
		if d.RollbackReason == "" && outcome != string(ecstypes.ServiceDeploymentStatusSuccessful) {
			d.RollbackReason = aws.ToString(final.StatusReason)
		}
	})
	return outcome
}

// serviceDeploymentARN finds the service deployment UpdateService started.
func (r *runner) serviceDeploymentARN(ctx context.Context, wld *world, service string, out *ecs.UpdateServiceOutput) (string, error) {
	if out.Service != nil && out.Service.CurrentServiceDeployment != nil {
		return aws.ToString(out.Service.CurrentServiceDeployment), nil
	}
	list, err := wld.aws.ECS.ListServiceDeployments(ctx, &ecs.ListServiceDeploymentsInput{
		Cluster: aws.String(r.sc.Cluster), Service: aws.String(service),
	})
	if err != nil {
		return "", fmt.Errorf("ecs ListServiceDeployments %s: %w", service, err)
	}
	var newest *ecstypes.ServiceDeploymentBrief
	for i, b := range list.ServiceDeployments {
		if newest == nil || aws.ToTime(b.CreatedAt).After(aws.ToTime(newest.CreatedAt)) {
			newest = &list.ServiceDeployments[i]
		}
	}
	if newest == nil {
		return "", fmt.Errorf("ecs ListServiceDeployments %s: no deployment after UpdateService", service)
	}
	return aws.ToString(newest.ServiceDeploymentArn), nil
}

func describeDeployment(ctx context.Context, wld *world, arn string) (*ecstypes.ServiceDeployment, error) {
	out, err := wld.aws.ECS.DescribeServiceDeployments(ctx, &ecs.DescribeServiceDeploymentsInput{ServiceDeploymentArns: []string{arn}})
	if err != nil {
		return nil, fmt.Errorf("ecs DescribeServiceDeployments: %w", err)
	}
	if len(out.ServiceDeployments) == 0 {
		return nil, fmt.Errorf("ecs DescribeServiceDeployments %s: not found", arn)
	}
	return &out.ServiceDeployments[0], nil
}

// revisionWeights returns the production traffic weight of each version
// in a traffic-shifting deployment, or nil for a rolling one (its split
// follows the running tasks, not a configured weight).
func (r *runner) revisionWeights(ctx context.Context, wld *world, sd *ecstypes.ServiceDeployment, revs map[string]string, strategy scenarios.Strategy) map[string]float64 {
	if strategy == scenarios.StrategyRolling {
		return nil
	}
	summaries := append([]ecstypes.ServiceRevisionSummary(nil), sd.SourceServiceRevisions...)
	if sd.TargetServiceRevision != nil {
		summaries = append(summaries, *sd.TargetServiceRevision)
	}
	var unknown []string
	for _, s := range summaries {
		if _, ok := revs[aws.ToString(s.Arn)]; !ok {
			unknown = append(unknown, aws.ToString(s.Arn))
		}
	}
	if len(unknown) > 0 {
		out, err := wld.aws.ECS.DescribeServiceRevisions(ctx, &ecs.DescribeServiceRevisionsInput{ServiceRevisionArns: unknown})
		if err == nil {
			for _, rev := range out.ServiceRevisions {
				revs[aws.ToString(rev.ServiceRevisionArn)] = wld.taskDefinitions[aws.ToString(rev.TaskDefinition)]
			}
		}
	}
	weights := map[string]float64{}
	for _, s := range summaries {
		if s.RequestedProductionTrafficWeight == nil {
			continue
		}
		if v := revs[aws.ToString(s.Arn)]; v != "" {
			weights[v] += *s.RequestedProductionTrafficWeight
		}
	}
	if len(weights) == 0 {
		return nil
	}
	return weights
}

func phaseName(stage string, st ecstypes.ServiceDeploymentStatus) string {
	if st == ecstypes.ServiceDeploymentStatusRollbackInProgress || st == ecstypes.ServiceDeploymentStatusRollbackRequested {
		return "rollback " + stage
	}
	if stage == "" {
		return strings.ToLower(string(st))
	}
	return stage
}

func terminal(s ecstypes.ServiceDeploymentStatus) bool {
	switch s {
	case ecstypes.ServiceDeploymentStatusSuccessful, ecstypes.ServiceDeploymentStatusStopped,
		ecstypes.ServiceDeploymentStatusRollbackSuccessful, ecstypes.ServiceDeploymentStatusRollbackFailed:
		return true
	}
	return false
}

func versionOf(s *scenarios.Service, name string) scenarios.Version {
	for _, v := range s.Versions {
		if v.Name == name {
			return v
		}
	}
	return scenarios.Version{Name: name}
}

// deploymentLog is the run's ECS deployments as they go, for run.json.
type deploymentLog struct {
	mu   sync.Mutex
	list []rundir.Deployment
}

// add records a deployment that started and returns its index.
func (l *deploymentLog) add(d rundir.Deployment) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, d)
	return len(l.list) - 1
}

// update changes deployment i in place.
func (l *deploymentLog) update(i int, f func(*rundir.Deployment)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(&l.list[i])
}

// get returns a copy of deployment i.
func (l *deploymentLog) get(i int) rundir.Deployment {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.list[i]
}

// snapshot copies the deployments recorded so far.
func (l *deploymentLog) snapshot() []rundir.Deployment {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]rundir.Deployment(nil), l.list...)
}

// changes tells the deployment follower that ECS reported a deployment
// change on the event stream, and when.
type changes struct {
	wake chan struct{} // signalled (without blocking) on each change
	at   atomic.Int64  // the last change's time, unix nanoseconds
}

func newChanges() *changes { return &changes{wake: make(chan struct{}, 1)} }

// observe notes e if it is an ECS deployment change.
func (c *changes) observe(e rundir.Event) {
	if e.Source != contract.SourceECS || !strings.HasPrefix(string(e.Type), "deployment.") {
		return
	}
	c.at.Store(e.Time.UnixNano())
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// last returns when ECS last reported a deployment change, or now if it
// has not.
func (c *changes) last() time.Time {
	if ns := c.at.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Now()
}
