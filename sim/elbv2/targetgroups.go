package elbv2

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// targetGroup is a target group with its targets.
type targetGroup struct {
	wire    TargetGroup
	attrs   map[string]string
	targets map[targetKey]*target
	created time.Time
}

type targetKey struct {
	ip   string
	port int32
}

func (k targetKey) String() string { return net.JoinHostPort(k.ip, strconv.Itoa(int(k.port))) }

// Target health states.
const (
	stateInitial   = "initial"
	stateHealthy   = "healthy"
	stateUnhealthy = "unhealthy"
	stateUnused    = "unused"
	stateDraining  = "draining"
	stateUnavail   = "unavailable"
)

// target is a registered target and its health.
type target struct {
	key                   targetKey
	state, reason, detail string
	passes, fails         int       // consecutive results
	healthySince          time.Time // when it last became healthy (slow start)
	drainUntil            time.Time
	stop                  func() // ends its health checks
}

var tgProtocols = map[string]bool{"HTTP": true, "HTTPS": true, "TCP": true, "TLS": true, "UDP": true, "TCP_UDP": true}

type createTargetGroupInput struct {
	Name                       string
	Protocol                   string
	ProtocolVersion            string
	Port                       int32
	VpcID                      string `json:"VpcId"`
	TargetType                 string
	IPAddressType              string `json:"IpAddressType"`
	HealthCheckEnabled         *bool
	HealthCheckProtocol        string
	HealthCheckPort            string
	HealthCheckPath            string
	HealthCheckIntervalSeconds int32
	HealthCheckTimeoutSeconds  int32
	HealthyThresholdCount      int32
	UnhealthyThresholdCount    int32
	Matcher                    *Matcher
	Tags                       []Tag
}

func (f *Fake) createTargetGroup(_ context.Context, region string, decode func(any) error) (any, error) {
	var in createTargetGroupInput
	if err := decode(&in); err != nil {
		return nil, err
	}
	if !nameRE.MatchString(in.Name) {
		return nil, apiError(codeValidation, "Target group name '%s' must be 1-32 alphanumeric characters or hyphens, and must not begin or end with a hyphen", in.Name)
	}
	tt := cmp.Or(in.TargetType, "instance")
	if tt != "ip" && tt != "instance" {
		return nil, apiError(codeValidation, "Target type '%s' is not supported here: meshsim's targets are ip (awsvpc tasks)", tt)
	}
	if !tgProtocols[in.Protocol] {
		return nil, apiError(codeValidation, "A protocol is required (HTTP, HTTPS, TCP, TLS, UDP or TCP_UDP), not '%s'", in.Protocol)
	}
	if in.Port < 1 || in.Port > 65535 {
		return nil, apiError(codeValidation, "A port between 1 and 65535 is required")
	}
	tg := newTargetGroup(in)
	if err := checkHealthCheck(&tg.wire); err != nil {
		return nil, err
	}
	tg.wire.TargetGroupArn = awsproto.ARN(region, "elasticloadbalancing", fmt.Sprintf("targetgroup/%s/%s", in.Name, hexID(8)))
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.tgs {
		if o.wire.TargetGroupName == in.Name && strings.Contains(o.wire.TargetGroupArn, ":"+region+":") {
			if o.wire.Protocol == tg.wire.Protocol && o.wire.Port == tg.wire.Port {
				return map[string]any{"TargetGroups": []TargetGroup{f.tgWire(o)}}, nil // idempotent, as AWS
			}
			return nil, apiError(codeDuplicateTG, "A target group with the same name '%s' exists, but with different settings", in.Name)
		}
	}
	f.tgs[tg.wire.TargetGroupArn] = tg
	if len(in.Tags) > 0 {
		f.tags[tg.wire.TargetGroupArn] = in.Tags
	}
	return map[string]any{"TargetGroups": []TargetGroup{f.tgWire(tg)}}, nil
}

// newTargetGroup applies ELBv2's defaults, which depend on the protocol.
func newTargetGroup(in createTargetGroupInput) *targetGroup {
	http := in.Protocol == "HTTP" || in.Protocol == "HTTPS"
	w := TargetGroup{
		TargetGroupName: in.Name, Protocol: in.Protocol, Port: in.Port, VpcID: cmp.Or(in.VpcID, "vpc-meshsim"),
		TargetType: cmp.Or(in.TargetType, "instance"), IPAddressType: cmp.Or(in.IPAddressType, "ipv4"),
		HealthCheckEnabled: true, HealthCheckPort: cmp.Or(in.HealthCheckPort, "traffic-port"),
		HealthCheckIntervalSeconds: cmp.Or(in.HealthCheckIntervalSeconds, 30),
		HealthyThresholdCount:      cmp.Or(in.HealthyThresholdCount, 5),
		UnhealthyThresholdCount:    cmp.Or(in.UnhealthyThresholdCount, 2),
	}
	if in.HealthCheckEnabled != nil {
		w.HealthCheckEnabled = *in.HealthCheckEnabled
	}
	if http {
		w.ProtocolVersion = cmp.Or(in.ProtocolVersion, "HTTP1")
		w.HealthCheckProtocol = cmp.Or(in.HealthCheckProtocol, in.Protocol)
		w.HealthCheckPath = cmp.Or(in.HealthCheckPath, "/")
		w.HealthCheckTimeoutSeconds = cmp.Or(in.HealthCheckTimeoutSeconds, 5)
		w.Matcher = &Matcher{HTTPCode: "200"}
		if in.Matcher != nil && in.Matcher.HTTPCode != "" {
			w.Matcher = &Matcher{HTTPCode: in.Matcher.HTTPCode}
		}
	} else {
		w.HealthCheckProtocol = cmp.Or(in.HealthCheckProtocol, "TCP")
		w.HealthCheckPath = in.HealthCheckPath
		w.HealthCheckTimeoutSeconds = cmp.Or(in.HealthCheckTimeoutSeconds, 10)
		if w.HealthCheckProtocol == "HTTP" || w.HealthCheckProtocol == "HTTPS" {
			w.HealthCheckPath = cmp.Or(w.HealthCheckPath, "/")
			w.Matcher = &Matcher{HTTPCode: "200-399"}
		}
	}
	return &targetGroup{
		wire: w, targets: map[targetKey]*target{}, created: time.Now(),
		attrs: map[string]string{
			"deregistration_delay.timeout_seconds": "300", "slow_start.duration_seconds": "0",
			"stickiness.enabled": "false", "load_balancing.algorithm.type": "round_robin",
		},
	}
}

// checkHealthCheck checks a target group's health-check settings as ELBv2
// does.
func checkHealthCheck(w *TargetGroup) error {
	switch {
	case w.HealthCheckIntervalSeconds < 5 || w.HealthCheckIntervalSeconds > 300:
		return apiError(codeValidation, "Health check interval must be between 5 and 300 seconds")
	case w.HealthCheckTimeoutSeconds < 2 || w.HealthCheckTimeoutSeconds > 120:
		return apiError(codeValidation, "Health check timeout must be between 2 and 120 seconds")
	case w.HealthCheckTimeoutSeconds >= w.HealthCheckIntervalSeconds:
		return apiError(codeValidation, "Health check timeout '%d' must be smaller than the interval '%d'", w.HealthCheckTimeoutSeconds, w.HealthCheckIntervalSeconds)
	case w.HealthyThresholdCount < 2 || w.HealthyThresholdCount > 10:
		return apiError(codeValidation, "Healthy threshold count must be between 2 and 10")
	case w.UnhealthyThresholdCount < 2 || w.UnhealthyThresholdCount > 10:
		return apiError(codeValidation, "Unhealthy threshold count must be between 2 and 10")
	case w.HealthCheckPath != "" && !strings.HasPrefix(w.HealthCheckPath, "/"):
		return apiError(codeValidation, "Health check path must begin with a '/' character")
	}
	if w.HealthCheckPort != "traffic-port" {
		if n, err := strconv.Atoi(w.HealthCheckPort); err != nil || n < 1 || n > 65535 {
			return apiError(codeValidation, "Health check port '%s' must be traffic-port or a port number", w.HealthCheckPort)
		}
	}
	if w.Matcher != nil && w.Matcher.HTTPCode != "" {
		if _, err := parseMatcher(w.Matcher.HTTPCode); err != nil {
			return err
		}
	}
	return nil
}

// parseMatcher parses a matcher's HttpCode: "200", "200,202" or "200-299".
func parseMatcher(s string) (func(int) bool, error) {
	type span struct{ lo, hi int }
	var spans []span
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 200 || b > 599 || a > b {
			return nil, apiError(codeValidation, "Health check matcher HTTP code '%s' must be codes (200,202) or a range (200-299) between 200 and 599", s)
		}
		spans = append(spans, span{a, b})
	}
	return func(code int) bool {
		for _, sp := range spans {
			if code >= sp.lo && code <= sp.hi {
				return true
			}
		}
		return false
	}, nil
}

// tgWire is the target group as Describe returns it, with the load
// balancers whose listeners use it. Callers hold f.mu.
func (f *Fake) tgWire(tg *targetGroup) TargetGroup {
	w := tg.wire
	w.LoadBalancerArns = []string{}
	for _, lb := range f.sortedLBs() {
		if lb.uses(tg.wire.TargetGroupArn) {
			w.LoadBalancerArns = append(w.LoadBalancerArns, lb.wire.LoadBalancerArn)
		}
	}
	return w
}

// uses reports whether a listener or rule of lb forwards to the target
// group tgARN.
func (lb *loadBalancer) uses(tgARN string) bool {
	for _, l := range lb.listeners {
		for _, r := range l.allRules() {
			for _, a := range r.wire.Actions {
				if slices.Contains(forwardTargets(a), tgARN) {
					return true
				}
			}
		}
	}
	return false
}

func (f *Fake) inUse(tg *targetGroup) bool {
	for _, lb := range f.lbs {
		if lb.uses(tg.wire.TargetGroupArn) {
			return true
		}
	}
	return false
}

func (f *Fake) tg(arn string) (*targetGroup, error) {
	tg, ok := f.tgs[arn]
	if !ok {
		return nil, apiError(codeTGNotFound, "Target groups '%s' not found", arn)
	}
	return tg, nil
}

func (f *Fake) describeTargetGroups(_ context.Context, region string, decode func(any) error) (any, error) {
	var in struct {
		LoadBalancerArn string
		TargetGroupArns []string
		Names           []string
		Marker          string
		PageSize        int32
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []TargetGroup
	switch {
	case len(in.TargetGroupArns) > 0:
		for _, a := range in.TargetGroupArns {
			tg, err := f.tg(a)
			if err != nil {
				return nil, err
			}
			out = append(out, f.tgWire(tg))
		}
	case len(in.Names) > 0:
		for _, n := range in.Names {
			tg := f.tgNamed(region, n)
			if tg == nil {
				return nil, apiError(codeTGNotFound, "One or more target groups not found")
			}
			out = append(out, f.tgWire(tg))
		}
	default:
		var lb *loadBalancer
		if in.LoadBalancerArn != "" {
			var err error
			if lb, err = f.lb(in.LoadBalancerArn); err != nil {
				return nil, err
			}
		}
		for _, tg := range f.sortedTGs() {
			if strings.Contains(tg.wire.TargetGroupArn, ":"+region+":") && (lb == nil || lb.uses(tg.wire.TargetGroupArn)) {
				out = append(out, f.tgWire(tg))
			}
		}
	}
	p, next, err := page(out, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return map[string]any{"TargetGroups": nonNil(p), "NextMarker": omitEmpty(next)}, nil
}

func (f *Fake) sortedTGs() []*targetGroup {
	tgs := make([]*targetGroup, 0, len(f.tgs))
	for _, tg := range f.tgs {
		tgs = append(tgs, tg)
	}
	slices.SortFunc(tgs, func(a, b *targetGroup) int {
		return cmp.Or(a.created.Compare(b.created), cmp.Compare(a.wire.TargetGroupArn, b.wire.TargetGroupArn))
	})
	return tgs
}

func (f *Fake) tgNamed(region, name string) *targetGroup {
	for _, tg := range f.tgs {
		if tg.wire.TargetGroupName == name && strings.Contains(tg.wire.TargetGroupArn, ":"+region+":") {
			return tg
		}
	}
	return nil
}

func (f *Fake) modifyTargetGroup(_ context.Context, _ string, decode func(any) error) (any, error) {
	var in struct {
		TargetGroupArn             string
		HealthCheckEnabled         *bool
		HealthCheckProtocol        string
		HealthCheckPort            string
		HealthCheckPath            string
		HealthCheckIntervalSeconds int32
		HealthCheckTimeoutSeconds  int32
		HealthyThresholdCount      int32
		UnhealthyThresholdCount    int32
		Matcher                    *Matcher
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tg, err := f.tg(in.TargetGroupArn)
	if err != nil {
		return nil, err
	}
	w := tg.wire
	if in.HealthCheckEnabled != nil {
		w.HealthCheckEnabled = *in.HealthCheckEnabled
	}
	w.HealthCheckProtocol = cmp.Or(in.HealthCheckProtocol, w.HealthCheckProtocol)
	w.HealthCheckPort = cmp.Or(in.HealthCheckPort, w.HealthCheckPort)
	w.HealthCheckPath = cmp.Or(in.HealthCheckPath, w.HealthCheckPath)
	w.HealthCheckIntervalSeconds = cmp.Or(in.HealthCheckIntervalSeconds, w.HealthCheckIntervalSeconds)
	w.HealthCheckTimeoutSeconds = cmp.Or(in.HealthCheckTimeoutSeconds, w.HealthCheckTimeoutSeconds)
	w.HealthyThresholdCount = cmp.Or(in.HealthyThresholdCount, w.HealthyThresholdCount)
	w.UnhealthyThresholdCount = cmp.Or(in.UnhealthyThresholdCount, w.UnhealthyThresholdCount)
	if in.Matcher != nil && in.Matcher.HTTPCode != "" {
		w.Matcher = &Matcher{HTTPCode: in.Matcher.HTTPCode}
	}
	if err := checkHealthCheck(&w); err != nil {
		return nil, err
	}
	tg.wire = w
	return map[string]any{"TargetGroups": []TargetGroup{f.tgWire(tg)}}, nil
}

func (f *Fake) deleteTargetGroup(_ context.Context, _ string, decode func(any) error) (any, error) {
	var in struct{ TargetGroupArn string }
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tg, ok := f.tgs[in.TargetGroupArn]
	if !ok {
		return map[string]any{}, nil // as AWS: deleting what does not exist succeeds
	}
	if f.inUse(tg) {
		return nil, apiError(codeResourceInUse, "Target group '%s' is currently in use by a listener or a rule", in.TargetGroupArn)
	}
	for _, t := range tg.targets {
		t.stop()
	}
	delete(f.tgs, in.TargetGroupArn)
	delete(f.tags, in.TargetGroupArn)
	f.changes.Notify()
	return map[string]any{}, nil
}

var tgAttributes = map[string]attrRule{
	"deregistration_delay.timeout_seconds":                                      {min: 0, max: 3600},
	"slow_start.duration_seconds":                                               {min: 0, max: 900},
	"stickiness.enabled":                                                        {boolean: true},
	"stickiness.type":                                                           {any: true},
	"stickiness.lb_cookie.duration_seconds":                                     {min: 1, max: 604800},
	"load_balancing.algorithm.type":                                             {any: true},
	"deregistration_delay.connection_termination.enabled":                       {boolean: true},
	"preserve_client_ip.enabled":                                                {boolean: true},
	"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": {min: 1, max: 1000},
}

func (f *Fake) describeTargetGroupAttributes(_ context.Context, _ string, decode func(any) error) (any, error) {
	var in struct{ TargetGroupArn string }
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tg, err := f.tg(in.TargetGroupArn)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Attributes": attributes(tg.attrs)}, nil
}

func (f *Fake) modifyTargetGroupAttributes(_ context.Context, _ string, decode func(any) error) (any, error) {
	var in struct {
		TargetGroupArn string
		Attributes     []Attribute
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tg, err := f.tg(in.TargetGroupArn)
	if err != nil {
		return nil, err
	}
	for _, a := range in.Attributes {
		if err := checkAttribute(a, tgAttributes); err != nil {
			return nil, err
		}
		if a.Key == "slow_start.duration_seconds" && a.Value != "0" {
			if n, _ := strconv.Atoi(a.Value); n < 30 {
				return nil, apiError(codeValidation, "Attribute 'slow_start.duration_seconds' must be 0 (off) or between 30 and 900, not '%s'", a.Value)
			}
		}
	}
	for _, a := range in.Attributes {
		tg.attrs[a.Key] = a.Value
	}
	f.changes.Notify()
	return map[string]any{"Attributes": attributes(tg.attrs)}, nil
}

// intAttr is a target group's integer attribute.
func (tg *targetGroup) intAttr(key string) int32 {
	n, _ := strconv.Atoi(tg.attrs[key])
	return int32(n)
}
