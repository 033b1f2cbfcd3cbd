package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/meshsim/meshsim/scenarios"
)

// This file stands up routing alb through the ELBv2 API: an Application
// Load Balancer whose production listener (and test listener) each have a
// rule forwarding to the service's blue and green target groups, 100/0.
// ECS registers the service's tasks in them and, for BLUE_GREEN, LINEAR
// and CANARY deployments, shifts the rules' weights (advancedConfiguration
// on the service's loadBalancers). Load enters at the production
// listener, on the load balancer's address (its DNSName).

// albWorld is what the engine created of the load balancer.
type albWorld struct {
	dns                string
	blue, green        string
	prodRule, testRule string
}

// alb reports whether the scenario's service is behind a load balancer.
func (w *world) alb() bool { return w.sc.Routing == scenarios.RoutingALB }

// albRoleARN is the infrastructure role ECS would assume to change the
// listener rules (any is accepted here).
const albRoleARN = "arn:aws:iam::000000000000:role/ecsInfrastructureRoleForLoadBalancers"

// albName turns a name into an ELBv2 one: at most 32 letters, digits and
// hyphens, no hyphen at either end.
func albName(name string) string {
	b := []byte(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, name))
	if len(b) > 32 {
		b = b[:32]
	}
	return strings.Trim(string(b), "-")
}

// createALB creates the load balancer, its target groups, listeners and
// rules, to be deleted at teardown once the tasks have stopped.
func (w *world) createALB(ctx context.Context) error {
	lbCfg := w.sc.LoadBalancer
	s, _ := w.sc.Service(w.sc.Ingress.Service)
	w.lb = &albWorld{}
	for _, color := range []string{"blue", "green"} {
		name := albName(s.Name + "-" + color)
		out, err := w.aws.ELB.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
			Name: aws.String(name), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(int32(s.Port)),
			TargetType: elbtypes.TargetTypeEnumIp, VpcId: aws.String("vpc-meshsim"),
			HealthCheckPath:            aws.String(s.HealthCheckPath),
			HealthCheckIntervalSeconds: aws.Int32(int32(lbCfg.HealthCheckInterval / time.Second)),
			HealthCheckTimeoutSeconds:  aws.Int32(int32(min(5, lbCfg.HealthCheckInterval/time.Second-1))),
			HealthyThresholdCount:      aws.Int32(int32(lbCfg.HealthyThreshold)),
			UnhealthyThresholdCount:    aws.Int32(int32(lbCfg.UnhealthyThreshold)),
		})
		if err != nil {
			return fmt.Errorf("elbv2 CreateTargetGroup %s: %w", name, err)
		}
		arn := out.TargetGroups[0].TargetGroupArn
		w.undo(func(ctx context.Context) error {
			_, err := w.aws.ELB.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: arn})
			return err
		})
		if _, err := w.aws.ELB.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: arn,
			Attributes: []elbtypes.TargetGroupAttribute{
				{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String(strconv.Itoa(int(lbCfg.DeregistrationDelay / time.Second)))},
				{Key: aws.String("slow_start.duration_seconds"), Value: aws.String(strconv.Itoa(int(lbCfg.SlowStart / time.Second)))},
			}}); err != nil {
			return fmt.Errorf("elbv2 ModifyTargetGroupAttributes %s: %w", name, err)
		}
		if color == "blue" {
			w.lb.blue = aws.ToString(arn)
		} else {
			w.lb.green = aws.ToString(arn)
		}
	}
	name := albName(w.sc.Name)
	out, err := w.aws.ELB.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String(name), Subnets: []string{"subnet-meshsim"}})
	if err != nil {
		return fmt.Errorf("elbv2 CreateLoadBalancer %s: %w", name, err)
	}
	lbARN := out.LoadBalancers[0].LoadBalancerArn
	w.lb.dns = aws.ToString(out.LoadBalancers[0].DNSName)
	w.undo(func(ctx context.Context) error {
		_, err := w.aws.ELB.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: lbARN})
		return err
	})
	// The load balancer goes once ECS has stopped (and deregistered)
	// every task.
	w.undo(w.waitTasksStopped)
	for _, l := range []struct {
		port uint32
		rule *string
	}{{lbCfg.Port, &w.lb.prodRule}, {lbCfg.TestPort, &w.lb.testRule}} {
		if *l.rule, err = w.createListener(ctx, lbARN, l.port); err != nil {
			return err
		}
	}
	return nil
}

// createListener creates an HTTP listener on port whose rule forwards all
// paths to blue 100, green 0 (its default answers 404), and returns the
// rule's ARN.
func (w *world) createListener(ctx context.Context, lbARN *string, port uint32) (string, error) {
	l, err := w.aws.ELB.CreateListener(ctx, &elb.CreateListenerInput{
		LoadBalancerArn: lbARN, Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(int32(port)),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumFixedResponse,
			FixedResponseConfig: &elbtypes.FixedResponseActionConfig{StatusCode: aws.String("404"), ContentType: aws.String("text/plain"), MessageBody: aws.String("no rule matched")}}},
	})
	if err != nil {
		return "", fmt.Errorf("elbv2 CreateListener %d: %w", port, err)
	}
	r, err := w.aws.ELB.CreateRule(ctx, &elb.CreateRuleInput{
		ListenerArn: l.Listeners[0].ListenerArn, Priority: aws.Int32(1),
		Conditions: []elbtypes.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/*"}}},
		Actions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, ForwardConfig: &elbtypes.ForwardActionConfig{TargetGroups: []elbtypes.TargetGroupTuple{
			{TargetGroupArn: aws.String(w.lb.blue), Weight: aws.Int32(100)}, {TargetGroupArn: aws.String(w.lb.green), Weight: aws.Int32(0)},
		}}}},
	})
	if err != nil {
		return "", fmt.Errorf("elbv2 CreateRule on listener %d: %w", port, err)
	}
	return aws.ToString(r.Rules[0].RuleArn), nil
}

// albLoadBalancers is the loadBalancers of unit u's ECS service: the blue
// target group, with the green one and the listener rules for the
// traffic-shifting strategies.
func (w *world) albLoadBalancers(u unit) []ecstypes.LoadBalancer {
	return []ecstypes.LoadBalancer{{
		TargetGroupArn: aws.String(w.lb.blue),
		ContainerName:  aws.String(w.appName(u)),
		ContainerPort:  aws.Int32(int32(u.service.Port)),
		AdvancedConfiguration: &ecstypes.AdvancedConfiguration{
			AlternateTargetGroupArn: aws.String(w.lb.green),
			ProductionListenerRule:  aws.String(w.lb.prodRule),
			TestListenerRule:        aws.String(w.lb.testRule),
			RoleArn:                 aws.String(albRoleARN),
		},
	}}
}

// ingressIP is where load enters: the load balancer's address with
// routing alb, else the ingress task's IP.
func (w *world) ingressIP(ctx context.Context) (string, error) {
	if w.alb() {
		return w.lb.dns, nil
	}
	return w.taskIP(ctx, w.sc.Ingress.Name)
}
