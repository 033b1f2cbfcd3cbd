package ecs

import (
	"cmp"
	"slices"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// This file holds the operations on service deployments and revisions:
// List/DescribeServiceDeployments, DescribeServiceRevisions,
// Stop/ContinueServiceDeployment.

// findServiceDeployment returns the service deployment arn. Callers hold
// f.mu.
func (f *Fake) findServiceDeployment(arn string) (*serviceDeployment, error) {
	sd, ok := f.serviceDeployments[arn]
	if !ok || sd.service.cluster.status != clusterActive {
		return nil, errServiceDeploymentNotFound
	}
	return sd, nil
}

type listServiceDeploymentsInput struct {
	Service   string   `json:"service"`
	Cluster   string   `json:"cluster"`
	Status    []string `json:"status"`
	CreatedAt *struct {
		Before *float64 `json:"before"`
		After  *float64 `json:"after"`
	} `json:"createdAt"`
	NextToken  string `json:"nextToken"`
	MaxResults *int   `json:"maxResults"`
}

func (f *Fake) listServiceDeployments(region string, in *listServiceDeploymentsInput) (any, error) {
	if in.Service == "" {
		return nil, invalidParameter("service is required.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.findService(region, in.Cluster, in.Service)
	if err != nil {
		return nil, err
	}
	var list []*serviceDeployment
	for _, sd := range slices.Backward(s.history) { // newest first
		if len(in.Status) > 0 && !slices.Contains(in.Status, sd.status) {
			continue
		}
		if c := in.CreatedAt; c != nil {
			at := float64(sd.createdAt.UnixMilli()) / 1000
			if c.Before != nil && at >= *c.Before || c.After != nil && at <= *c.After {
				continue
			}
		}
		list = append(list, sd)
	}
	// Newest first: the token is an offset.
	page, next, err := awsproto.Page(paging(20), list, nil, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	briefs := []serviceDeploymentBrief{}
	for _, sd := range page {
		briefs = append(briefs, serviceDeploymentBrief{
			ServiceDeploymentArn:     sd.arn,
			ServiceArn:               s.arn,
			ClusterArn:               s.cluster.arn,
			CreatedAt:                timestamp(sd.createdAt),
			StartedAt:                timestamp(sd.startedAt),
			FinishedAt:               timestamp(cmpTime(sd.finishedAt, sd.stoppedAt)),
			TargetServiceRevisionArn: sd.target.revision.arn,
			Status:                   sd.status,
			StatusReason:             sd.statusReason,
		})
	}
	out := map[string]any{"serviceDeployments": briefs}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

// cmpTime returns t, or u when t is zero.
func cmpTime(t, u time.Time) time.Time {
	if t.IsZero() {
		return u
	}
	return t
}

type describeServiceDeploymentsInput struct {
	ServiceDeploymentArns []string `json:"serviceDeploymentArns"`
}

func (f *Fake) describeServiceDeployments(region string, in *describeServiceDeploymentsInput) (any, error) {
	if len(in.ServiceDeploymentArns) == 0 || len(in.ServiceDeploymentArns) > 20 {
		return nil, invalidParameter("serviceDeploymentArns must have 1 to 20 items.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []serviceDeploymentOutput{}
	failures := []failure{}
	for _, arn := range in.ServiceDeploymentArns {
		sd, err := f.findServiceDeployment(arn)
		if err != nil {
			failures = append(failures, failure{Arn: arn, Reason: "MISSING"})
			continue
		}
		out = append(out, f.serviceDeploymentOutput(sd))
	}
	return map[string]any{"serviceDeployments": out, "failures": failures}, nil
}

type describeServiceRevisionsInput struct {
	ServiceRevisionArns []string `json:"serviceRevisionArns"`
}

func (f *Fake) describeServiceRevisions(region string, in *describeServiceRevisionsInput) (any, error) {
	if len(in.ServiceRevisionArns) == 0 || len(in.ServiceRevisionArns) > 20 {
		return nil, invalidParameter("serviceRevisionArns must have 1 to 20 items.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []serviceRevisionOutput{}
	failures := []failure{}
	for _, arn := range in.ServiceRevisionArns {
		rev, ok := f.revisions[arn]
		if !ok {
			failures = append(failures, failure{Arn: arn, Reason: "MISSING"})
			continue
		}
		out = append(out, f.serviceRevisionOutput(rev))
	}
	return map[string]any{"serviceRevisions": out, "failures": failures}, nil
}

type stopServiceDeploymentInput struct {
	ServiceDeploymentArn string `json:"serviceDeploymentArn"`
	StopType             string `json:"stopType"`
}

func (f *Fake) stopServiceDeployment(region string, in *stopServiceDeploymentInput) (any, error) {
	if in.ServiceDeploymentArn == "" {
		return nil, invalidParameter("serviceDeploymentArn is required.")
	}
	if t := cmp.Or(in.StopType, "ROLLBACK"); t != "ROLLBACK" {
		return nil, invalidParameter("stopType must be ROLLBACK, not %s.", in.StopType)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	sd, err := f.findServiceDeployment(in.ServiceDeploymentArn)
	if err != nil {
		return nil, err
	}
	const reason = "Service deployment rolled back by StopServiceDeployment."
	const event = "rollback requested by StopServiceDeployment."
	s := sd.service
	switch {
	case sd.halted():
		return nil, conflict(sd.arn, "Service deployment %s is %s and cannot be stopped.", sd.arn, sd.status)
	case sd.shift && sd.stage == stageCleanUp:
		return nil, conflict(sd.arn, "Service deployment %s is cleaning up its source revisions and cannot be rolled back.", sd.arn)
	case sd.shift:
		f.requestRollback(sd, reason, event, false)
	case s.lastGood == nil || s.lastGood == sd.target || s.deployments[0] != sd.target:
		return nil, conflict(sd.arn, "Service deployment %s has no completed service revision to roll back to.", sd.arn)
	default:
		f.setSDStatus(sd, sdRollbackRequested, reason)
		f.failDeployment(s, sd.target, reason, event, false, true)
		f.kick(s)
	}
	return map[string]any{"serviceDeploymentArn": sd.arn}, nil
}

type continueServiceDeploymentInput struct {
	ServiceDeploymentArn string `json:"serviceDeploymentArn"`
	HookID               string `json:"hookId"`
	Action               string `json:"action"`
}

func (f *Fake) continueServiceDeployment(region string, in *continueServiceDeploymentInput) (any, error) {
	action := cmp.Or(in.Action, hookActionContinue)
	switch {
	case in.ServiceDeploymentArn == "":
		return nil, invalidParameter("serviceDeploymentArn is required.")
	case in.HookID == "":
		return nil, invalidParameter("hookId is required.")
	case action != hookActionContinue && action != hookActionRollback:
		return nil, invalidParameter("action must be CONTINUE or ROLLBACK, not %s.", in.Action)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	sd, err := f.findServiceDeployment(in.ServiceDeploymentArn)
	if err != nil {
		return nil, err
	}
	var hr *hookRun
	for _, h := range sd.hooks {
		if h.id == in.HookID {
			hr = h
		}
	}
	switch {
	case hr == nil:
		return nil, invalidParameter("Service deployment %s has no lifecycle hook %s.", sd.arn, in.HookID)
	case hr.hook.targetType() != hookTargetPause:
		return nil, invalidParameter("Lifecycle hook %s is an AWS_LAMBDA hook; only PAUSE hooks can be continued.", in.HookID)
	case hr.status != hookAwaiting || !sd.active():
		return nil, conflict(sd.arn, "Lifecycle hook %s is not awaiting action (status %s).", in.HookID, hr.status)
	}
	if action == hookActionContinue {
		f.hookDone(sd, hr, hookSucceeded, "continued by ContinueServiceDeployment")
	} else {
		f.hookDone(sd, hr, hookFailed, "rolled back by ContinueServiceDeployment")
	}
	return map[string]any{"serviceDeploymentArn": sd.arn}, nil
}
