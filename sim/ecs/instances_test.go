package ecs_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// registerInstance registers a container instance with 1024 CPU units and
// 2048 MiB in the test cluster.
func (w *world) registerInstance(t *testing.T, ec2ID string, attrs ...types.Attribute) types.ContainerInstance {
	t.Helper()
	out, err := w.client.RegisterContainerInstance(context.Background(), &sdk.RegisterContainerInstanceInput{
		Cluster:                  aws.String(testCluster),
		InstanceIdentityDocument: aws.String(`{"instanceId":"` + ec2ID + `","region":"eu-west-1"}`),
		TotalResources: []types.Resource{
			{Name: aws.String("CPU"), Type: aws.String("INTEGER"), IntegerValue: 1024},
			{Name: aws.String("MEMORY"), Type: aws.String("INTEGER"), IntegerValue: 2048},
		},
		VersionInfo: &types.VersionInfo{AgentVersion: aws.String("1.90.0"), DockerVersion: aws.String("25.0.0")},
		Attributes:  attrs,
		Tags:        []types.Tag{tag("rack", ec2ID)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return *out.ContainerInstance
}

func resourceValue(rs []types.Resource, name string) int32 {
	for _, r := range rs {
		if aws.ToString(r.Name) == name {
			return r.IntegerValue
		}
	}
	return -1
}

// TestContainerInstances registers EC2 container instances, places tasks
// on them with StartTask and RunTask, and checks what each operation on
// them reports, attributes included.
func TestContainerInstances(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	a := w.registerInstance(t, "i-0aaa", types.Attribute{Name: aws.String("stack"), Value: aws.String("blue")})
	b := w.registerInstance(t, "i-0bbb")
	if aws.ToString(a.Ec2InstanceId) != "i-0aaa" || aws.ToString(a.Status) != "ACTIVE" || aws.ToString(a.VersionInfo.AgentVersion) != "1.90.0" ||
		resourceValue(a.RegisteredResources, "CPU") != 1024 || tagMap(a.Tags)["rack"] != "i-0aaa" {
		t.Errorf("registered instance %+v", a)
	}
	w.registerFamily(t, "worker", types.NetworkModeBridge, "256", "512")

	// StartTask places the task on the instance it names.
	start, err := w.client.StartTask(ctx, &sdk.StartTaskInput{
		Cluster: aws.String(testCluster), TaskDefinition: aws.String("worker"),
		ContainerInstances: []string{aws.ToString(a.ContainerInstanceArn), "missing"},
		StartedBy:          aws.String("me"), Tags: []types.Tag{tag("k", "v")},
	})
	if err != nil || len(start.Tasks) != 1 || len(start.Failures) != 1 || aws.ToString(start.Failures[0].Reason) != "MISSING" {
		t.Fatalf("StartTask: %+v %v", start, err)
	}
	task := w.waitTask(t, aws.ToString(start.Tasks[0].TaskArn), "RUNNING")
	if aws.ToString(task.ContainerInstanceArn) != aws.ToString(a.ContainerInstanceArn) || task.LaunchType != types.LaunchTypeEc2 || tagMap(task.Tags)["k"] != "v" {
		t.Errorf("started task: instance %s, launch type %s, tags %v", aws.ToString(task.ContainerInstanceArn), task.LaunchType, task.Tags)
	}
	got := w.describeInstances(t, a.ContainerInstanceArn)[0]
	if got.RunningTasksCount != 1 || resourceValue(got.RemainingResources, "CPU") != 768 || resourceValue(got.RemainingResources, "MEMORY") != 1536 {
		t.Errorf("instance with a task: running %d, remaining %+v", got.RunningTasksCount, got.RemainingResources)
	}
	// RunTask with EC2 places on the instance with the most CPU left: b.
	run, err := w.client.RunTask(ctx, &sdk.RunTaskInput{Cluster: aws.String(testCluster), TaskDefinition: aws.String("worker"), LaunchType: types.LaunchTypeEc2})
	if err != nil || len(run.Tasks) != 1 || aws.ToString(run.Tasks[0].ContainerInstanceArn) != aws.ToString(b.ContainerInstanceArn) {
		t.Errorf("EC2 RunTask placed on %+v %v", run, err)
	}

	checkInstanceLists(t, w, a, b)
	checkAttributes(t, w, a, b)

	// Draining, then deregistering: not while tasks run, unless forced.
	st, err := w.client.UpdateContainerInstancesState(ctx, &sdk.UpdateContainerInstancesStateInput{
		Cluster: aws.String(testCluster), ContainerInstances: []string{aws.ToString(a.ContainerInstanceArn)}, Status: types.ContainerInstanceStatusDraining,
	})
	if err != nil || aws.ToString(st.ContainerInstances[0].Status) != "DRAINING" {
		t.Errorf("UpdateContainerInstancesState: %+v %v", st, err)
	}
	_, err = w.client.DeregisterContainerInstance(ctx, &sdk.DeregisterContainerInstanceInput{Cluster: aws.String(testCluster), ContainerInstance: a.ContainerInstanceArn})
	if code, msg := apiError(err); code != "InvalidParameterException" || !strings.Contains(msg, "Found running tasks") {
		t.Errorf("deregistering an instance with tasks: %s %q", code, msg)
	}
	dereg, err := w.client.DeregisterContainerInstance(ctx, &sdk.DeregisterContainerInstanceInput{Cluster: aws.String(testCluster), ContainerInstance: a.ContainerInstanceArn, Force: aws.Bool(true)})
	if err != nil || aws.ToString(dereg.ContainerInstance.Status) != "INACTIVE" {
		t.Errorf("forced deregistration: %+v %v", dereg, err)
	}
	_, err = w.client.UpdateContainerAgent(ctx, &sdk.UpdateContainerAgentInput{Cluster: aws.String(testCluster), ContainerInstance: b.ContainerInstanceArn})
	if code, _ := apiError(err); code != "NoUpdateAvailableException" {
		t.Errorf("UpdateContainerAgent: %v", err)
	}
	_, err = w.client.DeleteCluster(ctx, &sdk.DeleteClusterInput{Cluster: aws.String(testCluster)})
	if code, _ := apiError(err); code != "ClusterContainsContainerInstancesException" {
		t.Errorf("DeleteCluster with an instance: %v", err)
	}
}

func (w *world) describeInstances(t *testing.T, arns ...*string) []types.ContainerInstance {
	t.Helper()
	out, err := w.client.DescribeContainerInstances(context.Background(), &sdk.DescribeContainerInstancesInput{
		Cluster: aws.String(testCluster), ContainerInstances: aws.ToStringSlice(arns), Include: []types.ContainerInstanceField{types.ContainerInstanceFieldTags},
	})
	if err != nil || len(out.ContainerInstances) != len(arns) {
		t.Fatalf("DescribeContainerInstances: %+v %v", out, err)
	}
	return out.ContainerInstances
}

// checkInstanceLists checks ListContainerInstances' filters and pages.
func checkInstanceLists(t *testing.T, w *world, a, b types.ContainerInstance) {
	t.Helper()
	ctx := context.Background()
	tests := []struct {
		filter string
		want   []string
	}{
		{"", []string{aws.ToString(a.ContainerInstanceArn), aws.ToString(b.ContainerInstanceArn)}},
		{"attribute:stack == blue", []string{aws.ToString(a.ContainerInstanceArn)}},
		{"attribute:stack exists and ec2InstanceId == i-0aaa", []string{aws.ToString(a.ContainerInstanceArn)}},
		{"attribute:stack != blue", []string{aws.ToString(b.ContainerInstanceArn)}},
	}
	for _, tt := range tests {
		var got []string
		pager := sdk.NewListContainerInstancesPaginator(w.client, &sdk.ListContainerInstancesInput{
			Cluster: aws.String(testCluster), Filter: optional(tt.filter), MaxResults: aws.Int32(1),
		})
		for pager.HasMorePages() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page.ContainerInstanceArns...)
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("filter %q: %v, want %v", tt.filter, got, tt.want)
		}
	}
	_, err := w.client.ListContainerInstances(ctx, &sdk.ListContainerInstancesInput{Cluster: aws.String(testCluster), Filter: aws.String("memberOf(x)")})
	if code, _ := apiError(err); code != "InvalidParameterException" {
		t.Errorf("unsupported filter: %v", err)
	}
}

// checkAttributes puts, lists and deletes attributes of container
// instances.
func checkAttributes(t *testing.T, w *world, a, b types.ContainerInstance) {
	t.Helper()
	ctx := context.Background()
	put, err := w.client.PutAttributes(ctx, &sdk.PutAttributesInput{Cluster: aws.String(testCluster), Attributes: []types.Attribute{
		{Name: aws.String("gpu"), Value: aws.String("none"), TargetId: b.ContainerInstanceArn, TargetType: types.TargetTypeContainerInstance},
		{Name: aws.String("stack"), Value: aws.String("green"), TargetId: b.ContainerInstanceArn},
	}})
	if err != nil || len(put.Attributes) != 2 || aws.ToString(put.Attributes[0].TargetId) != aws.ToString(b.ContainerInstanceArn) {
		t.Fatalf("PutAttributes: %+v %v", put, err)
	}
	list, err := w.client.ListAttributes(ctx, &sdk.ListAttributesInput{Cluster: aws.String(testCluster), TargetType: types.TargetTypeContainerInstance, AttributeName: aws.String("stack")})
	if err != nil || len(list.Attributes) != 2 {
		t.Errorf("ListAttributes stack: %+v %v", list, err)
	}
	list, _ = w.client.ListAttributes(ctx, &sdk.ListAttributesInput{Cluster: aws.String(testCluster), TargetType: types.TargetTypeContainerInstance,
		AttributeName: aws.String("stack"), AttributeValue: aws.String("green")})
	if len(list.Attributes) != 1 || aws.ToString(list.Attributes[0].TargetId) != aws.ToString(b.ContainerInstanceArn) {
		t.Errorf("ListAttributes stack=green: %+v", list)
	}
	if _, err := w.client.DeleteAttributes(ctx, &sdk.DeleteAttributesInput{Cluster: aws.String(testCluster),
		Attributes: []types.Attribute{{Name: aws.String("gpu"), TargetId: b.ContainerInstanceArn}}}); err != nil {
		t.Fatal(err)
	}
	if got := w.describeInstances(t, b.ContainerInstanceArn)[0]; len(got.Attributes) != 1 || aws.ToString(got.Attributes[0].Name) != "stack" {
		t.Errorf("attributes after DeleteAttributes: %+v", got.Attributes)
	}
	_, err = w.client.PutAttributes(ctx, &sdk.PutAttributesInput{Cluster: aws.String(testCluster),
		Attributes: []types.Attribute{{Name: aws.String("x"), TargetId: aws.String("nope")}}})
	if code, _ := apiError(err); code != "TargetNotFoundException" {
		t.Errorf("PutAttributes on no target: %v", err)
	}
}
