package elbv2

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// loadBalancer is a load balancer with its listeners.
type loadBalancer struct {
	wire      LoadBalancer
	id        string // the hex id at the end of the ARN
	nodeID    string // the xDS node id of its proxy
	attrs     map[string]string
	listeners []*listener // in creation order
	created   time.Time
}

// listener is a listener with its rules (the default one last).
type listener struct {
	wire  Listener
	lb    *loadBalancer
	rules []*rule // non-default rules, in creation order
	def   *rule
}

// rule is a listener rule; priority 0 is the default rule.
type rule struct {
	wire     Rule
	priority int
	listener *listener
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$`)

// NodeID is the xDS node id of a load balancer's proxy: the ARN's resource
// ("loadbalancer/app/NAME/ID").
func NodeID(lbARN string) string {
	if _, res, ok := strings.Cut(lbARN, ":loadbalancer/"); ok {
		return "loadbalancer/" + res
	}
	return lbARN
}

func (f *Fake) createLoadBalancer(ctx context.Context, region string, decode func(any) error) (any, error) {
	var in struct {
		Name           string
		Type           string
		Scheme         string
		Subnets        []string
		SecurityGroups []string
		IPAddressType  string `json:"IpAddressType"`
		Tags           []Tag
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	if !nameRE.MatchString(in.Name) || strings.HasPrefix(in.Name, "internal-") {
		return nil, apiError(codeValidation, "The load balancer name %q must be 1-32 alphanumeric characters or hyphens, not begin or end with a hyphen nor begin with internal-", in.Name)
	}
	typ := cmp.Or(in.Type, "application")
	if typ != "application" && typ != "network" {
		return nil, apiError(codeValidation, "Type %q is not supported (application or network)", in.Type)
	}
	f.mu.Lock()
	for _, lb := range f.lbs {
		if lb.wire.LoadBalancerName == in.Name && strings.Contains(lb.wire.LoadBalancerArn, ":"+region+":") {
			out := lb.wire
			f.mu.Unlock()
			if out.Type == typ {
				return map[string]any{"LoadBalancers": []LoadBalancer{out}}, nil // idempotent, as AWS
			}
			return nil, apiError(codeDuplicateLB, "A load balancer with the same name '%s' exists, but with different settings", in.Name)
		}
	}
	f.mu.Unlock()

	short := "app"
	if typ == "network" {
		short = "net"
	}
	id := hexID(8)
	arn := awsproto.ARN(region, "elasticloadbalancing", fmt.Sprintf("loadbalancer/%s/%s/%s", short, in.Name, id))
	lb := &loadBalancer{
		id: id, nodeID: NodeID(arn), created: time.Now(),
		attrs: map[string]string{"deletion_protection.enabled": "false", "idle_timeout.timeout_seconds": "60",
			"routing.http2.enabled": "true", "load_balancing.cross_zone.enabled": strconv.FormatBool(typ == "application")},
		wire: LoadBalancer{
			LoadBalancerArn: arn, LoadBalancerName: in.Name, Type: typ,
			Scheme: cmp.Or(in.Scheme, "internet-facing"), VpcID: "vpc-meshsim",
			CanonicalHostedZoneID: "Z35SXDOTRQ7X7K", IPAddressType: cmp.Or(in.IPAddressType, "ipv4"),
			State:             LBState{Code: "active"},
			AvailabilityZones: []AvailabilityZone{{ZoneName: region + "a", SubnetID: "subnet-meshsim"}},
			SecurityGroups:    in.SecurityGroups,
			DNSName:           fmt.Sprintf("%s-%s.%s.elb.localhost", in.Name, id[:8], region),
		},
	}
	lb.wire.CreatedTime = float64(lb.created.UnixMilli()) / 1000
	if typ == "network" {
		lb.wire.SecurityGroups = nil
	}
	if f.opts.Proxies != nil {
		addr, err := f.opts.Proxies.StartProxy(ctx, lb.nodeID)
		if err != nil {
			return nil, fmt.Errorf("starting the proxy of load balancer %s: %w", in.Name, err)
		}
		lb.wire.DNSName = addr
	}
	f.mu.Lock()
	f.lbs[arn] = lb
	if len(in.Tags) > 0 {
		f.tags[arn] = in.Tags
	}
	f.mu.Unlock()
	f.changes.Notify()
	return map[string]any{"LoadBalancers": []LoadBalancer{lb.wire}}, nil
}

// page returns the page of items that marker and pageSize select, and the
// next marker.
func page[T any](items []T, marker string, pageSize int32) ([]T, string, error) {
	start := 0
	if marker != "" {
		n, err := strconv.Atoi(marker)
		if err != nil || n < 0 || n > len(items) {
			return nil, "", apiError(codeValidation, "Invalid Marker %q", marker)
		}
		start = n
	}
	if pageSize < 0 || pageSize > 400 {
		return nil, "", apiError(codeValidation, "PageSize must be between 1 and 400")
	}
	end := len(items)
	if pageSize > 0 && start+int(pageSize) < end {
		end = start + int(pageSize)
		return items[start:end], strconv.Itoa(end), nil
	}
	return items[start:end], "", nil
}

func (f *Fake) describeLoadBalancers(_ context.Context, region string, decode func(any) error) (any, error) {
	var in struct {
		LoadBalancerArns []string
		Names            []string
		Marker           string
		PageSize         int32
	}
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []LoadBalancer
	switch {
	case len(in.LoadBalancerArns) > 0:
		for _, a := range in.LoadBalancerArns {
			lb, err := f.lb(a)
			if err != nil {
				return nil, err
			}
			out = append(out, lb.wire)
		}
	case len(in.Names) > 0:
		for _, n := range in.Names {
			lb := f.lbNamed(region, n)
			if lb == nil {
				return nil, apiError(codeLBNotFound, "Load balancers '[%s]' not found", n)
			}
			out = append(out, lb.wire)
		}
	default:
		for _, lb := range f.sortedLBs() {
			if strings.Contains(lb.wire.LoadBalancerArn, ":"+region+":") {
				out = append(out, lb.wire)
			}
		}
	}
	p, next, err := page(out, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return map[string]any{"LoadBalancers": nonNil(p), "NextMarker": omitEmpty(next)}, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// omitEmpty is nil for "", so that the member is left out.
func omitEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (f *Fake) sortedLBs() []*loadBalancer {
	lbs := make([]*loadBalancer, 0, len(f.lbs))
	for _, lb := range f.lbs {
		lbs = append(lbs, lb)
	}
	slices.SortFunc(lbs, func(a, b *loadBalancer) int {
		return cmp.Or(a.created.Compare(b.created), cmp.Compare(a.wire.LoadBalancerArn, b.wire.LoadBalancerArn))
	})
	return lbs
}

func (f *Fake) lb(arn string) (*loadBalancer, error) {
	lb, ok := f.lbs[arn]
	if !ok {
		return nil, apiError(codeLBNotFound, "Load balancer '%s' not found", arn)
	}
	return lb, nil
}

func (f *Fake) lbNamed(region, name string) *loadBalancer {
	for _, lb := range f.lbs {
		if lb.wire.LoadBalancerName == name && strings.Contains(lb.wire.LoadBalancerArn, ":"+region+":") {
			return lb
		}
	}
	return nil
}

func (f *Fake) deleteLoadBalancer(ctx context.Context, _ string, decode func(any) error) (any, error) {
	var in struct{ LoadBalancerArn string }
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	lb, ok := f.lbs[in.LoadBalancerArn]
	if !ok { // deleting a load balancer that does not exist succeeds, as in AWS
		f.mu.Unlock()
		return map[string]any{}, nil
	}
	if lb.attrs["deletion_protection.enabled"] == "true" {
		f.mu.Unlock()
		return nil, apiError(codeOperationNotAllowed, "Load balancer '%s' cannot be deleted because deletion protection is enabled", in.LoadBalancerArn)
	}
	delete(f.lbs, in.LoadBalancerArn)
	delete(f.tags, in.LoadBalancerArn)
	for _, l := range lb.listeners {
		delete(f.tags, l.wire.ListenerArn)
	}
	f.mu.Unlock()
	f.changes.Notify()
	if f.opts.Proxies != nil {
		if err := f.opts.Proxies.StopProxy(ctx, lb.nodeID); err != nil {
			return nil, fmt.Errorf("stopping the proxy of load balancer %s: %w", lb.wire.LoadBalancerName, err)
		}
	}
	return map[string]any{}, nil
}

func (f *Fake) describeLoadBalancerAttributes(_ context.Context, _ string, decode func(any) error) (any, error) {
	var in struct{ LoadBalancerArn string }
	if err := decode(&in); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	lb, err := f.lb(in.LoadBalancerArn)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Attributes": attributes(lb.attrs)}, nil
}

func attributes(m map[string]string) []Attribute {
	out := make([]Attribute, 0, len(m))
	for k, v := range m {
		out = append(out, Attribute{Key: k, Value: v})
	}
	slices.SortFunc(out, func(a, b Attribute) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

func (f *Fake) modifyLoadBalancerAttributes(_ context.Context, _ string, decode func(any) error) (any, error) {
	var in struct {
		LoadBalancerArn string
		Attributes      []Attribute
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
	for _, a := range in.Attributes {
		if err := checkAttribute(a, lbAttributes); err != nil {
			return nil, err
		}
	}
	for _, a := range in.Attributes {
		lb.attrs[a.Key] = a.Value
	}
	return map[string]any{"Attributes": attributes(lb.attrs)}, nil
}

// attrRule checks an attribute's value: an integer range, or a boolean.
type attrRule struct {
	min, max int
	boolean  bool
	any      bool
}

var lbAttributes = map[string]attrRule{
	"deletion_protection.enabled":       {boolean: true},
	"idle_timeout.timeout_seconds":      {min: 1, max: 4000},
	"routing.http2.enabled":             {boolean: true},
	"load_balancing.cross_zone.enabled": {boolean: true},
	"access_logs.s3.enabled":            {boolean: true},
	"access_logs.s3.bucket":             {any: true},
	"access_logs.s3.prefix":             {any: true},
}

func checkAttribute(a Attribute, rules map[string]attrRule) error {
	r, ok := rules[a.Key]
	switch {
	case !ok:
		return apiError(codeInvalidConfig, "Attribute key '%s' is not recognized", a.Key)
	case r.any:
		return nil
	case r.boolean:
		if a.Value != "true" && a.Value != "false" {
			return apiError(codeValidation, "Attribute '%s' must be true or false, not '%s'", a.Key, a.Value)
		}
		return nil
	}
	n, err := strconv.Atoi(a.Value)
	if err != nil || n < r.min || n > r.max {
		return apiError(codeValidation, "Attribute '%s' must be an integer between %d and %d, not '%s'", a.Key, r.min, r.max, a.Value)
	}
	return nil
}
