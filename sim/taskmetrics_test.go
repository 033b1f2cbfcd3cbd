package sim_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/meshsim/meshsim/sim"
	"github.com/meshsim/meshsim/sim/awsclient"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

// A service's task counts reach CloudWatch as Container Insights publishes
// them, where an SDK client reads them.
func TestTaskCountMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := sim.Start(ctx, sim.Options{TimeScale: 60})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	c := awsclient.New(w.Endpoint, "us-east-1")
	if _, err := c.ECS.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("shop")}); err != nil {
		t.Fatal(err)
	}
	td, err := c.ECS.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String("api"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("app"), Image: aws.String(contract.SampleHTTPImage), Essential: aws.Bool(true),
			// The port lets the runtime give each task an address where it is free.
			PortMappings: []ecstypes.PortMapping{{ContainerPort: aws.Int32(contract.SampleDefaultPort)}},
			Environment:  []ecstypes.KeyValuePair{{Name: aws.String(contract.EnvService), Value: aws.String("api")}, {Name: aws.String(contract.EnvVersion), Value: aws.String("v1")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ECS.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("shop"), ServiceName: aws.String("api"),
		TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	dims := []cwtypes.Dimension{{Name: aws.String(contract.DimensionCluster), Value: aws.String("shop")}, {Name: aws.String(contract.DimensionService), Value: aws.String("api")}}
	max := func(metric string) float64 {
		out, err := c.CloudWatch.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
			Namespace: aws.String(contract.NamespaceContainerInsights), MetricName: aws.String(metric), Dimensions: dims,
			StartTime: aws.Time(time.Now().Add(-time.Minute)), EndTime: aws.Time(time.Now().Add(time.Second)), Period: aws.Int32(60),
			Statistics: []cwtypes.Statistic{cwtypes.StatisticMaximum}})
		if err != nil {
			t.Fatal(err)
		}
		m := -1.0
		for _, d := range out.Datapoints {
			m = max(m, aws.ToFloat64(d.Maximum))
		}
		return m
	}
	polltest.Eventually(t, "RunningTaskCount 2", func() bool { return max("RunningTaskCount") == 2 })
	if d := max("DesiredTaskCount"); d != 2 {
		t.Errorf("DesiredTaskCount = %v, want 2", d)
	}
	list, err := c.CloudWatch.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String(contract.NamespaceContainerInsights)})
	if err != nil || len(list.Metrics) != 4 {
		t.Errorf("ListMetrics = %+v, %v; want the 4 task metrics of api", list, err)
	}
}
