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

// taskSet describes one task set of service, with its tags.
func (w *world) taskSet(t *testing.T, service, id string) types.TaskSet {
	t.Helper()
	out, err := w.client.DescribeTaskSets(context.Background(), &sdk.DescribeTaskSetsInput{
		Cluster: aws.String(testCluster), Service: aws.String(service), TaskSets: []string{id}, Include: []types.TaskSetField{types.TaskSetFieldTags},
	})
	if err != nil || len(out.TaskSets) != 1 {
		t.Fatalf("DescribeTaskSets %s: %+v %v", id, out, err)
	}
	return out.TaskSets[0]
}

// waitTaskSet waits until task set id of service runs want tasks, steady.
func (w *world) waitTaskSet(t *testing.T, service, id string, want int32) types.TaskSet {
	t.Helper()
	var ts types.TaskSet
	polltest.Eventually(t, "task set "+id+" steady", func() bool {
		ts = w.taskSet(t, service, id)
		return ts.RunningCount == want && ts.ComputedDesiredCount == want && ts.StabilityStatus == types.StabilityStatusSteadyState
	})
	return ts
}

// TestTaskSets deploys a service with the EXTERNAL deployment controller
// through task sets: created, scaled, made primary, deleted; every member
// set comes back in DescribeTaskSets and DescribeServices.
func TestTaskSets(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	v1 := w.register(t, "meshsim/test-http:v1", "v1")
	v2 := w.register(t, "meshsim/test-http:v2", "v2")
	if _, err := w.client.CreateService(ctx, &sdk.CreateServiceInput{
		Cluster: aws.String(testCluster), ServiceName: aws.String("ext"), DesiredCount: aws.Int32(4),
		DeploymentController: &types.DeploymentController{Type: types.DeploymentControllerTypeExternal},
		Tags:                 []types.Tag{tag("svc", "ext")},
	}); err != nil {
		t.Fatal(err)
	}
	create := func(td string, pct float64, ext string) types.TaskSet {
		out, err := w.client.CreateTaskSet(ctx, &sdk.CreateTaskSetInput{
			Cluster: aws.String(testCluster), Service: aws.String("ext"), TaskDefinition: aws.String(td),
			ExternalId: aws.String(ext), NetworkConfiguration: testNetwork, LaunchType: types.LaunchTypeFargate,
			Scale: &types.Scale{Value: pct, Unit: types.ScaleUnitPercent}, Tags: []types.Tag{tag("set", ext)},
		})
		if err != nil {
			t.Fatal(err)
		}
		return *out.TaskSet
	}
	blue := create(v1, 50, "blue")
	got := w.waitTaskSet(t, "ext", aws.ToString(blue.Id), 2)
	if aws.ToString(got.ExternalId) != "blue" || aws.ToString(got.TaskDefinition) != v1 || got.Scale.Value != 50 || got.LaunchType != types.LaunchTypeFargate ||
		aws.ToString(got.Status) != "ACTIVE" || tagMap(got.Tags)["set"] != "blue" || got.NetworkConfiguration == nil ||
		!strings.Contains(aws.ToString(got.TaskSetArn), ":task-set/"+testCluster+"/ext/ecs-svc/") {
		t.Errorf("task set %+v", got)
	}
	green := create(v2, 25, "green")
	w.waitTaskSet(t, "ext", aws.ToString(green.Id), 1)

	prim, err := w.client.UpdateServicePrimaryTaskSet(ctx, &sdk.UpdateServicePrimaryTaskSetInput{
		Cluster: aws.String(testCluster), Service: aws.String("ext"), PrimaryTaskSet: green.TaskSetArn,
	})
	if err != nil || aws.ToString(prim.TaskSet.Status) != "PRIMARY" {
		t.Fatalf("UpdateServicePrimaryTaskSet: %+v %v", prim, err)
	}
	svc := w.service(t, "ext")
	if svc.DeploymentController.Type != types.DeploymentControllerTypeExternal || len(svc.TaskSets) != 2 || aws.ToString(svc.TaskSets[0].Id) != aws.ToString(green.Id) ||
		aws.ToString(svc.TaskDefinition) != v2 || len(svc.Deployments) != 0 || svc.RunningCount != 3 {
		t.Errorf("service: controller %v, %d task sets, task definition %s, %d deployments, running %d",
			svc.DeploymentController, len(svc.TaskSets), aws.ToString(svc.TaskDefinition), len(svc.Deployments), svc.RunningCount)
	}
	if _, err := w.client.UpdateTaskSet(ctx, &sdk.UpdateTaskSetInput{Cluster: aws.String(testCluster), Service: aws.String("ext"),
		TaskSet: green.Id, Scale: &types.Scale{Value: 100, Unit: types.ScaleUnitPercent}}); err != nil {
		t.Fatal(err)
	}
	w.waitTaskSet(t, "ext", aws.ToString(green.Id), 4)
	checkTaskSetDeletes(t, w, blue, green)
}

// checkTaskSetDeletes deletes blue (not primary, scaled above 0: only with
// force) and waits until it is gone; the primary green cannot go.
func checkTaskSetDeletes(t *testing.T, w *world, blue, green types.TaskSet) {
	t.Helper()
	ctx := context.Background()
	del := func(ts types.TaskSet, force bool) (*sdk.DeleteTaskSetOutput, error) {
		return w.client.DeleteTaskSet(ctx, &sdk.DeleteTaskSetInput{Cluster: aws.String(testCluster), Service: aws.String("ext"), TaskSet: ts.Id, Force: aws.Bool(force)})
	}
	if _, err := del(blue, false); !strings.Contains(errString(err), "scaled above 0") {
		t.Errorf("deleting a scaled task set: %v", err)
	}
	if _, err := del(green, false); !strings.Contains(errString(err), "primary task set") {
		t.Errorf("deleting the primary task set: %v", err)
	}
	out, err := del(blue, true)
	if err != nil || aws.ToString(out.TaskSet.Status) != "DRAINING" {
		t.Fatalf("DeleteTaskSet: %+v %v", out, err)
	}
	polltest.Eventually(t, "blue gone", func() bool {
		d, err := w.client.DescribeTaskSets(ctx, &sdk.DescribeTaskSetsInput{Cluster: aws.String(testCluster), Service: aws.String("ext"), TaskSets: []string{aws.ToString(blue.TaskSetArn)}})
		return err == nil && len(d.TaskSets) == 0 && len(d.Failures) == 1 && aws.ToString(d.Failures[0].Reason) == "MISSING"
	})
}

func errString(err error) string {
	_, msg := apiError(err)
	return msg
}

// TestTaskSetErrors checks what task set operations refuse.
func TestTaskSetErrors(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	v1 := w.register(t, "meshsim/test-http:v1", "v1")
	w.createService(t, "rolling", v1, 0, nil)
	tests := []struct {
		name     string
		call     func() error
		code, in string
	}{
		{"EXTERNAL service with a task definition", func() error {
			_, err := w.client.CreateService(ctx, &sdk.CreateServiceInput{Cluster: aws.String(testCluster), ServiceName: aws.String("x"), DesiredCount: aws.Int32(1),
				TaskDefinition: aws.String(v1), DeploymentController: &types.DeploymentController{Type: types.DeploymentControllerTypeExternal}})
			return err
		}, "InvalidParameterException", "taskDefinition is set by each task set"},
		{"task set of an ECS service", func() error {
			_, err := w.client.CreateTaskSet(ctx, &sdk.CreateTaskSetInput{Cluster: aws.String(testCluster), Service: aws.String("rolling"),
				TaskDefinition: aws.String(v1), NetworkConfiguration: testNetwork})
			return err
		}, "InvalidParameterException", "EXTERNAL or CODE_DEPLOY"},
		{"task set without network", func() error {
			_, err := w.client.CreateTaskSet(ctx, &sdk.CreateTaskSetInput{Cluster: aws.String(testCluster), Service: aws.String("cd"), TaskDefinition: aws.String(v1)})
			return err
		}, "InvalidParameterException", "Network Configuration must be provided"},
		{"scale 150", func() error {
			_, err := w.client.CreateTaskSet(ctx, &sdk.CreateTaskSetInput{Cluster: aws.String(testCluster), Service: aws.String("cd"), TaskDefinition: aws.String(v1),
				NetworkConfiguration: testNetwork, Scale: &types.Scale{Value: 150, Unit: types.ScaleUnitPercent}})
			return err
		}, "InvalidParameterException", "scale.value must be between 0 and 100."},
		{"unknown task set", func() error {
			_, err := w.client.UpdateTaskSet(ctx, &sdk.UpdateTaskSetInput{Cluster: aws.String(testCluster), Service: aws.String("cd"),
				TaskSet: aws.String("ecs-svc/1"), Scale: &types.Scale{Value: 1}})
			return err
		}, "TaskSetNotFoundException", "ecs-svc/1"},
		{"new task definition for CODE_DEPLOY", func() error {
			_, err := w.client.UpdateService(ctx, &sdk.UpdateServiceInput{Cluster: aws.String(testCluster), Service: aws.String("cd"), TaskDefinition: aws.String(v1)})
			return err
		}, "InvalidParameterException", "Unable to update task definition on services with a CODE_DEPLOY deployment controller."},
	}
	// A CODE_DEPLOY service starts with a PRIMARY task set made from it.
	if _, err := w.client.CreateService(ctx, &sdk.CreateServiceInput{Cluster: aws.String(testCluster), ServiceName: aws.String("cd"), DesiredCount: aws.Int32(1),
		TaskDefinition: aws.String(v1), NetworkConfiguration: testNetwork,
		DeploymentController: &types.DeploymentController{Type: types.DeploymentControllerTypeCodeDeploy}}); err != nil {
		t.Fatal(err)
	}
	svc := w.service(t, "cd")
	if len(svc.TaskSets) != 1 || aws.ToString(svc.TaskSets[0].Status) != "PRIMARY" || aws.ToString(svc.TaskDefinition) != v1 {
		t.Errorf("CODE_DEPLOY service: %+v", svc.TaskSets)
	} else {
		w.waitTaskSet(t, "cd", aws.ToString(svc.TaskSets[0].Id), 1)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := apiError(tt.call())
			if code != tt.code || !strings.Contains(msg, tt.in) {
				t.Errorf("got %s %q, want %s %q", code, msg, tt.code, tt.in)
			}
		})
	}
}
