package sim_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/meshsim/meshsim/sim"
	"github.com/meshsim/meshsim/sim/awsclient"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

// albWorld is an ALB with a production listener (8088) and a test
// listener (8089), each with a rule forwarding 100/0 to blue/green.
type albWorld struct {
	elb                      *elb.Client
	ecs                      *ecs.Client
	dns                      string
	blue, green              string
	prodRule, testRule, role string
}

func newALBWorld(t *testing.T, ctx context.Context, w *sim.World) albWorld {
	t.Helper()
	cfg := awsclient.Config(w.Endpoint, "us-east-1")
	a := albWorld{elb: elb.NewFromConfig(cfg), ecs: ecs.NewFromConfig(cfg), role: "arn:aws:iam::000000000000:role/ecs-infra"}
	lb, err := a.elb.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("web"), Subnets: []string{"subnet-1"}})
	if err != nil {
		t.Fatal(err)
	}
	a.dns = aws.ToString(lb.LoadBalancers[0].DNSName)
	for _, name := range []string{"blue", "green"} {
		out, err := a.elb.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String(name), Protocol: elbtypes.ProtocolEnumHttp,
			Port: aws.Int32(8080), TargetType: elbtypes.TargetTypeEnumIp, VpcId: aws.String("vpc-1"), HealthCheckPath: aws.String("/health"),
			HealthCheckIntervalSeconds: aws.Int32(5), HealthCheckTimeoutSeconds: aws.Int32(2), HealthyThresholdCount: aws.Int32(2)})
		if err != nil {
			t.Fatal(err)
		}
		arn := aws.ToString(out.TargetGroups[0].TargetGroupArn)
		if _, err := a.elb.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: aws.String(arn),
			Attributes: []elbtypes.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("5")}}}); err != nil {
			t.Fatal(err)
		}
		if name == "blue" {
			a.blue = arn
		} else {
			a.green = arn
		}
	}
	for _, port := range []int32{8088, 8089} {
		l, err := a.elb.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Protocol: elbtypes.ProtocolEnumHttp,
			Port: aws.Int32(port), DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumFixedResponse,
				FixedResponseConfig: &elbtypes.FixedResponseActionConfig{StatusCode: aws.String("404")}}}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := a.elb.CreateRule(ctx, &elb.CreateRuleInput{ListenerArn: l.Listeners[0].ListenerArn, Priority: aws.Int32(1),
			Conditions: []elbtypes.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/*"}}},
			Actions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, ForwardConfig: &elbtypes.ForwardActionConfig{TargetGroups: []elbtypes.TargetGroupTuple{
				{TargetGroupArn: aws.String(a.blue), Weight: aws.Int32(100)}, {TargetGroupArn: aws.String(a.green), Weight: aws.Int32(0)}}}}}})
		if err != nil {
			t.Fatal(err)
		}
		if port == 8088 {
			a.prodRule = aws.ToString(r.Rules[0].RuleArn)
		} else {
			a.testRule = aws.ToString(r.Rules[0].RuleArn)
		}
	}
	return a
}

func (a albWorld) taskDefinition(t *testing.T, ctx context.Context, version string) string {
	t.Helper()
	out, err := a.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("web"), NetworkMode: ecstypes.NetworkModeAwsvpc,
		ContainerDefinitions: []ecstypes.ContainerDefinition{{
			Name: aws.String("app"), Image: aws.String(contract.SampleHTTPImage), Essential: aws.Bool(true),
			PortMappings: []ecstypes.PortMapping{{ContainerPort: aws.Int32(8080)}},
			Environment: []ecstypes.KeyValuePair{{Name: aws.String(contract.EnvService), Value: aws.String("web")},
				{Name: aws.String(contract.EnvVersion), Value: aws.String(version)}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

// version returns who answers on the listener at port.
func (a albWorld) version(ctx context.Context, port int) string {
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://%s:%d/", a.dns, port), nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.Header.Get(contract.HeaderVersion)
}

// ECS BLUE_GREEN on an ALB: the new revision's tasks register in the
// alternate target group, the test listener rule reaches them first, then
// the production rule's weights move 100/0 → 0/100, and the old tasks
// drain out of the blue target group.
func TestECSBlueGreenOnALB(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, err := sim.Start(ctx, sim.Options{TimeScale: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	a := newALBWorld(t, ctx, w)
	if _, err := a.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("c")}); err != nil {
		t.Fatal(err)
	}
	v1, v2 := a.taskDefinition(t, ctx, "v1"), a.taskDefinition(t, ctx, "v2")
	_, err = a.ecs.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String("c"), ServiceName: aws.String("web"), TaskDefinition: aws.String(v1), DesiredCount: aws.Int32(2),
		LoadBalancers: []ecstypes.LoadBalancer{{TargetGroupArn: aws.String(a.blue), ContainerName: aws.String("app"), ContainerPort: aws.Int32(8080),
			AdvancedConfiguration: &ecstypes.AdvancedConfiguration{AlternateTargetGroupArn: aws.String(a.green),
				ProductionListenerRule: aws.String(a.prodRule), TestListenerRule: aws.String(a.testRule), RoleArn: aws.String(a.role)}}},
		DeploymentConfiguration: &ecstypes.DeploymentConfiguration{Strategy: ecstypes.DeploymentStrategyBlueGreen, BakeTimeInMinutes: aws.Int32(0)},
		NetworkConfiguration:    &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}},
	})
	if err != nil {
		t.Fatalf("CreateService: %v", err)
	}
	if err := ecs.NewServicesStableWaiter(a.ecs).Wait(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"web"}}, time.Minute,
		func(o *ecs.ServicesStableWaiterOptions) { o.MinDelay = 200 * time.Millisecond }); err != nil {
		t.Fatal(err)
	}
	if got := a.version(ctx, 8088); got != "v1" {
		t.Fatalf("production listener answers %q, want v1", got)
	}
	h, _ := a.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(a.blue)})
	if len(h.TargetHealthDescriptions) != 2 {
		t.Errorf("blue targets %+v, want the 2 tasks", h.TargetHealthDescriptions)
	}

	if _, err := a.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("web"), TaskDefinition: aws.String(v2)}); err != nil {
		t.Fatal(err)
	}
	polltest.Eventually(t, "the test listener reaches v2 before production does", func() bool {
		return a.version(ctx, 8089) == "v2"
	})
	polltest.Eventually(t, "production reaches v2", func() bool { return a.version(ctx, 8088) == "v2" })
	rules, err := a.elb.DescribeRules(ctx, &elb.DescribeRulesInput{RuleArns: []string{a.prodRule}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range rules.Rules[0].Actions[0].ForwardConfig.TargetGroups {
		want := int32(0)
		if aws.ToString(tg.TargetGroupArn) == a.green {
			want = 100
		}
		if aws.ToInt32(tg.Weight) != want {
			t.Errorf("production rule weight of %s = %d, want %d", aws.ToString(tg.TargetGroupArn), aws.ToInt32(tg.Weight), want)
		}
	}
	polltest.Eventually(t, "the blue tasks drained out of the blue target group", func() bool {
		h, err := a.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(a.blue)})
		return err == nil && len(h.TargetHealthDescriptions) == 0
	})
}
