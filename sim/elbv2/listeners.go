package elbv2

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/meshsim/meshsim/sim/awsproto"
)

var albProtocols = map[string]bool{"HTTP": true, "HTTPS": true}
var nlbProtocols = map[string]bool{"TCP": true, "TLS": true, "UDP": true, "TCP_UDP": true}

func (l *listener) allRules() []*rule {
	out := make([]*rule, 0, len(l.rules)+1)
	out = append(out, l.rules...)
	slices.SortFunc(out, func(a, b *rule) int { return cmp.Compare(a.priority, b.priority) })
	if l.def != nil {
		out = append(out, l.def)
	}
	return out
}

// forwardTargets lists the target groups a forward action sends to.
func forwardTargets(a Action) []string {
	if a.Type != "forward" {
		return nil
	}
	if a.ForwardConfig != nil {
		out := make([]string, 0, len(a.ForwardConfig.TargetGroups))
		for _, t := range a.ForwardConfig.TargetGroups {
			out = append(out, t.TargetGroupArn)
		}
		return out
	}
	return []string{a.TargetGroupArn}
}

// checkActions checks and normalises actions as ELBv2 describes them back:
// a forward action carries both TargetGroupArn (when it has one target
// group) and ForwardConfig with the weights. Callers hold f.mu.
func (f *Fake) checkActions(lb *loadBalancer, actions []Action) ([]Action, error) {
	if len(actions) == 0 {
		return nil, apiError(codeValidation, "At least one action is required")
	}
	out := make([]Action, 0, len(actions))
	for i, a := range actions {
		switch a.Type {
		case "forward":
			fa, err := f.checkForward(lb, a)
			if err != nil {
				return nil, err
			}
			a = fa
		case "fixed-response":
			if lb.wire.Type != "application" {
				return nil, apiError(codeInvalidAction, "Fixed-response actions are supported by application load balancers only")
			}
			c := a.FixedResponseConfig
			if c == nil {
				return nil, apiError(codeValidation, "A fixed-response action requires FixedResponseConfig")
			}
			if n, err := strconv.Atoi(c.StatusCode); err != nil || n < 200 || n > 599 {
				return nil, apiError(codeValidation, "Fixed-response status code '%s' must be between 200 and 599", c.StatusCode)
			}
		default:
			return nil, apiError(codeInvalidAction, "Action type '%s' is not supported by meshsim (forward and fixed-response are)", a.Type)
		}
		if a.Order == 0 {
			a.Order = int32(i + 1)
		}
		out = append(out, a)
	}
	return out, nil
}

func (f *Fake) checkForward(lb *loadBalancer, a Action) (Action, error) {
	tuples := []TargetGroupTuple{}
	if a.ForwardConfig != nil {
		tuples = a.ForwardConfig.TargetGroups
	}
	if a.TargetGroupArn != "" {
		if len(tuples) > 1 || (len(tuples) == 1 && tuples[0].TargetGroupArn != a.TargetGroupArn) {
			return a, apiError(codeValidation, "You cannot specify both TargetGroupArn and a ForwardConfig with other target groups")
		}
		if len(tuples) == 0 {
			tuples = []TargetGroupTuple{{TargetGroupArn: a.TargetGroupArn}}
		}
	}
	if len(tuples) == 0 {
		return a, apiError(codeValidation, "A forward action requires TargetGroupArn or ForwardConfig.TargetGroups")
	}
	if len(tuples) > 5 {
		return a, apiError(codeValidation, "A forward action can have at most 5 target groups")
	}
	total := int32(0)
	seen := map[string]bool{}
	norm := make([]TargetGroupTuple, 0, len(tuples))
	for _, t := range tuples {
		tg, err := f.tg(t.TargetGroupArn)
		if err != nil {
			return a, err
		}
		if seen[t.TargetGroupArn] {
			return a, apiError(codeValidation, "Target group '%s' is listed twice in the forward action", t.TargetGroupArn)
		}
		seen[t.TargetGroupArn] = true
		if (lb.wire.Type == "application") != albProtocols[tg.wire.Protocol] {
			return a, apiError(codeIncompatible, "The target group '%s' has protocol %s, incompatible with a %s load balancer", tg.wire.TargetGroupName, tg.wire.Protocol, lb.wire.Type)
		}
		w := int32(1)
		if t.Weight != nil {
			w = *t.Weight
		}
		if w < 0 || w > 999 {
			return a, apiError(codeValidation, "Target group weight %d must be between 0 and 999", w)
		}
		total += w
		norm = append(norm, TargetGroupTuple{TargetGroupArn: t.TargetGroupArn, Weight: &w})
	}
	if lb.wire.Type == "network" && len(norm) > 1 {
		return a, apiError(codeInvalidConfig, "Network load balancers forward to one target group")
	}
	out := Action{Type: "forward", Order: a.Order, ForwardConfig: &ForwardConfig{TargetGroups: norm, TargetGroupStickinessConfig: &Stickiness{}}}
	if a.ForwardConfig != nil && a.ForwardConfig.TargetGroupStickinessConfig != nil {
		out.ForwardConfig.TargetGroupStickinessConfig = a.ForwardConfig.TargetGroupStickinessConfig
	}
	if len(norm) == 1 {
		out.TargetGroupArn = norm[0].TargetGroupArn
	}
	if total == 0 && len(norm) > 1 {
		return a, apiError(codeValidation, "At least one target group of a forward action must have a weight above 0")
	}
	return out, nil
}

func (f *Fake) createListener(_ context.Context, _ string, decode func(any) error) (any, error) {
	var in struct {
		LoadBalancerArn string
		Protocol        string
		Port            int32
		DefaultActions  []Action
		Tags            []Tag
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	lb, err := f.lb(in.LoadBalancerArn)
	if err != nil {
		return nil, err
	}
	if in.Port < 1 || in.Port > 65535 {
		return nil, apiError(codeValidation, "Listener port must be between 1 and 65535")
	}
	proto := cmp.Or(in.Protocol, map[string]string{"application": "HTTP", "network": "TCP"}[lb.wire.Type])
	if (lb.wire.Type == "application" && !albProtocols[proto]) || (lb.wire.Type == "network" && !nlbProtocols[proto]) {
		return nil, apiError(codeUnsupportedProtocol, "Protocol '%s' is not supported by %s load balancers", proto, lb.wire.Type)
	}
	if proto == "HTTPS" || proto == "TLS" || proto == "UDP" || proto == "TCP_UDP" {
		return nil, apiError(codeUnsupportedProtocol, "meshsim's data plane serves HTTP and TCP listeners, not %s", proto)
	}
	for _, l := range lb.listeners {
		if l.wire.Port == in.Port {
			return nil, apiError(codeDuplicateListener, "A listener already exists on this port for this load balancer '%s'", lb.wire.LoadBalancerArn)
		}
	}
	actions, err := f.checkActions(lb, in.DefaultActions)
	if err != nil {
		return nil, err
	}
	id := hexID(8)
	short := strings.TrimPrefix(NodeID(lb.wire.LoadBalancerArn), "loadbalancer/")
	region := regionOf(lb.wire.LoadBalancerArn)
	l := &listener{lb: lb, wire: Listener{
		ListenerArn:     awsproto.ARN(region, "elasticloadbalancing", fmt.Sprintf("listener/%s/%s", short, id)),
		LoadBalancerArn: lb.wire.LoadBalancerArn, Port: in.Port, Protocol: proto, DefaultActions: actions,
	}}
	l.def = &rule{listener: l, wire: Rule{
		RuleArn:  awsproto.ARN(region, "elasticloadbalancing", fmt.Sprintf("listener-rule/%s/%s/%s", short, id, hexID(8))),
		Priority: "default", Conditions: []RuleCondition{}, Actions: actions, IsDefault: true,
	}}
	lb.listeners = append(lb.listeners, l)
	if len(in.Tags) > 0 {
		f.tags[l.wire.ListenerArn] = in.Tags
	}
	f.changes.Notify()
	return map[string]any{"Listeners": []Listener{l.wire}}, nil
}

func regionOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 4 {
		return awsproto.DefaultRegion
	}
	return parts[3]
}

// listener finds a listener by ARN. Callers hold f.mu.
func (f *Fake) listener(arn string) (*listener, error) {
	for _, lb := range f.lbs {
		for _, l := range lb.listeners {
			if l.wire.ListenerArn == arn {
				return l, nil
			}
		}
	}
	return nil, apiError(codeListenerNotFound, "Listener '%s' not found", arn)
}

// rule finds a rule by ARN. Callers hold f.mu.
func (f *Fake) rule(arn string) (*rule, error) {
	for _, lb := range f.lbs {
		for _, l := range lb.listeners {
			for _, r := range l.allRules() {
				if r.wire.RuleArn == arn {
					return r, nil
				}
			}
		}
	}
	return nil, apiError(codeRuleNotFound, "One or more rules not found")
}

func (f *Fake) describeListeners(_ context.Context, _ string, decode func(any) error) (any, error) {
	var in struct {
		LoadBalancerArn string
		ListenerArns    []string
		Marker          string
		PageSize        int32
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Listener
	switch {
	case len(in.ListenerArns) > 0:
		for _, a := range in.ListenerArns {
			l, err := f.listener(a)
			if err != nil {
				return nil, err
			}
			out = append(out, l.wire)
		}
	case in.LoadBalancerArn != "":
		lb, err := f.lb(in.LoadBalancerArn)
		if err != nil {
			return nil, err
		}
		for _, l := range lb.listeners {
			out = append(out, l.wire)
		}
	default:
		return nil, apiError(codeValidation, "You must specify either listener ARNs or a load balancer ARN")
	}
	p, next, err := page(out, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Listeners": nonNil(p), "NextMarker": omitEmpty(next)}, nil
}

func (f *Fake) modifyListener(_ context.Context, _ string, decode func(any) error) (any, error) {
	var in struct {
		ListenerArn    string
		Port           int32
		Protocol       string
		DefaultActions []Action
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	l, err := f.listener(in.ListenerArn)
	if err != nil {
		return nil, err
	}
	if in.Port != 0 && in.Port != l.wire.Port {
		for _, o := range l.lb.listeners {
			if o.wire.Port == in.Port {
				return nil, apiError(codeDuplicateListener, "A listener already exists on port %d", in.Port)
			}
		}
		if in.Port < 1 || in.Port > 65535 {
			return nil, apiError(codeValidation, "Listener port must be between 1 and 65535")
		}
	}
	if in.Protocol != "" && in.Protocol != l.wire.Protocol {
		return nil, apiError(codeUnsupportedProtocol, "meshsim does not change a listener's protocol (%s to %s)", l.wire.Protocol, in.Protocol)
	}
	actions := l.wire.DefaultActions
	if len(in.DefaultActions) > 0 {
		if actions, err = f.checkActions(l.lb, in.DefaultActions); err != nil {
			return nil, err
		}
	}
	if in.Port != 0 {
		l.wire.Port = in.Port
	}
	l.wire.DefaultActions = actions
	l.def.wire.Actions = actions
	f.changes.Notify()
	return map[string]any{"Listeners": []Listener{l.wire}}, nil
}

func (f *Fake) deleteListener(_ context.Context, _ string, decode func(any) error) (any, error) {
	var in struct{ ListenerArn string }
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	l, err := f.listener(in.ListenerArn)
	if err != nil {
		return nil, err
	}
	l.lb.listeners = slices.DeleteFunc(l.lb.listeners, func(o *listener) bool { return o == l })
	delete(f.tags, in.ListenerArn)
	f.changes.Notify()
	return map[string]any{}, nil
}

// checkConditions checks a rule's conditions as ELBv2 does: each field at
// most once (http-header once per header name), values given either in
// Values or in the field's config.
func checkConditions(lb *loadBalancer, cs []RuleCondition) ([]RuleCondition, error) {
	if lb.wire.Type != "application" {
		return nil, apiError(codeInvalidConfig, "Rules with conditions are supported by application load balancers only")
	}
	if len(cs) == 0 {
		return nil, apiError(codeValidation, "A rule requires at least one condition")
	}
	seen := map[string]bool{}
	out := make([]RuleCondition, 0, len(cs))
	for _, c := range cs {
		key := c.Field
		var vals *[]string
		switch c.Field {
		case "path-pattern":
			if c.PathPatternConfig == nil {
				c.PathPatternConfig = &ValuesConfig{Values: c.Values}
			}
			vals = &c.PathPatternConfig.Values
		case "host-header":
			if c.HostHeaderConfig == nil {
				c.HostHeaderConfig = &ValuesConfig{Values: c.Values}
			}
			vals = &c.HostHeaderConfig.Values
		case "http-request-method":
			if c.HTTPRequestMethodConfig == nil {
				c.HTTPRequestMethodConfig = &ValuesConfig{Values: c.Values}
			}
			vals = &c.HTTPRequestMethodConfig.Values
		case "http-header":
			if c.HTTPHeaderConfig == nil || c.HTTPHeaderConfig.HTTPHeaderName == "" {
				return nil, apiError(codeValidation, "An http-header condition requires HttpHeaderConfig.HttpHeaderName")
			}
			key += "/" + strings.ToLower(c.HTTPHeaderConfig.HTTPHeaderName)
			vals = &c.HTTPHeaderConfig.Values
		default:
			return nil, apiError(codeValidation, "Condition field '%s' is not supported by meshsim (path-pattern, host-header, http-header, http-request-method are)", c.Field)
		}
		if len(*vals) == 0 {
			return nil, apiError(codeValidation, "A condition of field '%s' requires at least one value", c.Field)
		}
		if len(*vals) > 5 {
			return nil, apiError(codeValidation, "A condition of field '%s' takes at most 5 values", c.Field)
		}
		if seen[key] {
			return nil, apiError(codeValidation, "A rule can have at most one condition of field '%s'", c.Field)
		}
		seen[key] = true
		if c.Field == "path-pattern" || c.Field == "host-header" {
			c.Values = *vals
		}
		out = append(out, c)
	}
	return out, nil
}

func (f *Fake) createRule(_ context.Context, _ string, decode func(any) error) (any, error) {
	var in struct {
		ListenerArn string
		Priority    int32
		Conditions  []RuleCondition
		Actions     []Action
		Tags        []Tag
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	l, err := f.listener(in.ListenerArn)
	if err != nil {
		return nil, err
	}
	if in.Priority < 1 || in.Priority > 50000 {
		return nil, apiError(codeValidation, "Priority must be between 1 and 50000")
	}
	for _, r := range l.rules {
		if r.priority == int(in.Priority) {
			return nil, apiError(codePriorityInUse, "Priority '%d' is currently in use", in.Priority)
		}
	}
	conds, err := checkConditions(l.lb, in.Conditions)
	if err != nil {
		return nil, err
	}
	actions, err := f.checkActions(l.lb, in.Actions)
	if err != nil {
		return nil, err
	}
	_, short, _ := strings.Cut(l.wire.ListenerArn, ":listener/")
	r := &rule{listener: l, priority: int(in.Priority), wire: Rule{
		RuleArn:  awsproto.ARN(regionOf(l.wire.ListenerArn), "elasticloadbalancing", fmt.Sprintf("listener-rule/%s/%s", short, hexID(8))),
		Priority: strconv.Itoa(int(in.Priority)), Conditions: conds, Actions: actions,
	}}
	l.rules = append(l.rules, r)
	if len(in.Tags) > 0 {
		f.tags[r.wire.RuleArn] = in.Tags
	}
	f.changes.Notify()
	return map[string]any{"Rules": []Rule{r.wire}}, nil
}

func (f *Fake) describeRules(_ context.Context, _ string, decode func(any) error) (any, error) {
	var in struct {
		ListenerArn string
		RuleArns    []string
		Marker      string
		PageSize    int32
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Rule
	switch {
	case len(in.RuleArns) > 0:
		for _, a := range in.RuleArns {
			r, err := f.rule(a)
			if err != nil {
				return nil, err
			}
			out = append(out, r.wire)
		}
	case in.ListenerArn != "":
		l, err := f.listener(in.ListenerArn)
		if err != nil {
			return nil, err
		}
		for _, r := range l.allRules() {
			out = append(out, r.wire)
		}
	default:
		return nil, apiError(codeValidation, "You must specify either listener ARN or rule ARNs")
	}
	p, next, err := page(out, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Rules": nonNil(p), "NextMarker": omitEmpty(next)}, nil
}

func (f *Fake) modifyRule(_ context.Context, _ string, decode func(any) error) (any, error) {
	var in struct {
		RuleArn    string
		Conditions []RuleCondition
		Actions    []Action
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.modifyRuleLocked(in.RuleArn, in.Conditions, in.Actions)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Rules": []Rule{r.wire}}, nil
}

// modifyRuleLocked replaces a rule's conditions and actions where given.
// Callers hold f.mu.
func (f *Fake) modifyRuleLocked(arn string, conditions []RuleCondition, actions []Action) (*rule, error) {
	r, err := f.rule(arn)
	if err != nil {
		return nil, err
	}
	conds := r.wire.Conditions
	if len(conditions) > 0 {
		if r.wire.IsDefault {
			return nil, apiError(codeOperationNotAllowed, "The default rule's conditions cannot be modified")
		}
		if conds, err = checkConditions(r.listener.lb, conditions); err != nil {
			return nil, err
		}
	}
	acts := r.wire.Actions
	if len(actions) > 0 {
		if acts, err = f.checkActions(r.listener.lb, actions); err != nil {
			return nil, err
		}
	}
	r.wire.Conditions, r.wire.Actions = conds, acts
	if r.wire.IsDefault {
		r.listener.wire.DefaultActions = acts
	}
	f.changes.Notify()
	return r, nil
}

func (f *Fake) deleteRule(_ context.Context, _ string, decode func(any) error) (any, error) {
	var in struct{ RuleArn string }
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.rule(in.RuleArn)
	if err != nil {
		return nil, err
	}
	if r.wire.IsDefault {
		return nil, apiError(codeOperationNotAllowed, "The default rule cannot be deleted")
	}
	r.listener.rules = slices.DeleteFunc(r.listener.rules, func(o *rule) bool { return o == r })
	delete(f.tags, in.RuleArn)
	f.changes.Notify()
	return map[string]any{}, nil
}

func (f *Fake) setRulePriorities(_ context.Context, _ string, decode func(any) error) (any, error) {
	var in struct {
		RulePriorities []struct {
			RuleArn  string
			Priority int32
		}
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	next := map[*rule]int{}
	for _, p := range in.RulePriorities {
		r, err := f.rule(p.RuleArn)
		if err != nil {
			return nil, err
		}
		if r.wire.IsDefault {
			return nil, apiError(codeOperationNotAllowed, "The default rule's priority cannot be set")
		}
		if p.Priority < 1 || p.Priority > 50000 {
			return nil, apiError(codeValidation, "Priority must be between 1 and 50000")
		}
		next[r] = int(p.Priority)
	}
	for r, p := range next { // no two rules of a listener may end up with one priority
		for _, o := range r.listener.rules {
			op, moved := next[o]
			if !moved {
				op = o.priority
			}
			if o != r && op == p {
				return nil, apiError(codePriorityInUse, "Priority '%d' is currently in use", p)
			}
		}
	}
	out := []Rule{}
	for r, p := range next {
		r.priority, r.wire.Priority = p, strconv.Itoa(p)
		out = append(out, r.wire)
	}
	slices.SortFunc(out, func(a, b Rule) int { return cmp.Compare(a.RuleArn, b.RuleArn) })
	f.changes.Notify()
	return map[string]any{"Rules": out}, nil
}
