package ecs_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/meshsim/meshsim/sim/poll/polltest"
)

// TestCreateServiceValidation checks the rules the ECS API reference
// states for CreateService, with AWS's messages.
func TestCreateServiceValidation(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.registerFamily(t, "vpc", types.NetworkModeAwsvpc, "256", "512")
	w.registerFamily(t, "bridge", types.NetworkModeBridge, "256", "512")
	create := func(mod func(*sdk.CreateServiceInput)) func() error {
		return func() error {
			in := &sdk.CreateServiceInput{Cluster: aws.String(testCluster), ServiceName: aws.String("s"), TaskDefinition: aws.String("vpc"),
				DesiredCount: aws.Int32(0), NetworkConfiguration: testNetwork}
			mod(in)
			_, err := w.client.CreateService(ctx, in)
			return err
		}
	}
	tests := []struct {
		name string
		call func() error
		msg  string
	}{
		{"awsvpc without networkConfiguration", create(func(in *sdk.CreateServiceInput) { in.NetworkConfiguration = nil }),
			"Network Configuration must be provided when networkMode 'awsvpc' is specified."},
		{"networkConfiguration for bridge", create(func(in *sdk.CreateServiceInput) { in.TaskDefinition = aws.String("bridge") }),
			"Network Configuration is not valid for the given networkMode of this task definition."},
		{"FARGATE with bridge", create(func(in *sdk.CreateServiceInput) {
			in.TaskDefinition, in.NetworkConfiguration, in.LaunchType = aws.String("bridge"), nil, types.LaunchTypeFargate
		}), "Task definition does not support launch_type FARGATE."},
		{"launch type and capacity providers", create(func(in *sdk.CreateServiceInput) {
			in.LaunchType = types.LaunchTypeFargate
			in.CapacityProviderStrategy = []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("FARGATE")}}
		}), "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again."},
		{"placement strategy on FARGATE", create(func(in *sdk.CreateServiceInput) {
			in.LaunchType = types.LaunchTypeFargate
			in.PlacementStrategy = []types.PlacementStrategy{{Type: types.PlacementStrategyTypeSpread, Field: aws.String("attribute:ecs.availability-zone")}}
		}), "Placement strategies are not supported with FARGATE launch type."},
		{"empty subnets", create(func(in *sdk.CreateServiceInput) {
			in.NetworkConfiguration = &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{}}}
		}), "subnets can not be empty."},
		{"capacity provider not in the cluster", create(func(in *sdk.CreateServiceInput) {
			in.CapacityProviderStrategy = []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("FARGATE")}}
		}), "not associated with the cluster"},
		{"no desiredCount", create(func(in *sdk.CreateServiceInput) { in.DesiredCount = nil }), "desiredCount is required for a REPLICA service."},
		{"bad propagateTags", create(func(in *sdk.CreateServiceInput) { in.PropagateTags = "EVERYTHING" }), "propagateTags must be TASK_DEFINITION, SERVICE or NONE."},
		{"bad controller", create(func(in *sdk.CreateServiceInput) {
			in.DeploymentController = &types.DeploymentController{Type: "MANUAL"}
		}),
			"deploymentController.type must be ECS, CODE_DEPLOY or EXTERNAL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := apiError(tt.call())
			if code != "InvalidParameterException" || !strings.Contains(msg, tt.msg) {
				t.Errorf("got %s %q, want InvalidParameterException %q", code, msg, tt.msg)
			}
		})
	}
}

// TestAgentOperations checks the operations meshsim cannot do as AWS
// does (no container agent to take state changes, no SSM agent in tasks)
// and task scale-in protection.
func TestAgentOperations(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	td := w.registerFamily(t, "web", types.NetworkModeAwsvpc, "256", "512")
	if _, err := w.client.CreateService(ctx, &sdk.CreateServiceInput{Cluster: aws.String(testCluster), ServiceName: aws.String("web"),
		TaskDefinition: aws.String(td), DesiredCount: aws.Int32(2), NetworkConfiguration: testNetwork, EnableExecuteCommand: true}); err != nil {
		t.Fatal(err)
	}
	var tasks []types.Task
	polltest.Eventually(t, "two running tasks", func() bool {
		tasks = w.tasks(t, "web", types.DesiredStatusRunning)
		return len(tasks) == 2 && aws.ToString(tasks[0].LastStatus) == "RUNNING" && aws.ToString(tasks[1].LastStatus) == "RUNNING"
	})
	run, err := w.client.RunTask(ctx, &sdk.RunTaskInput{Cluster: aws.String(testCluster), TaskDefinition: aws.String(td), NetworkConfiguration: testNetwork})
	if err != nil {
		t.Fatal(err)
	}
	standalone := w.waitTask(t, aws.ToString(run.Tasks[0].TaskArn), "RUNNING")
	exec := func(task types.Task, interactive bool) error {
		_, err := w.client.ExecuteCommand(ctx, &sdk.ExecuteCommandInput{Cluster: aws.String(testCluster), Task: task.TaskArn,
			Command: aws.String("/bin/sh"), Interactive: interactive})
		return err
	}
	tests := []struct {
		name     string
		err      error
		code, in string
	}{
		{"exec, enabled", exec(tasks[0], true), "TargetNotConnectedException", "SSM agent"},
		{"exec, not enabled", exec(standalone, true), "InvalidParameterException", "execute command was not enabled"},
		{"exec, not interactive", exec(tasks[0], false), "InvalidParameterException", "Interactive is the only mode supported currently."},
		{"SubmitTaskStateChange", func() error {
			_, err := w.client.SubmitTaskStateChange(ctx, &sdk.SubmitTaskStateChangeInput{Cluster: aws.String(testCluster)})
			return err
		}(), "AccessDeniedException", "agent"},
		{"SubmitContainerStateChange", func() error {
			_, err := w.client.SubmitContainerStateChange(ctx, &sdk.SubmitContainerStateChangeInput{Cluster: aws.String(testCluster)})
			return err
		}(), "AccessDeniedException", "agent"},
		{"SubmitAttachmentStateChanges", func() error {
			_, err := w.client.SubmitAttachmentStateChanges(ctx, &sdk.SubmitAttachmentStateChangesInput{Attachments: []types.AttachmentStateChange{
				{AttachmentArn: aws.String("a"), Status: aws.String("ATTACHED")}}})
			return err
		}(), "AccessDeniedException", "agent"},
		{"DiscoverPollEndpoint", func() error {
			_, err := w.client.DiscoverPollEndpoint(ctx, &sdk.DiscoverPollEndpointInput{Cluster: aws.String(testCluster)})
			return err
		}(), "ClientException", "agent"},
	}
	for _, tt := range tests {
		if code, msg := apiError(tt.err); code != tt.code || !strings.Contains(msg, tt.in) {
			t.Errorf("%s: %s %q, want %s %q", tt.name, code, msg, tt.code, tt.in)
		}
	}
	checkTaskProtection(t, w, tasks, standalone)
}

// checkTaskProtection protects one of the two tasks of service web, scales
// the service to 1 and checks that the protected task is the one left.
func checkTaskProtection(t *testing.T, w *world, tasks []types.Task, standalone types.Task) {
	t.Helper()
	ctx := context.Background()
	protect, err := w.client.UpdateTaskProtection(ctx, &sdk.UpdateTaskProtectionInput{Cluster: aws.String(testCluster),
		Tasks: []string{aws.ToString(tasks[1].TaskArn), aws.ToString(standalone.TaskArn)}, ProtectionEnabled: true, ExpiresInMinutes: aws.Int32(60)})
	if err != nil || len(protect.ProtectedTasks) != 1 || !protect.ProtectedTasks[0].ProtectionEnabled || protect.ProtectedTasks[0].ExpirationDate == nil ||
		len(protect.Failures) != 1 || aws.ToString(protect.Failures[0].Reason) != "TASK_NOT_VALID" {
		t.Fatalf("UpdateTaskProtection: %+v %v", protect, err)
	}
	get, err := w.client.GetTaskProtection(ctx, &sdk.GetTaskProtectionInput{Cluster: aws.String(testCluster), Tasks: []string{aws.ToString(tasks[0].TaskArn), aws.ToString(tasks[1].TaskArn)}})
	if err != nil || len(get.ProtectedTasks) != 2 || get.ProtectedTasks[0].ProtectionEnabled || !get.ProtectedTasks[1].ProtectionEnabled {
		t.Errorf("GetTaskProtection: %+v %v", get, err)
	}
	if _, err := w.client.UpdateService(ctx, &sdk.UpdateServiceInput{Cluster: aws.String(testCluster), Service: aws.String("web"), DesiredCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	polltest.Eventually(t, "one task left", func() bool {
		left := w.tasks(t, "web", types.DesiredStatusRunning)
		return len(left) == 1 && aws.ToString(left[0].TaskArn) == aws.ToString(tasks[1].TaskArn)
	})
	_, err = w.client.UpdateTaskProtection(ctx, &sdk.UpdateTaskProtectionInput{Cluster: aws.String(testCluster),
		Tasks: []string{aws.ToString(tasks[1].TaskArn)}, ProtectionEnabled: true, ExpiresInMinutes: aws.Int32(3000)})
	if code, _ := apiError(err); code != "InvalidParameterException" {
		t.Errorf("3000 minutes: %v", err)
	}
}

// TestListTaskDefinitions lists task definitions and families by status,
// prefix and order, page by page.
func TestListTaskDefinitions(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	var arns []string
	for _, fam := range []string{"api", "api", "api-worker", "web"} {
		arns = append(arns, w.registerFamily(t, fam, types.NetworkModeAwsvpc, "", ""))
	}
	if _, err := w.client.DeregisterTaskDefinition(ctx, &sdk.DeregisterTaskDefinitionInput{TaskDefinition: aws.String(arns[3])}); err != nil {
		t.Fatal(err)
	}
	list := func(in sdk.ListTaskDefinitionsInput) []string {
		in.MaxResults = aws.Int32(1)
		var out []string
		for p := sdk.NewListTaskDefinitionsPaginator(w.client, &in); p.HasMorePages(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, page.TaskDefinitionArns...)
		}
		return out
	}
	families := func(in sdk.ListTaskDefinitionFamiliesInput) []string {
		out, err := w.client.ListTaskDefinitionFamilies(ctx, &in)
		if err != nil {
			t.Fatal(err)
		}
		return out.Families
	}
	checks := []struct {
		name      string
		got, want []string
	}{
		{"ACTIVE", list(sdk.ListTaskDefinitionsInput{}), arns[:3]},
		{"INACTIVE", list(sdk.ListTaskDefinitionsInput{Status: types.TaskDefinitionStatusInactive}), arns[3:]},
		{"prefix api, newest first", list(sdk.ListTaskDefinitionsInput{FamilyPrefix: aws.String("api"), Sort: types.SortOrderDesc}), []string{arns[2], arns[1], arns[0]}},
		{"families", families(sdk.ListTaskDefinitionFamiliesInput{}), []string{"api", "api-worker", "web"}},
		{"ACTIVE families", families(sdk.ListTaskDefinitionFamiliesInput{Status: types.TaskDefinitionFamilyStatusActive}), []string{"api", "api-worker"}},
		{"INACTIVE families", families(sdk.ListTaskDefinitionFamiliesInput{Status: types.TaskDefinitionFamilyStatusInactive}), []string{"web"}},
		{"families with prefix", families(sdk.ListTaskDefinitionFamiliesInput{FamilyPrefix: aws.String("api-")}), []string{"api-worker"}},
	}
	for _, c := range checks {
		if strings.Join(c.got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
	_, err := w.client.ListTaskDefinitions(ctx, &sdk.ListTaskDefinitionsInput{NextToken: aws.String("not-a-token")})
	if code, _ := apiError(err); code != "InvalidParameterException" {
		t.Errorf("bad token: %v", err)
	}
}
