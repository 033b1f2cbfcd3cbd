package ecs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/meshsim/meshsim/sim/contract"
)

// HookRunner runs the AWS_LAMBDA lifecycle hooks of service deployments.
// meshsim has no Lambda: a HookRunner takes the function's place and
// decides whether the deployment goes on (SUCCEEDED) or rolls back
// (FAILED), as the function's hookStatus would.
type HookRunner interface {
	// RunHook runs one invocation of a hook and returns its result; an
	// error counts as FAILED. ctx is done when the hook times out or the
	// deployment stops waiting for it (a rollback, the fake closing);
	// RunHook should return then.
	RunHook(ctx context.Context, h HookInvocation) (HookResult, error)
}

// HookInvocation is what ECS tells a lifecycle hook: which deployment,
// at which stage, and how traffic is split at that moment.
type HookInvocation struct {
	Cluster              string // cluster name
	Service              string // service name
	ServiceARN           string
	ServiceDeploymentARN string
	// TargetServiceRevisionARN is the revision being deployed.
	TargetServiceRevisionARN string
	// Stage is the lifecycle stage, for example PRODUCTION_TRAFFIC_SHIFT
	// (invoked at every step of a LINEAR or CANARY deployment).
	Stage string
	// HookID identifies this invocation, as lifecycleHookDetails shows it.
	HookID string
	// TargetARN is the hook's hookTargetArn (the Lambda function).
	TargetARN string
	// HookDetails is the hook's hookDetails, raw JSON (nil when absent).
	HookDetails json.RawMessage
	// ProductionTrafficWeights and TestTrafficWeights give each service
	// revision ARN its share of traffic, in percent.
	ProductionTrafficWeights map[string]float64
	TestTrafficWeights       map[string]float64
}

// HookStatus is the outcome of a hook.
type HookStatus string

// The outcomes a HookRunner reports.
const (
	HookSucceeded HookStatus = "SUCCEEDED"
	HookFailed    HookStatus = "FAILED"
)

// HookResult is the outcome of one hook invocation.
type HookResult struct {
	Status HookStatus
	// Reason says why, for the service deployment's statusReason when the
	// hook fails.
	Reason string
}

// Statuses of a hook invocation (lifecycleHookDetails[].status).
const (
	hookAwaiting   = "AWAITING_ACTION"
	hookInProgress = "IN_PROGRESS"
	hookSucceeded  = "SUCCEEDED"
	hookFailed     = "FAILED"
	hookTimedOut   = "TIMED_OUT"
)

// hookRun is one invocation of a lifecycle hook.
type hookRun struct {
	id            string
	stage         string
	hook          *lifecycleHook
	status        string
	reason        string
	expiresAt     time.Time
	timeoutAction string
}

// done reports whether the hook has an outcome.
func (h *hookRun) done() bool {
	return h.status == hookSucceeded || h.status == hookFailed || h.status == hookTimedOut
}

// passed reports whether the hook lets the deployment go on.
func (h *hookRun) passed() bool {
	return h.status == hookSucceeded || (h.status == hookTimedOut && h.timeoutAction == hookActionContinue)
}

// runHooks invokes the hooks configured for stage, all at once, and waits
// for their outcomes. A hook that fails (or times out with the ROLLBACK
// action) requests a rollback. It reports whether the deployment goes on.
func (f *Fake) runHooks(sd *serviceDeployment, stage string) bool {
	f.mu.Lock()
	if sd.halted() {
		f.mu.Unlock()
		return false
	}
	now := f.now()
	var runs []*hookRun
	for i := range sd.parsed.LifecycleHooks {
		h := &sd.parsed.LifecycleHooks[i]
		if !slices.Contains(h.LifecycleStages, stage) {
			continue
		}
		minutes, action := h.timeout()
		hr := &hookRun{id: newUUID(), stage: stage, hook: h, status: hookInProgress,
			expiresAt: now.Add(f.minutes(minutes)), timeoutAction: action}
		if h.targetType() == hookTargetPause {
			hr.status = hookAwaiting
		}
		sd.hooks = append(sd.hooks, hr)
		sd.updatedAt = now
		runs = append(runs, hr)
		f.emit(contract.EventHookInvoked, sd.arn, f.hookDetail(sd, hr))
	}
	invocation := f.invocation(sd, stage)
	f.mu.Unlock()
	if len(runs) == 0 {
		return true
	}

	ctx, cancel := context.WithCancel(f.runCtx)
	defer cancel()
	for _, hr := range runs {
		if hr.hook.targetType() != hookTargetLambda {
			continue
		}
		inv := invocation
		inv.HookID, inv.TargetARN, inv.HookDetails = hr.id, hr.hook.HookTargetArn, hr.hook.HookDetails
		hctx, hcancel := context.WithDeadline(ctx, hr.expiresAt)
		f.runners.Go(func() {
			defer hcancel()
			status, reason := f.callHook(hctx, inv)
			f.mu.Lock()
			defer f.mu.Unlock()
			f.hookDone(sd, hr, status, reason)
		})
	}

	for {
		f.mu.Lock()
		now := f.now()
		next := time.Duration(-1)
		var failed *hookRun
		pending := false
		for _, hr := range runs {
			if !hr.done() && !now.Before(hr.expiresAt) {
				f.hookDone(sd, hr, hookTimedOut, fmt.Sprintf("the hook did not complete within its timeout; timeout action %s", hr.timeoutAction))
			}
			switch {
			case !hr.done():
				pending = true
				if d := hr.expiresAt.Sub(now); next < 0 || d < next {
					next = d
				}
			case !hr.passed() && failed == nil:
				failed = hr
			}
		}
		halted := sd.halted()
		if failed != nil && !halted {
			f.requestRollback(sd,
				fmt.Sprintf("Lifecycle hook %s failed at stage %s: %s", failed.id, failed.stage, failed.reason),
				fmt.Sprintf("lifecycle hook %s failed at stage %s.", failed.id, failed.stage), false)
			halted = true
		}
		f.mu.Unlock()
		if halted {
			return false
		}
		if !pending {
			return true
		}
		if !f.pause(sd, next) {
			return false
		}
	}
}

// callHook runs an AWS_LAMBDA hook through the HookRunner.
func (f *Fake) callHook(ctx context.Context, inv HookInvocation) (status, reason string) {
	if f.opts.Hooks == nil {
		return hookFailed, "meshsim's ECS has no HookRunner to invoke " + inv.TargetARN
	}
	res, err := f.opts.Hooks.RunHook(ctx, inv)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return hookTimedOut, "the hook did not complete within its timeout"
	case err != nil:
		return hookFailed, err.Error()
	case res.Status == HookSucceeded:
		return hookSucceeded, res.Reason
	case res.Status == HookFailed:
		return hookFailed, cmp.Or(res.Reason, "the hook returned FAILED")
	default:
		return hookFailed, fmt.Sprintf("the hook returned status %q; want SUCCEEDED or FAILED", res.Status)
	}
}

// hookDone records the outcome of a hook unless it has one. Callers hold
// f.mu.
func (f *Fake) hookDone(sd *serviceDeployment, hr *hookRun, status, reason string) {
	if hr.done() {
		return
	}
	hr.status, hr.reason = status, reason
	sd.updatedAt = f.now()
	detail := f.hookDetail(sd, hr)
	detail["status"], detail["reason"] = status, reason
	f.emit(contract.EventHookResult, sd.arn, detail)
	sd.notify()
}

// hookDetail is the detail of contract.EventHookInvoked and contract.EventHookResult events.
func (f *Fake) hookDetail(sd *serviceDeployment, hr *hookRun) map[string]string {
	return map[string]string{
		"service":           sd.service.name,
		"cluster":           sd.service.cluster.name,
		"serviceDeployment": sd.arn,
		"stage":             hr.stage,
		"hookId":            hr.id,
		"targetType":        hr.hook.targetType(),
		"targetArn":         hr.hook.HookTargetArn,
		"status":            hr.status,
	}
}

// invocation returns the parts of a hook invocation that all hooks of a
// stage share. Callers hold f.mu.
func (f *Fake) invocation(sd *serviceDeployment, stage string) HookInvocation {
	s := sd.service
	inv := HookInvocation{
		Cluster:                  s.cluster.name,
		Service:                  s.name,
		ServiceARN:               s.arn,
		ServiceDeploymentARN:     sd.arn,
		TargetServiceRevisionARN: sd.target.revision.arn,
		Stage:                    stage,
		ProductionTrafficWeights: map[string]float64{},
		TestTrafficWeights:       map[string]float64{},
	}
	for d, w := range f.weights(s) {
		inv.ProductionTrafficWeights[d.revision.arn] += w.production
		inv.TestTrafficWeights[d.revision.arn] += w.test
	}
	return inv
}
