package sim

import (
	"context"
	"time"

	"github.com/meshsim/meshsim/sim/cloudwatch"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/ecs"
)

// publishTaskCounts publishes every ACTIVE service's task counts to
// CloudWatch as Container Insights does (namespace ECS/ContainerInsights,
// dimensions ClusterName and ServiceName), every `every`, until ctx ends.
func publishTaskCounts(ctx context.Context, e *ecs.Fake, cw *cloudwatch.Fake, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var data []cloudwatch.Datum
		for _, n := range e.TaskCounts() {
			dims := []cloudwatch.Dimension{{Name: contract.DimensionCluster, Value: n.Cluster}, {Name: contract.DimensionService, Value: n.Service}}
			for _, m := range []struct {
				name string
				v    int
			}{{"RunningTaskCount", n.Running}, {"PendingTaskCount", n.Pending}, {"DesiredTaskCount", n.Desired}, {"DeploymentCount", n.Deployments}} {
				v := float64(m.v)
				data = append(data, cloudwatch.Datum{MetricName: m.name, Dimensions: dims, Value: &v, Unit: "Count"})
			}
		}
		for len(data) > 0 {
			n := min(len(data), 1000) // PutMetricData's limit per call
			_ = cw.Publish(contract.NamespaceContainerInsights, data[:n])
			data = data[n:]
		}
	}
}
