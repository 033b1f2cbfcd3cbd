package elbv2_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	smithy "github.com/aws/smithy-go"

	"github.com/meshsim/meshsim/sim/awsclient"
	"github.com/meshsim/meshsim/sim/elbv2"
	"github.com/meshsim/meshsim/sim/endpoint"
	"github.com/meshsim/meshsim/sim/events"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

// newFake serves an ELBv2 fake behind the fakes' endpoint and returns it
// with a real SDK client. An AWS second lasts a millisecond.
func newFake(t *testing.T) (*elbv2.Fake, *elb.Client, string) {
	t.Helper()
	f := elbv2.New(elbv2.Options{Second: time.Millisecond})
	t.Cleanup(func() { f.Close() })
	ep := endpoint.New(events.NewBus(0))
	ep.HandleService(elbv2.Service, elbv2.Namespace, f)
	srv := httptest.NewServer(ep)
	t.Cleanup(srv.Close)
	return f, elb.NewFromConfig(awsclient.Config(srv.URL, "eu-west-1")), srv.URL
}

// target is a task's HTTP server: /health answers with the status it is
// told.
type target struct {
	ip     string
	port   int32
	status atomic.Int32
}

func newTarget(t *testing.T) *target {
	tg := &target{}
	tg.status.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(tg.status.Load()))
	}))
	t.Cleanup(srv.Close)
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	tg.ip, tg.port = host, int32(p)
	return tg
}

type world struct {
	lb, blue, green, listener, rule string
}

// setUp creates an ALB, two target groups and a listener whose rule
// forwards /api/* 90/10 to them.
func setUp(t *testing.T, c *elb.Client) world {
	t.Helper()
	ctx := context.Background()
	var w world
	lb, err := c.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("web"), Subnets: []string{"subnet-1"}, Tags: []elbtypes.Tag{{Key: aws.String("team"), Value: aws.String("a")}}})
	if err != nil {
		t.Fatalf("CreateLoadBalancer: %v", err)
	}
	w.lb = aws.ToString(lb.LoadBalancers[0].LoadBalancerArn)
	for _, name := range []string{"blue", "green"} {
		tg, err := c.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
			Name: aws.String(name), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(8080), TargetType: elbtypes.TargetTypeEnumIp,
			VpcId: aws.String("vpc-1"), HealthCheckPath: aws.String("/health"), HealthCheckIntervalSeconds: aws.Int32(5),
			HealthCheckTimeoutSeconds: aws.Int32(2), HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2),
		})
		if err != nil {
			t.Fatalf("CreateTargetGroup %s: %v", name, err)
		}
		arn := aws.ToString(tg.TargetGroups[0].TargetGroupArn)
		if name == "blue" {
			w.blue = arn
		} else {
			w.green = arn
		}
	}
	l, err := c.CreateListener(ctx, &elb.CreateListenerInput{
		LoadBalancerArn: aws.String(w.lb), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(w.blue)}},
	})
	if err != nil {
		t.Fatalf("CreateListener: %v", err)
	}
	w.listener = aws.ToString(l.Listeners[0].ListenerArn)
	r, err := c.CreateRule(ctx, &elb.CreateRuleInput{
		ListenerArn: aws.String(w.listener), Priority: aws.Int32(10),
		Conditions: []elbtypes.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/api/*"}}},
		Actions:    []elbtypes.Action{forward(w.blue, 90, w.green, 10)},
	})
	if err != nil {
		t.Fatalf("CreateRule: %v", err)
	}
	w.rule = aws.ToString(r.Rules[0].RuleArn)
	return w
}

func forward(a string, wa int32, b string, wb int32) elbtypes.Action {
	return elbtypes.Action{Type: elbtypes.ActionTypeEnumForward, ForwardConfig: &elbtypes.ForwardActionConfig{TargetGroups: []elbtypes.TargetGroupTuple{
		{TargetGroupArn: aws.String(a), Weight: aws.Int32(wa)}, {TargetGroupArn: aws.String(b), Weight: aws.Int32(wb)},
	}}}
}

func TestDescribeWhatWasCreated(t *testing.T) {
	_, c, _ := newFake(t)
	ctx := context.Background()
	w := setUp(t, c)

	lbs, err := c.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{"web"}})
	if err != nil || len(lbs.LoadBalancers) != 1 {
		t.Fatalf("DescribeLoadBalancers: %v %+v", err, lbs)
	}
	lb := lbs.LoadBalancers[0]
	if lb.Type != elbtypes.LoadBalancerTypeEnumApplication || lb.State.Code != elbtypes.LoadBalancerStateEnumActive || aws.ToString(lb.DNSName) == "" || lb.CreatedTime == nil {
		t.Errorf("load balancer %+v", lb)
	}
	if err := elb.NewLoadBalancerAvailableWaiter(c).Wait(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{w.lb}}, time.Minute); err != nil {
		t.Errorf("load-balancer-available waiter: %v", err)
	}

	tgs, err := c.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{LoadBalancerArn: aws.String(w.lb)})
	if err != nil || len(tgs.TargetGroups) != 2 {
		t.Fatalf("DescribeTargetGroups: %v %+v", err, tgs)
	}
	if g := tgs.TargetGroups[1]; aws.ToString(g.TargetGroupName) != "green" || len(g.LoadBalancerArns) != 1 || aws.ToString(g.Matcher.HttpCode) != "200" ||
		aws.ToInt32(g.HealthCheckIntervalSeconds) != 5 || aws.ToString(g.HealthCheckPort) != "traffic-port" {
		t.Errorf("green target group %+v", g)
	}

	checkRules(t, c, w)

	attrs, err := c.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: aws.String(w.blue),
		Attributes: []elbtypes.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("20")}}})
	if err != nil || !hasAttr(attrs.Attributes, "deregistration_delay.timeout_seconds", "20") {
		t.Errorf("ModifyTargetGroupAttributes: %v %+v", err, attrs)
	}
	tags, err := c.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: []string{w.lb}})
	if err != nil || len(tags.TagDescriptions[0].Tags) != 1 || aws.ToString(tags.TagDescriptions[0].Tags[0].Key) != "team" {
		t.Errorf("DescribeTags: %v %+v", err, tags)
	}
}

// checkRules checks the listener's rules as created, then a weight shift.
func checkRules(t *testing.T, c *elb.Client, w world) {
	t.Helper()
	ctx := context.Background()
	rules, err := c.DescribeRules(ctx, &elb.DescribeRulesInput{ListenerArn: aws.String(w.listener)})
	if err != nil || len(rules.Rules) != 2 {
		t.Fatalf("DescribeRules: %v %+v", err, rules)
	}
	r, def := rules.Rules[0], rules.Rules[1]
	if aws.ToString(r.Priority) != "10" || r.Conditions[0].PathPatternConfig.Values[0] != "/api/*" || r.Conditions[0].Values[0] != "/api/*" ||
		len(r.Actions[0].ForwardConfig.TargetGroups) != 2 || aws.ToInt32(r.Actions[0].ForwardConfig.TargetGroups[1].Weight) != 10 {
		t.Errorf("rule %+v", r)
	}
	if !aws.ToBool(def.IsDefault) || aws.ToString(def.Priority) != "default" || aws.ToString(def.Actions[0].TargetGroupArn) != w.blue ||
		aws.ToInt32(def.Actions[0].ForwardConfig.TargetGroups[0].Weight) != 1 {
		t.Errorf("default rule %+v", def)
	}

	if _, err := c.ModifyRule(ctx, &elb.ModifyRuleInput{RuleArn: aws.String(w.rule), Actions: []elbtypes.Action{forward(w.blue, 0, w.green, 100)}}); err != nil {
		t.Fatalf("ModifyRule: %v", err)
	}
	rules, _ = c.DescribeRules(ctx, &elb.DescribeRulesInput{RuleArns: []string{w.rule}})
	if got := rules.Rules[0].Actions[0].ForwardConfig.TargetGroups; aws.ToInt32(got[0].Weight) != 0 || aws.ToInt32(got[1].Weight) != 100 {
		t.Errorf("weights after ModifyRule: %+v", got)
	}

}

func hasAttr(as []elbtypes.TargetGroupAttribute, k, v string) bool {
	for _, a := range as {
		if aws.ToString(a.Key) == k && aws.ToString(a.Value) == v {
			return true
		}
	}
	return false
}

func TestErrors(t *testing.T) {
	_, c, _ := newFake(t)
	ctx := context.Background()
	w := setUp(t, c)
	tests := []struct {
		name string
		call func() error
		code string
		as   any
	}{
		{"unknown target group", func() error {
			_, err := c.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{w.blue + "x"}})
			return err
		}, "TargetGroupNotFound", new(*elbtypes.TargetGroupNotFoundException)},
		{"unknown load balancer", func() error {
			_, err := c.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{"nope"}})
			return err
		}, "LoadBalancerNotFound", new(*elbtypes.LoadBalancerNotFoundException)},
		{"listener on a taken port", func() error {
			_, err := c.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: aws.String(w.lb), Port: aws.Int32(80), Protocol: elbtypes.ProtocolEnumHttp,
				DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(w.blue)}}})
			return err
		}, "DuplicateListener", new(*elbtypes.DuplicateListenerException)},
		{"priority in use", func() error {
			_, err := c.CreateRule(ctx, &elb.CreateRuleInput{ListenerArn: aws.String(w.listener), Priority: aws.Int32(10),
				Conditions: []elbtypes.RuleCondition{{Field: aws.String("host-header"), Values: []string{"a.example.com"}}},
				Actions:    []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(w.green)}}})
			return err
		}, "PriorityInUse", new(*elbtypes.PriorityInUseException)},
		{"target group in use", func() error {
			_, err := c.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: aws.String(w.green)})
			return err
		}, "ResourceInUse", new(*elbtypes.ResourceInUseException)},
		{"bad health check interval", func() error {
			_, err := c.ModifyTargetGroup(ctx, &elb.ModifyTargetGroupInput{TargetGroupArn: aws.String(w.blue), HealthCheckIntervalSeconds: aws.Int32(1)})
			return err
		}, "ValidationError", nil},
		{"not an ip target", func() error {
			_, err := c.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: aws.String(w.blue), Targets: []elbtypes.TargetDescription{{Id: aws.String("i-123")}}})
			return err
		}, "InvalidTarget", new(*elbtypes.InvalidTargetException)},
		{"deleting the default rule", func() error {
			rules, _ := c.DescribeRules(ctx, &elb.DescribeRulesInput{ListenerArn: aws.String(w.listener)})
			_, err := c.DeleteRule(ctx, &elb.DeleteRuleInput{RuleArn: rules.Rules[1].RuleArn})
			return err
		}, "OperationNotPermitted", new(*elbtypes.OperationNotPermittedException)},
		{"weights all zero", func() error {
			_, err := c.ModifyRule(ctx, &elb.ModifyRuleInput{RuleArn: aws.String(w.rule), Actions: []elbtypes.Action{forward(w.blue, 0, w.green, 0)}})
			return err
		}, "ValidationError", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != tc.code || api.ErrorMessage() == "" {
				t.Fatalf("error %v, want code %s", err, tc.code)
			}
			if tc.as != nil && !errors.As(err, tc.as) {
				t.Errorf("error %T is not %T", err, tc.as)
			}
		})
	}
}

// Targets pass their health checks to become healthy, fail them to become
// unhealthy, and drain for the deregistration delay when deregistered.
func TestTargetHealthAndDraining(t *testing.T) {
	f, c, _ := newFake(t)
	ctx := context.Background()
	w := setUp(t, c)
	a, b := newTarget(t), newTarget(t)
	if _, err := c.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: aws.String(w.blue),
		Attributes: []elbtypes.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("200")}}}); err != nil {
		t.Fatal(err)
	}
	targets := []elbtypes.TargetDescription{{Id: aws.String(a.ip), Port: aws.Int32(a.port)}, {Id: aws.String(b.ip), Port: aws.Int32(b.port)}}
	if _, err := c.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: aws.String(w.blue), Targets: targets}); err != nil {
		t.Fatalf("RegisterTargets: %v", err)
	}
	if err := elb.NewTargetInServiceWaiter(c).Wait(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(w.blue), Targets: targets}, time.Minute,
		func(o *elb.TargetInServiceWaiterOptions) {
			o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
		}); err != nil {
		t.Fatalf("target-in-service waiter: %v", err)
	}
	if st := f.State().TargetGroups[w.blue]; len(st.Targets) != 2 {
		t.Errorf("routable targets %+v, want both", st)
	}

	b.status.Store(503)
	// The fake's second is a millisecond here, so a check may also time out
	// (2 ms) on a busy machine: wait for one that got b's 503.
	polltest.Eventually(t, "b unhealthy for its 503", func() bool {
		h, err := c.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(w.blue), Targets: targets[1:]})
		if err != nil {
			t.Fatalf("DescribeTargetHealth: %v", err)
		}
		th := h.TargetHealthDescriptions[0].TargetHealth
		return th.State == elbtypes.TargetHealthStateEnumUnhealthy && th.Reason == elbtypes.TargetHealthReasonEnumResponseCodeMismatch
	})
	if st := f.State().TargetGroups[w.blue]; len(st.Targets) != 1 || st.Targets[0].IP != a.ip || st.Targets[0].Port != a.port {
		t.Errorf("routable targets %+v, want a alone", st)
	}

	if _, err := c.DeregisterTargets(ctx, &elb.DeregisterTargetsInput{TargetGroupArn: aws.String(w.blue), Targets: targets[:1]}); err != nil {
		t.Fatalf("DeregisterTargets: %v", err)
	}
	if got := f.TargetHealth(w.blue, a.ip, a.port); got != "draining" {
		t.Errorf("a is %q after deregistration, want draining", got)
	}
	if st := f.State().TargetGroups[w.blue]; len(st.Targets) != 1 || st.Targets[0].IP != b.ip || st.Targets[0].Port != b.port {
		t.Errorf("routable targets %+v: the draining one must take no request; with none healthy, the unhealthy one takes them (fail open)", st)
	}
	polltest.Eventually(t, "a gone after the delay", func() bool { return f.TargetHealth(w.blue, a.ip, a.port) == "" })
	if err := elb.NewTargetDeregisteredWaiter(c).Wait(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(w.blue), Targets: targets[:1]}, time.Minute,
		func(o *elb.TargetDeregisteredWaiterOptions) {
			o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
		}); err != nil {
		t.Errorf("target-deregistered waiter: %v", err)
	}
}

func TestUnknownAction(t *testing.T) {
	_, _, url := newFake(t)
	req, _ := http.NewRequest("POST", url, nil)
	req.Body = http.NoBody
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/elasticloadbalancing/aws4_request, SignedHeaders=host, Signature=x")
	req.URL.RawQuery = "Action=DescribeSSLPolicies&Version=2015-12-01"
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 400 {
		t.Errorf("HTTP %d", res.StatusCode)
	}
}
