package elbv2

import (
	"context"
	"slices"
	"strconv"
	"time"
)

// State is what a load balancer's data plane is built from: each load
// balancer with its listeners and their rules in evaluation order, and the
// target groups they forward to with the targets that take requests.
type State struct {
	LoadBalancers []LoadBalancerState
	TargetGroups  map[string]TargetGroupState // by ARN
}

// LoadBalancerState is one load balancer.
type LoadBalancerState struct {
	ARN, Name string
	// Type is "application" or "network".
	Type string
	// NodeID is its proxy's xDS node id.
	NodeID string
	// IdleTimeout is idle_timeout.timeout_seconds in the fake's time
	// (0 for network load balancers, whose idle timeout is TCP's).
	IdleTimeout time.Duration
	Listeners   []ListenerState
}

// ListenerState is a listener; Rules are in evaluation order, the
// default rule last.
type ListenerState struct {
	Port     int32
	Protocol string
	Rules    []RuleState
}

// RuleState is a rule: its conditions (all must match) and its first
// action.
type RuleState struct {
	ARN        string
	Priority   string
	Conditions []RuleCondition
	Action     Action
}

// TargetGroupState is a target group's routable targets.
type TargetGroupState struct {
	ARN, Name string
	Protocol  string
	// Targets take new requests: healthy ones, those whose health checks
	// are off, or (failing open, as ELBv2 does) every registered target
	// when none is healthy. Draining targets never do.
	Targets []TargetState
}

// TargetState is one target that takes requests.
type TargetState struct {
	IP   string
	Port int32
	// Weight is 100, or less during slow start.
	Weight uint32
	State  string
}

// State returns the state the data plane is built from.
func (f *Fake) State() State {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	st := State{TargetGroups: map[string]TargetGroupState{}}
	for _, lb := range f.sortedLBs() {
		ls := LoadBalancerState{ARN: lb.wire.LoadBalancerArn, Name: lb.wire.LoadBalancerName, Type: lb.wire.Type, NodeID: lb.nodeID}
		if lb.wire.Type == "application" {
			n, _ := strconv.Atoi(lb.attrs["idle_timeout.timeout_seconds"])
			ls.IdleTimeout = f.seconds(int32(n))
		}
		for _, l := range lb.listeners {
			lst := ListenerState{Port: l.wire.Port, Protocol: l.wire.Protocol}
			for _, r := range l.allRules() {
				rs := RuleState{ARN: r.wire.RuleArn, Priority: r.wire.Priority, Conditions: r.wire.Conditions}
				if len(r.wire.Actions) > 0 {
					acts := slices.Clone(r.wire.Actions)
					slices.SortStableFunc(acts, func(a, b Action) int { return int(a.Order - b.Order) })
					rs.Action = acts[0]
				}
				for _, arn := range forwardTargets(rs.Action) {
					if tg, ok := f.tgs[arn]; ok {
						st.TargetGroups[arn] = f.routable(tg, now)
					}
				}
				lst.Rules = append(lst.Rules, rs)
			}
			ls.Listeners = append(ls.Listeners, lst)
		}
		st.LoadBalancers = append(st.LoadBalancers, ls)
	}
	return st
}

// routable lists tg's targets that take new requests. Callers hold f.mu.
func (f *Fake) routable(tg *targetGroup, now time.Time) TargetGroupState {
	out := TargetGroupState{ARN: tg.wire.TargetGroupArn, Name: tg.wire.TargetGroupName, Protocol: tg.wire.Protocol}
	slow := f.seconds(tg.intAttr("slow_start.duration_seconds"))
	var keys []targetKey
	for k := range tg.targets {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b targetKey) int {
		if a.ip != b.ip {
			return compareIP(a.ip, b.ip)
		}
		return int(a.port - b.port)
	})
	var fallback []TargetState
	for _, k := range keys {
		t := tg.targets[k]
		ts := TargetState{IP: k.ip, Port: k.port, Weight: 100, State: t.state}
		switch t.state {
		case stateHealthy:
			if slow > 0 && now.Sub(t.healthySince) < slow {
				ts.Weight = max(1, uint32(100*now.Sub(t.healthySince)/slow))
			}
			out.Targets = append(out.Targets, ts)
		case stateUnavail:
			out.Targets = append(out.Targets, ts)
		case stateInitial, stateUnhealthy:
			fallback = append(fallback, ts)
		}
	}
	if len(out.Targets) == 0 {
		out.Targets = fallback // fail open
	}
	return out
}

func compareIP(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

// SlowStarting reports whether a healthy target is still in its slow start
// window, so that the data plane's weights change with time alone; the
// caller rebuilds State until it is false.
func (f *Fake) SlowStarting() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	for _, tg := range f.tgs {
		slow := f.seconds(tg.intAttr("slow_start.duration_seconds"))
		if slow <= 0 {
			continue
		}
		for _, t := range tg.targets {
			if t.state == stateHealthy && now.Sub(t.healthySince) < slow {
				return true
			}
		}
	}
	return false
}

// RegisterTarget registers ip:port in the target group targetGroupARN, as
// RegisterTargets does (ECS registers a service's tasks so).
func (f *Fake) RegisterTarget(ctx context.Context, targetGroupARN, ip string, port int32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tg, err := f.tg(targetGroupARN)
	if err != nil {
		return err
	}
	keys, err := targetKeys(tg, []TargetDescription{{ID: ip, Port: port}})
	if err != nil {
		return err
	}
	f.register(tg, keys[0])
	return nil
}

// DeregisterTarget deregisters ip:port from targetGroupARN, as
// DeregisterTargets does, and returns how long it drains (the target
// group's deregistration delay, in the fake's time; 0 when the group is
// not in use). A target that is not registered is no error.
func (f *Fake) DeregisterTarget(ctx context.Context, targetGroupARN, ip string, port int32) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tg, err := f.tg(targetGroupARN)
	if err != nil {
		return 0, err
	}
	return f.deregister(tg, targetKey{ip, port}), nil
}

// TargetHealth returns the health state of ip:port in targetGroupARN:
// "initial", "healthy", "unhealthy", "unused", "draining", "unavailable",
// or "" when it is not registered.
func (f *Fake) TargetHealth(targetGroupARN, ip string, port int32) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	tg, ok := f.tgs[targetGroupARN]
	if !ok {
		return ""
	}
	if t, ok := tg.targets[targetKey{ip, port}]; ok {
		return t.state
	}
	return ""
}

// TargetGroupPort returns the port of a target group (the port of the
// targets ECS registers when the service names no other), and whether
// the group exists.
func (f *Fake) TargetGroupPort(targetGroupARN string) (int32, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tg, ok := f.tgs[targetGroupARN]
	if !ok {
		return 0, false
	}
	return tg.wire.Port, true
}

// RuleTargetGroups returns the target groups a listener rule forwards to
// with their weights (as ModifyRule sets them).
func (f *Fake) RuleTargetGroups(ruleARN string) (map[string]int32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.rule(ruleARN)
	if err != nil {
		return nil, err
	}
	out := map[string]int32{}
	for _, a := range r.wire.Actions {
		if a.Type == "forward" && a.ForwardConfig != nil {
			for _, t := range a.ForwardConfig.TargetGroups {
				out[t.TargetGroupArn] = *t.Weight
			}
		}
	}
	return out, nil
}

// SetRuleWeights makes a listener rule forward to the target groups of
// weights with those weights, as ModifyRule with a ForwardConfig does (ECS
// shifts blue/green traffic so).
func (f *Fake) SetRuleWeights(ctx context.Context, ruleARN string, weights map[string]int32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	arns := make([]string, 0, len(weights))
	for a := range weights {
		arns = append(arns, a)
	}
	slices.Sort(arns)
	fc := &ForwardConfig{}
	for _, a := range arns {
		w := weights[a]
		fc.TargetGroups = append(fc.TargetGroups, TargetGroupTuple{TargetGroupArn: a, Weight: &w})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err := f.modifyRuleLocked(ruleARN, nil, []Action{{Type: "forward", ForwardConfig: fc}})
	return err
}

func (f *Fake) addTags(_ context.Context, _ string, decode func(any) error) (any, error) {
	var in struct {
		ResourceArns []string
		Tags         []Tag
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, arn := range in.ResourceArns {
		if !f.exists(arn) {
			return nil, apiError(codeLBNotFound, "Resource '%s' not found", arn)
		}
	}
	for _, arn := range in.ResourceArns {
		tags := f.tags[arn]
		for _, t := range in.Tags {
			tags = slices.DeleteFunc(tags, func(o Tag) bool { return o.Key == t.Key })
			tags = append(tags, t)
		}
		f.tags[arn] = tags
	}
	return map[string]any{}, nil
}

func (f *Fake) removeTags(_ context.Context, _ string, decode func(any) error) (any, error) {
	var in struct {
		ResourceArns []string
		TagKeys      []string
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, arn := range in.ResourceArns {
		f.tags[arn] = slices.DeleteFunc(f.tags[arn], func(t Tag) bool { return slices.Contains(in.TagKeys, t.Key) })
	}
	return map[string]any{}, nil
}

func (f *Fake) describeTags(_ context.Context, _ string, decode func(any) error) (any, error) {
	var in struct{ ResourceArns []string }
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []TagDescription{}
	for _, arn := range in.ResourceArns {
		if !f.exists(arn) {
			return nil, apiError(codeLBNotFound, "Resource '%s' not found", arn)
		}
		out = append(out, TagDescription{ResourceArn: arn, Tags: nonNil(f.tags[arn])})
	}
	return map[string]any{"TagDescriptions": out}, nil
}

// exists reports whether arn names a load balancer, target group,
// listener or rule. Callers hold f.mu.
func (f *Fake) exists(arn string) bool {
	if _, ok := f.lbs[arn]; ok {
		return true
	}
	if _, ok := f.tgs[arn]; ok {
		return true
	}
	if _, err := f.listener(arn); err == nil {
		return true
	}
	_, err := f.rule(arn)
	return err == nil
}
