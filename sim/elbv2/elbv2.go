// Package elbv2 is the Elastic Load Balancing (v2) fake: application and
// network load balancers, target groups of ip targets, listeners and their
// rules (path-pattern, host-header and http-header conditions; forward
// actions to one or to weighted target groups; fixed responses), target
// health checked as the target group says (interval, timeout, thresholds,
// path, matcher), deregistration delay (a deregistered target drains for
// deregistration_delay.timeout_seconds, then leaves) and slow start
// (slow_start.duration_seconds ramps a newly healthy target's weight).
//
// It speaks the Query protocol (sim/awsproto) as aws-sdk-go-v2 and the AWS
// CLI expect, with ELBv2's error codes. It is a control plane only: each
// load balancer's data plane is a proxy that Options.Proxies runs (in
// meshsim the embedded sidecar in an ingress role, fed over xDS from
// State), and whose address is the load balancer's DNSName.
package elbv2

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/schemas"
	smithy "github.com/aws/smithy-go"

	"github.com/meshsim/meshsim/sim/awsproto"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/events"
)

// Service is the SigV4 service name ELBv2 requests are signed for; the
// endpoint routes them by it.
const Service = "elasticloadbalancing"

// Namespace is ELBv2's XML namespace.
const Namespace = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"

// Proxies runs the data plane of load balancers.
type Proxies interface {
	// StartProxy starts the proxy of the load balancer whose xDS node id
	// is nodeID and returns its address (the load balancer's DNSName).
	// ctx bounds the start only.
	StartProxy(ctx context.Context, nodeID string) (addr string, err error)
	// StopProxy stops the proxy StartProxy started for nodeID.
	StopProxy(ctx context.Context, nodeID string) error
}

// Checker runs one health check: an HTTP GET of path on addr (host:port)
// that must answer within timeout. It returns the status code.
type Checker func(ctx context.Context, addr, path string, timeout time.Duration) (int, error)

// Options configure the fake. The zero value is usable: no data plane,
// real time, HTTP health checks.
type Options struct {
	// Bus receives the fake's events; nil means none.
	Bus *events.Bus
	// Second is how long an AWS second lasts (health-check intervals and
	// timeouts, deregistration delay, slow start); default one second.
	Second time.Duration
	// Proxies, when set, runs a proxy per load balancer.
	Proxies Proxies
	// Check runs health checks; default an HTTP GET.
	Check Checker
}

// Fake is the ELBv2 API fake, an http.Handler for Query requests.
type Fake struct {
	opts Options
	ops  map[string]operation

	mu       sync.Mutex
	lbs      map[string]*loadBalancer // by ARN
	tgs      map[string]*targetGroup  // by ARN
	tags     map[string][]Tag         // by resource ARN
	changes  events.Changes
	ctx      context.Context // ends the health checks and drains
	cancel   context.CancelFunc
	checkers sync.WaitGroup
	closed   bool
}

// operation is one API operation: its input and output schemas and the
// function that serves it (in decodes the input into the operation's own
// type).
type operation struct {
	input, output *smithy.Schema
	serve         func(ctx context.Context, region string, in func(any) error) (any, error)
}

// New returns a Fake. Call Close to stop its health checks.
func New(opts Options) *Fake {
	if opts.Second <= 0 {
		opts.Second = time.Second
	}
	if opts.Check == nil {
		opts.Check = httpCheck
	}
	f := &Fake{opts: opts, lbs: map[string]*loadBalancer{}, tgs: map[string]*targetGroup{}, tags: map[string][]Tag{}}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.ops = map[string]operation{
		"CreateLoadBalancer":             {schemas.CreateLoadBalancerInput, schemas.CreateLoadBalancerOutput, f.createLoadBalancer},
		"DescribeLoadBalancers":          {schemas.DescribeLoadBalancersInput, schemas.DescribeLoadBalancersOutput, f.describeLoadBalancers},
		"DeleteLoadBalancer":             {schemas.DeleteLoadBalancerInput, schemas.DeleteLoadBalancerOutput, f.deleteLoadBalancer},
		"DescribeLoadBalancerAttributes": {schemas.DescribeLoadBalancerAttributesInput, schemas.DescribeLoadBalancerAttributesOutput, f.describeLoadBalancerAttributes},
		"ModifyLoadBalancerAttributes":   {schemas.ModifyLoadBalancerAttributesInput, schemas.ModifyLoadBalancerAttributesOutput, f.modifyLoadBalancerAttributes},
		"CreateTargetGroup":              {schemas.CreateTargetGroupInput, schemas.CreateTargetGroupOutput, f.createTargetGroup},
		"DescribeTargetGroups":           {schemas.DescribeTargetGroupsInput, schemas.DescribeTargetGroupsOutput, f.describeTargetGroups},
		"ModifyTargetGroup":              {schemas.ModifyTargetGroupInput, schemas.ModifyTargetGroupOutput, f.modifyTargetGroup},
		"DeleteTargetGroup":              {schemas.DeleteTargetGroupInput, schemas.DeleteTargetGroupOutput, f.deleteTargetGroup},
		"DescribeTargetGroupAttributes":  {schemas.DescribeTargetGroupAttributesInput, schemas.DescribeTargetGroupAttributesOutput, f.describeTargetGroupAttributes},
		"ModifyTargetGroupAttributes":    {schemas.ModifyTargetGroupAttributesInput, schemas.ModifyTargetGroupAttributesOutput, f.modifyTargetGroupAttributes},
		"RegisterTargets":                {schemas.RegisterTargetsInput, schemas.RegisterTargetsOutput, f.registerTargets},
		"DeregisterTargets":              {schemas.DeregisterTargetsInput, schemas.DeregisterTargetsOutput, f.deregisterTargets},
		"DescribeTargetHealth":           {schemas.DescribeTargetHealthInput, schemas.DescribeTargetHealthOutput, f.describeTargetHealth},
		"CreateListener":                 {schemas.CreateListenerInput, schemas.CreateListenerOutput, f.createListener},
		"DescribeListeners":              {schemas.DescribeListenersInput, schemas.DescribeListenersOutput, f.describeListeners},
		"ModifyListener":                 {schemas.ModifyListenerInput, schemas.ModifyListenerOutput, f.modifyListener},
		"DeleteListener":                 {schemas.DeleteListenerInput, schemas.DeleteListenerOutput, f.deleteListener},
		"CreateRule":                     {schemas.CreateRuleInput, schemas.CreateRuleOutput, f.createRule},
		"DescribeRules":                  {schemas.DescribeRulesInput, schemas.DescribeRulesOutput, f.describeRules},
		"ModifyRule":                     {schemas.ModifyRuleInput, schemas.ModifyRuleOutput, f.modifyRule},
		"DeleteRule":                     {schemas.DeleteRuleInput, schemas.DeleteRuleOutput, f.deleteRule},
		"SetRulePriorities":              {schemas.SetRulePrioritiesInput, schemas.SetRulePrioritiesOutput, f.setRulePriorities},
		"AddTags":                        {schemas.AddTagsInput, schemas.AddTagsOutput, f.addTags},
		"RemoveTags":                     {schemas.RemoveTagsInput, schemas.RemoveTagsOutput, f.removeTags},
		"DescribeTags":                   {schemas.DescribeTagsInput, schemas.DescribeTagsOutput, f.describeTags},
	}
	return f
}

// ServeHTTP implements http.Handler.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q, err := awsproto.ReadQuery(r)
	if err != nil {
		awsproto.WriteQueryError(w, Namespace, err)
		return
	}
	op, ok := f.ops[q.Action]
	if !ok {
		awsproto.WriteQueryError(w, Namespace, awsproto.Errorf(http.StatusBadRequest, awsproto.QueryInvalidAction,
			"The action %s is not valid for this web service (meshsim's ELBv2 does not implement it).", q.Action))
		return
	}
	var unknown []string
	decode := func(v any) error {
		var err error
		unknown, err = awsproto.DecodeQuery(q.Params, op.input, v)
		return err
	}
	out, err := op.serve(r.Context(), awsproto.Region(r), decode)
	if err != nil {
		awsproto.WriteQueryError(w, Namespace, err)
		return
	}
	if len(unknown) > 0 {
		f.emit(contract.EventRequestIgnored, q.Action, map[string]string{contract.DetailOperation: q.Action, contract.DetailUnknown: joinComma(unknown)})
	}
	awsproto.WriteQuery(w, q.Action, Namespace, op.output, out)
}

// Watch returns a channel that receives a value after each change of the
// state the data plane is built from (load balancers, listeners, rules,
// targets and their health). Call Watch before reading State.
func (f *Fake) Watch(ctx context.Context) <-chan struct{} { return f.changes.Watch(ctx) }

// Close stops health checks and drains, and every load balancer's proxy.
func (f *Fake) Close() error {
	f.mu.Lock()
	f.closed = true
	var nodes []string
	for _, lb := range f.lbs {
		nodes = append(nodes, lb.nodeID)
	}
	f.mu.Unlock()
	f.cancel()
	f.checkers.Wait()
	f.changes.Close()
	if f.opts.Proxies == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var first error
	for _, n := range nodes {
		if err := f.opts.Proxies.StopProxy(ctx, n); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// seconds turns AWS seconds into the fake's time.
func (f *Fake) seconds(n int32) time.Duration { return time.Duration(n) * f.opts.Second }

func (f *Fake) emit(typ contract.EventType, resource string, detail map[string]string) {
	if f.opts.Bus == nil {
		return
	}
	f.opts.Bus.Emit(events.Event{Source: contract.SourceELB, Type: typ, Resource: resource, Detail: detail})
}

// hexID returns n random bytes in hex, as the ids at the end of ELBv2 ARNs.
func hexID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func joinComma(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}

// Error codes of the ELBv2 API.
const (
	codeValidation          = awsproto.QueryValidationError
	codeLBNotFound          = "LoadBalancerNotFound"
	codeTGNotFound          = "TargetGroupNotFound"
	codeListenerNotFound    = "ListenerNotFound"
	codeRuleNotFound        = "RuleNotFound"
	codeDuplicateLB         = "DuplicateLoadBalancerName"
	codeDuplicateTG         = "DuplicateTargetGroupName"
	codeDuplicateListener   = "DuplicateListener"
	codePriorityInUse       = "PriorityInUse"
	codeInvalidTarget       = "InvalidTarget"
	codeInvalidConfig       = "InvalidConfigurationRequest"
	codeResourceInUse       = "ResourceInUse"
	codeOperationNotAllowed = "OperationNotPermitted"
	codeIncompatible        = "IncompatibleProtocols"
	codeUnsupportedProtocol = "UnsupportedProtocol"
	codeInvalidAction       = "InvalidLoadBalancerAction"
)

func apiError(code, format string, args ...any) error {
	return awsproto.Errorf(http.StatusBadRequest, code, format, args...)
}
