package elbv2_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// The AWS CLI (botocore's own XML parser) reads the fake's answers.
func TestAWSCLI(t *testing.T) {
	cli, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("the AWS CLI is not installed: `aws` is not on PATH")
	}
	// The SDK builds the world; the CLI writes a nested rule and reads
	// everything back (each CLI call costs a Python start-up).
	_, c, url := newFake(t)
	w := setUp(t, c)
	blue, green := w.blue, w.green
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, cli, append(append([]string{"elbv2"}, args...), "--endpoint-url", url, "--output", "json")...)
		cmd.Env = append(cmd.Environ(), "AWS_ACCESS_KEY_ID=meshsim", "AWS_SECRET_ACCESS_KEY=meshsim", "AWS_DEFAULT_REGION=eu-west-1", "AWS_PAGER=")
		return cmd.CombinedOutput()
	}
	must := func(v any, args ...string) {
		t.Helper()
		out, err := run(args...)
		if err != nil {
			t.Fatalf("aws elbv2 %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if err := json.Unmarshal(out, v); err != nil {
			t.Fatalf("aws elbv2 %s: output is not JSON: %v\n%s", args[0], err, out)
		}
	}
	var lbs struct {
		LoadBalancers []struct{ LoadBalancerArn, DNSName, Type string }
	}
	must(&lbs, "describe-load-balancers", "--names", "web")
	if len(lbs.LoadBalancers) != 1 || lbs.LoadBalancers[0].LoadBalancerArn != w.lb || lbs.LoadBalancers[0].Type != "application" {
		t.Errorf("describe-load-balancers: %+v", lbs)
	}
	actions := `[{"Type":"forward","ForwardConfig":{"TargetGroups":[{"TargetGroupArn":"` + blue + `","Weight":80},{"TargetGroupArn":"` + green + `","Weight":20}]}}]`
	var rules struct {
		Rules []struct {
			Priority   string
			IsDefault  bool
			Conditions []struct{ Field string }
			Actions    []struct {
				ForwardConfig struct{ TargetGroups []struct{ Weight int } }
			}
		}
	}
	must(&rules, "create-rule", "--listener-arn", w.listener, "--priority", "5",
		"--conditions", `[{"Field":"http-header","HttpHeaderConfig":{"HttpHeaderName":"x-canary","Values":["1"]}}]`, "--actions", actions)
	must(&rules, "describe-rules", "--listener-arn", w.listener)
	if len(rules.Rules) != 3 || rules.Rules[0].Priority != "5" || rules.Rules[0].Conditions[0].Field != "http-header" ||
		rules.Rules[0].Actions[0].ForwardConfig.TargetGroups[1].Weight != 20 || !rules.Rules[2].IsDefault {
		t.Errorf("describe-rules: %+v", rules)
	}
	var health struct {
		TargetHealthDescriptions []struct {
			Target       struct{ Id string }
			TargetHealth struct{ State, Reason string }
		}
	}
	if _, err := c.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: aws.String(green), Targets: []elbtypes.TargetDescription{{Id: aws.String("127.0.0.1"), Port: aws.Int32(1)}}}); err != nil {
		t.Fatal(err)
	}
	must(&health, "describe-target-health", "--target-group-arn", green)
	if len(health.TargetHealthDescriptions) != 1 || health.TargetHealthDescriptions[0].Target.Id != "127.0.0.1" || health.TargetHealthDescriptions[0].TargetHealth.State == "" {
		t.Errorf("describe-target-health: %+v", health)
	}
	out, err := run("describe-target-groups", "--names", "nope")
	if err == nil || !strings.Contains(string(out), "TargetGroupNotFound") {
		t.Errorf("describe-target-groups of an unknown name: %v\n%s", err, out)
	}
}
