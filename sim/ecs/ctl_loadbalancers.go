package ecs

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"
)

// This file is ECS's side of Elastic Load Balancing: a service's
// loadBalancers name target groups in which ECS registers each task (its
// IP and the container port) once the task is healthy, and from which it
// deregisters the task before stopping it, waiting for the target to drain
// for the group's deregistration delay. A task becomes RUNNING once its
// targets pass the load balancer's health checks; one whose target turns
// unhealthy after the health-check grace period fails ("Task failed ELB
// health checks").
//
// A BLUE_GREEN, LINEAR or CANARY deployment on a load balancer (a
// loadBalancers entry with advancedConfiguration) registers the new
// revision's tasks in the target group that does not serve production
// (alternateTargetGroupArn, or targetGroupArn after a swap) and shifts
// traffic by the weights of the production and test listener rules'
// forward actions, stage by stage, as it shifts Service Connect traffic.

// LoadBalancers is the ELBv2 that ECS registers service tasks in and whose
// listener rules it shifts (as ECS does with the infrastructure role of
// advancedConfiguration.roleArn).
type LoadBalancers interface {
	// TargetGroupPort returns a target group's port, and whether it
	// exists.
	TargetGroupPort(targetGroupARN string) (int32, bool)
	// RuleTargetGroups returns the target groups a listener rule forwards
	// to, with their weights.
	RuleTargetGroups(ruleARN string) (map[string]int32, error)
	// RegisterTarget registers ip:port in a target group.
	RegisterTarget(ctx context.Context, targetGroupARN, ip string, port int32) error
	// DeregisterTarget deregisters ip:port and returns how long it drains.
	DeregisterTarget(ctx context.Context, targetGroupARN, ip string, port int32) (time.Duration, error)
	// TargetHealth returns the target's health state ("healthy",
	// "unhealthy", "initial", ...; "" when not registered).
	TargetHealth(targetGroupARN, ip string, port int32) string
	// SetRuleWeights makes a rule forward to the target groups of weights.
	SetRuleWeights(ctx context.Context, ruleARN string, weights map[string]int32) error
}

// serviceLB is an entry of a service's loadBalancers.
type serviceLB struct {
	TargetGroupArn        string      `json:"targetGroupArn"`
	LoadBalancerName      string      `json:"loadBalancerName,omitempty"`
	ContainerName         string      `json:"containerName"`
	ContainerPort         *int        `json:"containerPort"`
	AdvancedConfiguration *lbAdvanced `json:"advancedConfiguration,omitempty"`
}

// lbAdvanced is a load balancer's advancedConfiguration for blue/green.
type lbAdvanced struct {
	AlternateTargetGroupArn string `json:"alternateTargetGroupArn"`
	ProductionListenerRule  string `json:"productionListenerRule"`
	TestListenerRule        string `json:"testListenerRule,omitempty"`
	RoleArn                 string `json:"roleArn"`
}

// loadBalancing is a service's load balancers and which target group of
// each serves which deployment.
type loadBalancing struct {
	entries []serviceLB
	// prod is, per entry, the target group that serves production now.
	prod []string
	// groups is, per deployment, the target group of each entry its
	// tasks are registered in.
	groups map[*deployment][]string
}

// lbTarget is a task's registration in a target group.
type lbTarget struct {
	targetGroup string
	port        int32
}

// parseLoadBalancers checks a service's loadBalancers against the task
// definition and the load balancers, as CreateService does.
func (f *Fake) parseLoadBalancers(raw json.RawMessage, td *taskDef) (*loadBalancing, error) {
	var entries []serviceLB
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, invalidParameter("loadBalancers: %v", err)
	}
	if len(entries) == 0 {
		return nil, nil
	}
	if f.opts.LoadBalancers == nil {
		return nil, nil // a fake without ELBv2 (Options.LoadBalancers) accepts them to no effect
	}
	lb := &loadBalancing{entries: entries, groups: map[*deployment][]string{}}
	for i, e := range entries {
		if err := f.checkLoadBalancer(e, td); err != nil {
			return nil, invalidParameter("loadBalancers[%d]: %s", i, err.Error())
		}
		lb.prod = append(lb.prod, e.TargetGroupArn)
	}
	return lb, nil
}

func (f *Fake) checkLoadBalancer(e serviceLB, td *taskDef) error {
	if e.TargetGroupArn == "" {
		return fmt.Errorf("targetGroupArn is required (classic load balancers are not supported)")
	}
	if _, ok := f.opts.LoadBalancers.TargetGroupPort(e.TargetGroupArn); !ok {
		return fmt.Errorf("target group %s does not exist", e.TargetGroupArn)
	}
	if e.ContainerName == "" || e.ContainerPort == nil {
		return fmt.Errorf("containerName and containerPort are required")
	}
	found := false
	for _, c := range td.containers {
		if c.Name != e.ContainerName {
			continue
		}
		for _, p := range c.PortMappings {
			if p.ContainerPort != nil && *p.ContainerPort == *e.ContainerPort {
				found = true
			}
		}
	}
	if !found {
		return fmt.Errorf("the container %s does not have a container port %d in the task definition", e.ContainerName, *e.ContainerPort)
	}
	a := e.AdvancedConfiguration
	if a == nil {
		return nil
	}
	if a.AlternateTargetGroupArn == "" || a.ProductionListenerRule == "" || a.RoleArn == "" {
		return fmt.Errorf("advancedConfiguration requires alternateTargetGroupArn, productionListenerRule and roleArn")
	}
	if _, ok := f.opts.LoadBalancers.TargetGroupPort(a.AlternateTargetGroupArn); !ok {
		return fmt.Errorf("alternate target group %s does not exist", a.AlternateTargetGroupArn)
	}
	for _, rule := range []string{a.ProductionListenerRule, a.TestListenerRule} {
		if rule == "" {
			continue
		}
		tgs, err := f.opts.LoadBalancers.RuleTargetGroups(rule)
		if err != nil {
			return fmt.Errorf("listener rule %s: %v", rule, err)
		}
		if _, ok := tgs[e.TargetGroupArn]; !ok {
			return fmt.Errorf("listener rule %s does not forward to target group %s", rule, e.TargetGroupArn)
		}
	}
	return nil
}

// assignTargetGroups decides the target groups of a new deployment d: the
// production ones, or for a traffic-shifting deployment on a load
// balancer with advancedConfiguration the alternate ones. Callers hold
// f.mu.
func (lb *loadBalancing) assignTargetGroups(d *deployment, shift bool) {
	if lb == nil {
		return
	}
	groups := slices.Clone(lb.prod)
	if shift {
		for i, e := range lb.entries {
			if a := e.AdvancedConfiguration; a != nil {
				groups[i] = other(e, lb.prod[i])
			}
		}
	}
	lb.groups[d] = groups
}

// other is the target group of entry e that is not tg.
func other(e serviceLB, tg string) string {
	if tg == e.TargetGroupArn {
		return e.AdvancedConfiguration.AlternateTargetGroupArn
	}
	return e.TargetGroupArn
}

// targetsFor returns the registrations of a task of deployment d.
// Callers hold f.mu.
func (lb *loadBalancing) targetsFor(d *deployment) []lbTarget {
	if lb == nil {
		return nil
	}
	groups, ok := lb.groups[d]
	if !ok {
		groups = lb.prod
	}
	out := make([]lbTarget, len(lb.entries))
	for i, e := range lb.entries {
		out[i] = lbTarget{targetGroup: groups[i], port: int32(*e.ContainerPort)}
	}
	return out
}

// registerTargets registers a task in its target groups and waits until
// the load balancer finds it healthy. It reports false when the task is to
// stop instead (asked to, or failed ELB health checks after the grace
// period).
func (f *Fake) registerTargets(t *task) bool {
	f.mu.Lock()
	targets, ip := t.targets, t.ip
	t.targetsRegistered = true
	f.mu.Unlock()
	if len(targets) == 0 {
		return true
	}
	for _, tg := range targets {
		if err := f.opts.LoadBalancers.RegisterTarget(f.ctx, tg.targetGroup, ip, tg.port); err != nil {
			f.mu.Lock()
			f.failTask(t, fmt.Sprintf("ResourceInitializationError: failed to register the task in target group %s: %v", tg.targetGroup, err), stopCodeFailedToStart, true)
			f.mu.Unlock()
			return false
		}
	}
	grace := time.Duration(0)
	f.mu.Lock()
	if t.service != nil && t.service.in.HealthCheckGracePeriodSeconds != nil {
		grace = f.seconds(*t.service.in.HealthCheckGracePeriodSeconds)
	}
	f.mu.Unlock()
	started := f.now()
	for {
		healthy, unhealthy := 0, ""
		for _, tg := range targets {
			switch f.opts.LoadBalancers.TargetHealth(tg.targetGroup, ip, tg.port) {
			case "healthy", "unavailable":
				healthy++
			case "unhealthy":
				unhealthy = tg.targetGroup
			}
		}
		f.mu.Lock()
		stop := t.desiredStatus == statusStopped
		if !stop && unhealthy != "" && f.now().Sub(started) >= grace {
			f.failTask(t, fmt.Sprintf("Task failed ELB health checks in (target-group %s)", unhealthy), stopCodeScheduler, true)
			stop = true
		}
		f.mu.Unlock()
		if stop {
			return false
		}
		if healthy == len(targets) {
			return true
		}
		timer := f.opts.Clock.NewTimer(f.seconds(1) / 4)
		select {
		case <-timer.C():
		case <-f.runCtx.Done():
			timer.Stop()
			return false
		}
	}
}

// deregisterTargets deregisters a stopping task from its target groups
// and returns how long its targets drain.
func (f *Fake) deregisterTargets(t *task) time.Duration {
	f.mu.Lock()
	targets, ip, registered := t.targets, t.ip, t.targetsRegistered
	f.mu.Unlock()
	if !registered {
		return 0
	}
	var drain time.Duration
	for _, tg := range targets {
		d, err := f.opts.LoadBalancers.DeregisterTarget(f.ctx, tg.targetGroup, ip, tg.port)
		if err != nil {
			f.taskError(t, "deregister target", err)
		}
		drain = max(drain, d)
	}
	return drain
}

// shiftListenerRules sets the weights of the production and test listener
// rules of sd's service to the traffic its deployments have, and records
// which target groups serve production. Callers hold f.mu.
func (f *Fake) shiftListenerRules(sd *serviceDeployment) {
	s := sd.service
	lb := s.lb
	if lb == nil {
		return
	}
	for i, e := range lb.entries {
		a := e.AdvancedConfiguration
		if a == nil {
			continue
		}
		prod, test := map[string]int32{}, map[string]int32{}
		var top *deployment
		for _, d := range s.deployments {
			groups, ok := lb.groups[d]
			if !ok {
				continue
			}
			tg := groups[i]
			prod[tg] += int32(math.Round(d.production))
			test[tg] += int32(math.Round(d.test))
			if top == nil || d.production > top.production {
				top = d
			}
		}
		for _, tg := range []string{e.TargetGroupArn, a.AlternateTargetGroupArn} {
			prod[tg] += 0
			test[tg] += 0
		}
		if err := f.opts.LoadBalancers.SetRuleWeights(f.ctx, a.ProductionListenerRule, prod); err != nil {
			f.serviceEvent(s, fmt.Sprintf("(service %s) failed to shift production listener rule %s: %v", s.name, a.ProductionListenerRule, err))
		}
		if a.TestListenerRule != "" {
			if err := f.opts.LoadBalancers.SetRuleWeights(f.ctx, a.TestListenerRule, test); err != nil {
				f.serviceEvent(s, fmt.Sprintf("(service %s) failed to shift test listener rule %s: %v", s.name, a.TestListenerRule, err))
			}
		}
		if top != nil && top.production > 0 {
			lb.prod[i] = lb.groups[top][i]
		}
	}
}
