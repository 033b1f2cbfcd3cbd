package sim_test

import (
	"context"
	"fmt"
	"io"
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

	"github.com/meshsim/meshsim/sim"
	"github.com/meshsim/meshsim/sim/awsclient"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

// backend is a target: an HTTP server that answers with its name, and
// /health with the status it is told.
type backend struct {
	name   string
	port   int32
	health atomic.Int32
	served atomic.Int64
}

func newBackend(t *testing.T, name string) *backend {
	b := &backend{name: name}
	b.health.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			w.WriteHeader(int(b.health.Load()))
			return
		}
		b.served.Add(1)
		io.WriteString(w, b.name)
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	b.port = int32(p)
	return b
}

// The load balancer's proxy routes by the listener's rules to the
// weighted target groups, only to healthy targets, never to draining ones.
func TestLoadBalancerDataPlane(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := sim.Start(ctx, sim.Options{TimeScale: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	c := elb.NewFromConfig(awsclient.Config(w.Endpoint, "us-east-1"))

	lb, err := c.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("web"), Subnets: []string{"subnet-1"}})
	if err != nil {
		t.Fatal(err)
	}
	blue1, blue2, green := newBackend(t, "blue1"), newBackend(t, "blue2"), newBackend(t, "green")
	tg := func(name string, bs ...*backend) string {
		out, err := c.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String(name), Protocol: elbtypes.ProtocolEnumHttp,
			Port: aws.Int32(8080), TargetType: elbtypes.TargetTypeEnumIp, VpcId: aws.String("vpc-1"), HealthCheckPath: aws.String("/health"),
			HealthCheckIntervalSeconds: aws.Int32(5), HealthCheckTimeoutSeconds: aws.Int32(2), HealthyThresholdCount: aws.Int32(2)})
		if err != nil {
			t.Fatal(err)
		}
		arn := out.TargetGroups[0].TargetGroupArn
		var ts []elbtypes.TargetDescription
		for _, b := range bs {
			ts = append(ts, elbtypes.TargetDescription{Id: aws.String("127.0.0.1"), Port: aws.Int32(b.port)})
		}
		if _, err := c.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: arn, Targets: ts}); err != nil {
			t.Fatal(err)
		}
		return aws.ToString(arn)
	}
	blueARN, greenARN := tg("blue", blue1, blue2), tg("green", green)
	l, err := c.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Protocol: elbtypes.ProtocolEnumHttp,
		Port: aws.Int32(8088), DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(blueARN)}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRule(ctx, &elb.CreateRuleInput{ListenerArn: l.Listeners[0].ListenerArn, Priority: aws.Int32(1),
		Conditions: []elbtypes.RuleCondition{{Field: aws.String("http-header"), HttpHeaderConfig: &elbtypes.HttpHeaderConditionConfig{HttpHeaderName: aws.String("X-Test"), Values: []string{"y*"}}}},
		Actions:    []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(greenARN)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRule(ctx, &elb.CreateRuleInput{ListenerArn: l.Listeners[0].ListenerArn, Priority: aws.Int32(2),
		Conditions: []elbtypes.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/fixed/*"}}},
		Actions:    []elbtypes.Action{{Type: elbtypes.ActionTypeEnumFixedResponse, FixedResponseConfig: &elbtypes.FixedResponseActionConfig{StatusCode: aws.String("418"), MessageBody: aws.String("teapot")}}}}); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://%s:8088", aws.ToString(lb.LoadBalancers[0].DNSName))
	get := func(path, header string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, "GET", url+path, nil)
		if header != "" {
			req.Header.Set("X-Test", header)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	waiter := elb.NewTargetInServiceWaiter(c)
	for _, arn := range []string{blueARN, greenARN} {
		if err := waiter.Wait(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(arn)}, time.Minute, func(o *elb.TargetInServiceWaiterOptions) { o.MinDelay = 100 * time.Millisecond }); err != nil {
			t.Fatal(err)
		}
	}
	polltest.Eventually(t, "the header rule reaches green", func() bool { s, b := get("/", "yes"); return s == 200 && b == "green" })
	polltest.Eventually(t, "both blue targets serve", func() bool { _, b := get("/", ""); return b == "blue2" })
	if s, b := get("/fixed/x", ""); s != 418 || b != "teapot" {
		t.Errorf("fixed response: %d %q", s, b)
	}

	// Weighted: 0/100 moves the default rule to green.
	rules, _ := c.DescribeRules(ctx, &elb.DescribeRulesInput{ListenerArn: l.Listeners[0].ListenerArn})
	def := rules.Rules[len(rules.Rules)-1].RuleArn
	if _, err := c.ModifyRule(ctx, &elb.ModifyRuleInput{RuleArn: def, Actions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward,
		ForwardConfig: &elbtypes.ForwardActionConfig{TargetGroups: []elbtypes.TargetGroupTuple{
			{TargetGroupArn: aws.String(blueARN), Weight: aws.Int32(0)}, {TargetGroupArn: aws.String(greenARN), Weight: aws.Int32(100)}}}}}}); err != nil {
		t.Fatal(err)
	}
	polltest.Eventually(t, "the default rule reaches green alone", func() bool {
		for range 5 {
			if _, b := get("/", ""); b != "green" {
				return false
			}
		}
		return true
	})

	// Back to blue; blue1 fails its health checks and takes no request.
	if _, err := c.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: l.Listeners[0].ListenerArn,
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(blueARN)}}}); err != nil {
		t.Fatal(err)
	}
	blue1.health.Store(500)
	polltest.Eventually(t, "blue1 out of service", func() bool {
		h, err := c.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(blueARN),
			Targets: []elbtypes.TargetDescription{{Id: aws.String("127.0.0.1"), Port: aws.Int32(blue1.port)}}})
		return err == nil && h.TargetHealthDescriptions[0].TargetHealth.State == elbtypes.TargetHealthStateEnumUnhealthy
	})
	polltest.Eventually(t, "blue requests reach blue2 alone", func() bool {
		for range 5 {
			if _, b := get("/", ""); b != "blue2" {
				return false
			}
		}
		return true
	})

	// blue2 drains: it takes no new request; with no healthy target left
	// the load balancer fails open to the unhealthy blue1.
	if _, err := c.DeregisterTargets(ctx, &elb.DeregisterTargetsInput{TargetGroupArn: aws.String(blueARN),
		Targets: []elbtypes.TargetDescription{{Id: aws.String("127.0.0.1"), Port: aws.Int32(blue2.port)}}}); err != nil {
		t.Fatal(err)
	}
	polltest.Eventually(t, "the draining blue2 takes no request", func() bool {
		for range 5 {
			if _, b := get("/", ""); b != "blue1" {
				return false
			}
		}
		return true
	})
}
