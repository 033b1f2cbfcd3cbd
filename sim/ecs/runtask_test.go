package ecs_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/meshsim/meshsim/sim/ecs"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

var testNetwork = &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-0123456789abcdef0"}}}

// registerFamily registers a task definition of family with one container
// "app" serving HTTP, in networkMode, of size cpu/memory, with tags.
func (w *world) registerFamily(t *testing.T, family string, mode types.NetworkMode, cpu, memory string, tags ...types.Tag) string {
	t.Helper()
	out, err := w.client.RegisterTaskDefinition(context.Background(), &sdk.RegisterTaskDefinitionInput{
		Family: aws.String(family), NetworkMode: mode, Cpu: optional(cpu), Memory: optional(memory), Tags: tags,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("app"), Image: aws.String("meshsim/test-http:v1"),
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}},
			Environment:  []types.KeyValuePair{{Name: aws.String("VERSION"), Value: aws.String("v1")}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func tag(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }

// tagMap turns tags into a map.
func tagMap(tags []types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// describeTask describes one task of the test cluster, with its tags.
func (w *world) describeTask(t *testing.T, arn string) types.Task {
	t.Helper()
	out, err := w.client.DescribeTasks(context.Background(), &sdk.DescribeTasksInput{
		Cluster: aws.String(testCluster), Tasks: []string{arn}, Include: []types.TaskField{types.TaskFieldTags},
	})
	if err != nil || len(out.Tasks) != 1 {
		t.Fatalf("DescribeTasks %s: %v %v", arn, err, out)
	}
	return out.Tasks[0]
}

// waitTask waits until task arn's last status is status.
func (w *world) waitTask(t *testing.T, arn, status string) types.Task {
	t.Helper()
	var task types.Task
	polltest.Eventually(t, "task "+taskID(arn)+" "+status, func() bool {
		task = w.describeTask(t, arn)
		return aws.ToString(task.LastStatus) == status
	})
	return task
}

// TestRunTask runs standalone tasks with every member RunTask takes and
// checks that each comes back in DescribeTasks, that the runtime runs
// them with the overrides, and that StopTask stops them.
func TestRunTask(t *testing.T) {
	specs := make(chan ecs.TaskSpec, 4)
	w := newWorld(t, func(o *ecs.Options) { o.Runtime = specRuntime{Runtime: o.Runtime, specs: specs} })
	ctx := context.Background()
	td := w.registerFamily(t, "batch", types.NetworkModeAwsvpc, "256", "512", tag("team", "data"))
	out, err := w.client.RunTask(ctx, &sdk.RunTaskInput{
		Cluster: aws.String(testCluster), TaskDefinition: aws.String("batch"), Count: aws.Int32(2),
		StartedBy: aws.String("nightly-job"), Group: aws.String("jobs:nightly"),
		LaunchType: types.LaunchTypeFargate, PlatformVersion: aws.String("1.4.0"), NetworkConfiguration: testNetwork,
		Overrides: &types.TaskOverride{
			Cpu: aws.String("512"), Memory: aws.String("1024"),
			ContainerOverrides: []types.ContainerOverride{{
				Name: aws.String("app"), Command: []string{"serve", "--fast"},
				Environment: []types.KeyValuePair{{Name: aws.String("MODE"), Value: aws.String("batch")}},
			}},
		},
		Tags:          []types.Tag{tag("run", "42"), tag("team", "ops")},
		PropagateTags: types.PropagateTagsTaskDefinition, EnableECSManagedTags: true, EnableExecuteCommand: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Tasks) != 2 || len(out.Failures) != 0 {
		t.Fatalf("RunTask: %d tasks, failures %v", len(out.Tasks), out.Failures)
	}
	for range 2 {
		spec := <-specs
		if spec.Service != "" || spec.Family != "batch" || !slices.Equal(spec.Containers[0].Command, []string{"serve", "--fast"}) ||
			spec.Containers[0].Env["MODE"] != "batch" || spec.Containers[0].Env["VERSION"] != "v1" {
			t.Errorf("runtime got %+v", spec)
		}
	}
	for _, task := range out.Tasks {
		got := w.waitTask(t, aws.ToString(task.TaskArn), "RUNNING")
		checkRunTaskEcho(t, got, td)
	}
	list, err := w.client.ListTasks(ctx, &sdk.ListTasksInput{Cluster: aws.String(testCluster), StartedBy: aws.String("nightly-job")})
	if err != nil || len(list.TaskArns) != 2 {
		t.Fatalf("ListTasks startedBy: %v %v", list, err)
	}
	cl, err := w.client.DescribeClusters(ctx, &sdk.DescribeClustersInput{Clusters: []string{testCluster}})
	if err != nil || cl.Clusters[0].RunningTasksCount != 2 {
		t.Errorf("cluster counts %+v %v", cl.Clusters, err)
	}
	arn := aws.ToString(out.Tasks[0].TaskArn)
	if _, err := w.client.StopTask(ctx, &sdk.StopTaskInput{Cluster: aws.String(testCluster), Task: aws.String(arn), Reason: aws.String("done")}); err != nil {
		t.Fatal(err)
	}
	stopped := w.waitTask(t, arn, "STOPPED")
	if stopped.StopCode != types.TaskStopCodeUserInitiated || aws.ToString(stopped.StoppedReason) != "done" {
		t.Errorf("stopped task: %s %q", stopped.StopCode, aws.ToString(stopped.StoppedReason))
	}
	// No service replaces it.
	list, _ = w.client.ListTasks(ctx, &sdk.ListTasksInput{Cluster: aws.String(testCluster), Family: aws.String("batch")})
	if len(list.TaskArns) != 1 {
		t.Errorf("running tasks of batch after StopTask: %v", list.TaskArns)
	}
}

// checkRunTaskEcho checks that what TestRunTask set comes back.
func checkRunTaskEcho(t *testing.T, got types.Task, td string) {
	t.Helper()
	tags := tagMap(got.Tags)
	switch {
	case aws.ToString(got.StartedBy) != "nightly-job", aws.ToString(got.Group) != "jobs:nightly":
		t.Errorf("startedBy %q group %q", aws.ToString(got.StartedBy), aws.ToString(got.Group))
	case aws.ToString(got.Cpu) != "512", aws.ToString(got.Memory) != "1024":
		t.Errorf("task size %s/%s, want the overrides' 512/1024", aws.ToString(got.Cpu), aws.ToString(got.Memory))
	case got.LaunchType != types.LaunchTypeFargate, aws.ToString(got.PlatformVersion) != "1.4.0":
		t.Errorf("launch type %s platform %s", got.LaunchType, aws.ToString(got.PlatformVersion))
	case aws.ToString(got.TaskDefinitionArn) != td, !got.EnableExecuteCommand:
		t.Errorf("task definition %s, execute %v", aws.ToString(got.TaskDefinitionArn), got.EnableExecuteCommand)
	case got.Overrides == nil || aws.ToString(got.Overrides.Cpu) != "512" || len(got.Overrides.ContainerOverrides) != 1 ||
		!slices.Equal(got.Overrides.ContainerOverrides[0].Command, []string{"serve", "--fast"}):
		t.Errorf("overrides %+v", got.Overrides)
	case len(tags) != 3 || tags["run"] != "42" || tags["team"] != "ops" || tags["aws:ecs:clusterName"] != testCluster:
		// The task's own tags win over the task definition's.
		t.Errorf("tags %v", tags)
	}
}

// TestRunTaskErrors checks RunTask's and StartTask's validation, with
// AWS's codes and messages.
func TestRunTaskErrors(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.registerFamily(t, "vpc", types.NetworkModeAwsvpc, "256", "512")
	w.registerFamily(t, "bridge", types.NetworkModeBridge, "256", "512")
	run := func(mod func(*sdk.RunTaskInput)) func() error {
		return func() error {
			in := &sdk.RunTaskInput{Cluster: aws.String(testCluster), TaskDefinition: aws.String("vpc"), NetworkConfiguration: testNetwork}
			mod(in)
			_, err := w.client.RunTask(ctx, in)
			return err
		}
	}
	tests := []struct {
		name     string
		call     func() error
		code, in string
	}{
		{"unknown cluster", run(func(in *sdk.RunTaskInput) { in.Cluster = aws.String("nope") }), "ClusterNotFoundException", "Cluster not found."},
		{"unknown task definition", run(func(in *sdk.RunTaskInput) { in.TaskDefinition = aws.String("nope") }), "InvalidParameterException", "TaskDefinition not found."},
		{"count 11", run(func(in *sdk.RunTaskInput) { in.Count = aws.Int32(11) }), "InvalidParameterException", "count must be between 1 and 10."},
		{"awsvpc without network", run(func(in *sdk.RunTaskInput) { in.NetworkConfiguration = nil }),
			"InvalidParameterException", "Network Configuration must be provided when networkMode 'awsvpc' is specified."},
		{"bridge on FARGATE", run(func(in *sdk.RunTaskInput) {
			in.TaskDefinition, in.NetworkConfiguration, in.LaunchType = aws.String("bridge"), nil, types.LaunchTypeFargate
		}), "InvalidParameterException", "Task definition does not support launch_type FARGATE."},
		{"network for bridge", run(func(in *sdk.RunTaskInput) { in.TaskDefinition = aws.String("bridge") }),
			"InvalidParameterException", "Network Configuration is not valid for the given networkMode of this task definition."},
		{"launch type and capacity providers", run(func(in *sdk.RunTaskInput) {
			in.LaunchType = types.LaunchTypeFargate
			in.CapacityProviderStrategy = []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("FARGATE")}}
		}), "InvalidParameterException", "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again."},
		{"capacity provider not in the cluster", run(func(in *sdk.RunTaskInput) {
			in.CapacityProviderStrategy = []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("FARGATE")}}
		}), "InvalidParameterException", "The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster."},
		{"override of no container", run(func(in *sdk.RunTaskInput) {
			in.Overrides = &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{{Name: aws.String("db")}}}
		}), "InvalidParameterException", "Override for container named db is not a container in the TaskDefinition."},
		{"propagate SERVICE", run(func(in *sdk.RunTaskInput) { in.PropagateTags = types.PropagateTagsService }), "InvalidParameterException", "propagateTags SERVICE"},
		{"bad group", run(func(in *sdk.RunTaskInput) { in.Group = aws.String("a b") }), "InvalidParameterException", "group can have"},
		{"reserved tag", run(func(in *sdk.RunTaskInput) { in.Tags = []types.Tag{tag("aws:x", "y")} }), "InvalidParameterException", "the aws: prefix is reserved"},
		{"StartTask on 11 instances", func() error {
			_, err := w.client.StartTask(ctx, &sdk.StartTaskInput{Cluster: aws.String(testCluster), TaskDefinition: aws.String("bridge"),
				ContainerInstances: strings.Split("a,b,c,d,e,f,g,h,i,j,k", ",")})
			return err
		}, "InvalidParameterException", "containerInstances must have 1 to 10 items."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := apiError(tt.call())
			if code != tt.code || !strings.Contains(msg, tt.in) {
				t.Errorf("got %s %q, want %s %q", code, msg, tt.code, tt.in)
			}
		})
	}
	// EC2 tasks need a container instance: without one, a failure.
	out, err := w.client.RunTask(ctx, &sdk.RunTaskInput{Cluster: aws.String(testCluster), TaskDefinition: aws.String("bridge"), LaunchType: types.LaunchTypeEc2})
	if err != nil || len(out.Tasks) != 0 || len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != "No Container Instances were found in your cluster." {
		t.Errorf("EC2 RunTask without instances: %+v %v", out, err)
	}
}
