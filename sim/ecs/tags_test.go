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

// TestTagging tags, lists and untags every kind of resource ECS tags, and
// checks the propagation of tags to a service's tasks.
func TestTagging(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	td := w.registerFamily(t, "web", types.NetworkModeAwsvpc, "256", "512", tag("from", "taskdef"), tag("team", "a"))
	// Without include, DescribeTaskDefinition leaves the tags out.
	desc, err := w.client.DescribeTaskDefinition(ctx, &sdk.DescribeTaskDefinitionInput{TaskDefinition: aws.String(td)})
	if err != nil || desc.Tags != nil {
		t.Errorf("DescribeTaskDefinition without include: tags %v %v", desc.Tags, err)
	}
	desc, err = w.client.DescribeTaskDefinition(ctx, &sdk.DescribeTaskDefinitionInput{TaskDefinition: aws.String(td), Include: []types.TaskDefinitionField{types.TaskDefinitionFieldTags}})
	if err != nil || tagMap(desc.Tags)["from"] != "taskdef" || aws.ToString(desc.TaskDefinition.Cpu) != "256" {
		t.Errorf("DescribeTaskDefinition with TAGS: %v %v", desc.Tags, err)
	}
	svcOut, err := w.client.CreateService(ctx, &sdk.CreateServiceInput{
		Cluster: aws.String(testCluster), ServiceName: aws.String("web"), TaskDefinition: aws.String(td), DesiredCount: aws.Int32(1),
		NetworkConfiguration: testNetwork, Tags: []types.Tag{tag("from", "service")},
		PropagateTags: types.PropagateTagsService, EnableECSManagedTags: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	var task types.Task
	polltest.Eventually(t, "a task of web", func() bool {
		tasks := w.tasks(t, "web", types.DesiredStatusRunning)
		if len(tasks) == 0 {
			return false
		}
		task = w.describeTask(t, aws.ToString(tasks[0].TaskArn))
		return true
	})
	tags := tagMap(task.Tags)
	if len(tags) != 3 || tags["from"] != "service" || tags["aws:ecs:clusterName"] != testCluster || tags["aws:ecs:serviceName"] != "web" {
		t.Errorf("service task's tags %v, want the service's and the managed ones", tags)
	}
	clusterARN := "arn:aws:ecs:eu-west-1:000000000000:cluster/" + testCluster
	resources := map[string]string{
		"cluster":         clusterARN,
		"service":         aws.ToString(svcOut.Service.ServiceArn),
		"task definition": td,
		"task":            aws.ToString(task.TaskArn),
	}
	for kind, arn := range resources {
		t.Run(kind, func(t *testing.T) { checkTagCycle(t, w, arn) })
	}
	svc, err := w.client.DescribeServices(ctx, &sdk.DescribeServicesInput{Cluster: aws.String(testCluster), Services: []string{"web"}, Include: []types.ServiceField{types.ServiceFieldTags}})
	if err != nil || tagMap(svc.Services[0].Tags)["k1"] != "v1" {
		t.Errorf("DescribeServices with TAGS after TagResource: %+v %v", svc.Services[0].Tags, err)
	}
	checkTagErrors(t, w, clusterARN)
}

// checkTagCycle tags arn, lists its tags, and untags it.
func checkTagCycle(t *testing.T, w *world, arn string) {
	t.Helper()
	ctx := context.Background()
	before, err := w.client.ListTagsForResource(ctx, &sdk.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.client.TagResource(ctx, &sdk.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{tag("k1", "v1"), tag("k2", "v2")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.client.TagResource(ctx, &sdk.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{tag("k2", "v2b")}}); err != nil {
		t.Fatal(err)
	}
	got, err := w.client.ListTagsForResource(ctx, &sdk.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if m := tagMap(got.Tags); err != nil || m["k1"] != "v1" || m["k2"] != "v2b" || len(m) != len(before.Tags)+2 {
		t.Errorf("after TagResource: %v %v", m, err)
	}
	if _, err := w.client.UntagResource(ctx, &sdk.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"k2"}}); err != nil {
		t.Fatal(err)
	}
	got, _ = w.client.ListTagsForResource(ctx, &sdk.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if m := tagMap(got.Tags); m["k2"] != "" || m["k1"] != "v1" {
		t.Errorf("after UntagResource: %v", m)
	}
}

// checkTagErrors checks what tagging refuses.
func checkTagErrors(t *testing.T, w *world, clusterARN string) {
	t.Helper()
	ctx := context.Background()
	many := make([]types.Tag, 50)
	for i := range many {
		many[i] = tag("t"+strings.Repeat("x", i), "v")
	}
	tests := []struct {
		name     string
		call     func() error
		code, in string
	}{
		{"no such cluster", func() error {
			_, err := w.client.ListTagsForResource(ctx, &sdk.ListTagsForResourceInput{ResourceArn: aws.String(clusterARN + "-gone")})
			return err
		}, "ResourceNotFoundException", "could not be found"},
		{"not an ECS ARN", func() error {
			_, err := w.client.TagResource(ctx, &sdk.TagResourceInput{ResourceArn: aws.String("arn:aws:s3:::bucket"), Tags: []types.Tag{tag("a", "b")}})
			return err
		}, "InvalidParameterException", "not an Amazon ECS ARN"},
		{"aws: prefix", func() error {
			_, err := w.client.TagResource(ctx, &sdk.TagResourceInput{ResourceArn: aws.String(clusterARN), Tags: []types.Tag{tag("aws:x", "b")}})
			return err
		}, "InvalidParameterException", "reserved"},
		{"untag aws:", func() error {
			_, err := w.client.UntagResource(ctx, &sdk.UntagResourceInput{ResourceArn: aws.String(clusterARN), TagKeys: []string{"aws:ecs:clusterName"}})
			return err
		}, "InvalidParameterException", "reserved"},
		{"over 50", func() error {
			_, err := w.client.TagResource(ctx, &sdk.TagResourceInput{ResourceArn: aws.String(clusterARN), Tags: many})
			return err
		}, "InvalidParameterException", "at most 50 tags"},
	}
	for _, tt := range tests {
		if code, msg := apiError(tt.call()); code != tt.code || !strings.Contains(msg, tt.in) {
			t.Errorf("%s: %s %q, want %s %q", tt.name, code, msg, tt.code, tt.in)
		}
	}
}
