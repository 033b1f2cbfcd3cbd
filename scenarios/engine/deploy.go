package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/sim/contract"
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

	i := r.addStep("baseline", map[string]float64{current: 100})
	if err := r.hold(ctx, i, sc.Rollout.Deployments[0].Hold); err != nil {
		return err
	}
	for di, dep := range sc.Rollout.Deployments {
		next, err := r.deploy(ctx, wld, u, di, dep, current)
		if err != nil {
			return fmt.Errorf("deployment %d (%s): %w", di+1, dep.Name, err)
		}
		current = next
	}
	return nil
}

// deploy runs one deployment from version `from` and returns the version
// the service runs afterwards (the new one, or `from` after a rollback).
func (r *runner) deploy(ctx context.Context, wld *world, u unit, di int, dep scenarios.Deployment, from string) (string, error) {
	sc := r.sc
	v := versionOf(u.service, dep.To)
	td, err := wld.registerTaskDefinition(ctx, u, v)
	if err != nil {
		return from, err
	}
	rec := rundir.Deployment{
		Name: dep.Name, Service: u.name, Strategy: string(dep.Strategy), From: from, To: dep.To,
		Expect: dep.Expect, Started: time.Now(),
	}
	idx := r.recordDeployment(rec)

	gates := map[string]scenarios.Hook{} // by function ARN
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
	for hi, h := range dep.Hooks {
		fn := fmt.Sprintf("arn:aws:lambda:%s:000000000000:function:meshsim-gate-%d-%d", sc.Region, di+1, hi+1)
		gates[fn] = h
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
	r.setGates(gates, idx)
	defer r.setGates(nil, -1)

	out, err := wld.aws.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{
		Cluster:                 aws.String(sc.Cluster),
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
	r.updateDeployment(idx, func(d *rundir.Deployment) { d.Arn = arn })

	// Follow the deployment until it ends, one step per phase.
	var (
		lastKey  string
		lastStep = -1
		revs     = map[string]string{} // service revision ARN → version
		final    *ecstypes.ServiceDeployment
	)
	for final == nil {
		sd, err := describeDeployment(ctx, wld, arn)
		if err != nil {
			return from, err
		}
		weights := r.revisionWeights(ctx, wld, sd, revs, dep.Strategy)
		stage := string(sd.LifecycleStage)
		key := stage + " " + weightString(weights)
		if key != lastKey {
			// The phase began when ECS reported the change on the event
			// stream, a moment before this poll saw it; the proxies may
			// already have the new weights.
			at := time.Now()
			if ns := r.lastChange.Load(); ns != 0 {
				at = time.Unix(0, ns)
			}
			if lastStep >= 0 {
				r.endStep(lastStep, false)
			}
			name := fmt.Sprintf("%s: %s", dep.Name, phaseName(stage, sd.Status))
			lastStep = r.addStepAt(name, weights, at)
			lastKey = key
			r.updateDeployment(idx, func(d *rundir.Deployment) {
				if n := len(d.Stages); stage != "" && (n == 0 || d.Stages[n-1].Stage != stage) {
					d.Stages = append(d.Stages, rundir.Stage{Stage: stage, At: time.Now()})
				}
			})
		}
		if terminal(sd.Status) {
			final = sd
			break
		}
		r.progress.Update(r.status(lastStep, time.Since(r.stepStart(lastStep)), 0))
		// Look again when ECS reports a change on the event stream (so a
		// step begins within a round trip of the weights changing), or
		// after a while in any case.
		select {
		case <-ctx.Done():
			r.endStep(lastStep, true)
			return from, ctx.Err()
		case <-r.deploymentChanged:
		case <-time.After(250 * time.Millisecond):
		}
	}
	r.endStep(lastStep, false)
	outcome := string(final.Status)
	r.updateDeployment(idx, func(d *rundir.Deployment) {
		d.Outcome, d.Ended = outcome, time.Now()
		if rb := final.Rollback; rb != nil {
			d.RollbackReason = aws.ToString(rb.Reason)
		}
		if d.RollbackReason == "" && outcome != string(ecstypes.ServiceDeploymentStatusSuccessful) {
			d.RollbackReason = aws.ToString(final.StatusReason)
		}
	})
	now := from
	if outcome == string(ecstypes.ServiceDeploymentStatusSuccessful) {
		now = dep.To
	}

	// Hold the settled state: the service runs one revision again.
	r.progress.Update(Status{Phase: "deployment", Message: fmt.Sprintf("%s ended %s; waiting for the service to be stable", dep.Name, outcome)})
	if err := wld.waitStable(ctx, r.opts.SetupTimeout); err != nil {
		return now, err
	}
	i := r.addStep(fmt.Sprintf("%s: settled (%s)", dep.Name, strings.ToLower(outcome)), map[string]float64{now: 100})
	return now, r.hold(ctx, i, dep.Hold)
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

func phaseName(stage string, status ecstypes.ServiceDeploymentStatus) string {
	if status == ecstypes.ServiceDeploymentStatusRollbackInProgress || status == ecstypes.ServiceDeploymentStatusRollbackRequested {
		return "rollback " + stage
	}
	if stage == "" {
		return strings.ToLower(string(status))
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

func (r *runner) stepStart(i int) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.steps[i].Start
}

func (r *runner) recordDeployment(d rundir.Deployment) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deployments = append(r.deployments, d)
	return len(r.deployments) - 1
}

func (r *runner) updateDeployment(i int, f func(*rundir.Deployment)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.deployments[i])
}

// gateSet is the gates of the deployment in progress, by function ARN.
type gateSet struct {
	mu         sync.Mutex
	gates      map[string]scenarios.Hook
	deployment int
}

func (r *runner) setGates(g map[string]scenarios.Hook, deployment int) {
	r.gates.mu.Lock()
	defer r.gates.mu.Unlock()
	r.gates.gates, r.gates.deployment = g, deployment
}

// onEvent answers the lifecycle hook invocations of the deployment in
// progress: a gate holds when, over its window, the error rate and p99
// latency stay within its limits.
func (r *runner) onEvent(e rundir.Event) {
	if e.Source == contract.SourceECS && strings.HasPrefix(string(e.Type), "deployment.") {
		r.lastChange.Store(e.Time.UnixNano())
		select {
		case r.deploymentChanged <- struct{}{}:
		default:
		}
		return
	}
	if e.Source != contract.SourceLambda || e.Type != contract.EventHookInvoked {
		return
	}
	r.gates.mu.Lock()
	h, ok := r.gates.gates[e.Detail[contract.DetailFunction]]
	dep := r.gates.deployment
	r.gates.mu.Unlock()
	if !ok {
		return // not one of ours: ECS fails it when it times out
	}
	// Judge after the window has passed since the invocation, so the gate
	// sees traffic under the stage it guards.
	go func() {
		time.Sleep(h.Window)
		now := time.Now()
		n, failed, p99 := r.recent.stats(now.Add(-h.Window))
		g := rundir.Gate{Stage: e.Detail[contract.DetailStage], At: now, Requests: n, Failed: failed, P99: p99, Status: "SUCCEEDED"}
		var why []string
		switch {
		case n == 0:
			why = append(why, fmt.Sprintf("no requests in the last %s to judge", h.Window))
		default:
			rate := float64(failed) / float64(n)
			if h.MaxErrorRate >= 0 && rate > h.MaxErrorRate {
				why = append(why, fmt.Sprintf("error rate %.2f%% > %.2f%%", 100*rate, 100*h.MaxErrorRate))
			}
			if h.MaxP99 > 0 && p99 >= h.MaxP99 {
				why = append(why, fmt.Sprintf("p99 %s ≥ %s", p99.Round(time.Microsecond), h.MaxP99))
			}
		}
		if len(why) > 0 {
			g.Status, g.Reason = "FAILED", strings.Join(why, "; ")
		} else {
			g.Reason = fmt.Sprintf("%d requests in %s: %d failed, p99 %s", n, h.Window, failed, p99.Round(time.Microsecond))
		}
		if dep >= 0 {
			r.updateDeployment(dep, func(d *rundir.Deployment) { d.Gates = append(d.Gates, g) })
		}
		r.engineEvent(gateEvent(g.Status), e.Detail[contract.DetailFunction], map[string]string{"stage": g.Stage, "reason": g.Reason})
		body, _ := json.Marshal(contract.HookAnswer{HookStatus: g.Status, Reason: g.Reason})
		url := strings.TrimRight(r.opts.Endpoint, "/") + contract.HookPathPrefix + e.Detail[contract.DetailInvocationID]
		resp, err := http.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			r.engineEvent(contract.EventGateError, e.Detail[contract.DetailFunction], map[string]string{"error": err.Error()})
			return
		}
		resp.Body.Close()
	}()
}

// gateEvent is the event type of a gate's decision.
func gateEvent(status string) contract.EventType {
	if status == "SUCCEEDED" {
		return contract.EventGateSucceeded
	}
	return contract.EventGateFailed
}
