package ecs_test

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/meshsim/meshsim/sim/ecs"
)

// BenchmarkCreateDeleteCycles registers a task definition, creates a
// service, deletes it and deletes the task definition, again and again,
// through the SDK. The fake forgets INACTIVE services after a
// millisecond here, so its memory must return: it reports the live heap
// after the cycles and, for the first and the last tenth of them, the
// throughput and the CPU time per cycle, which must match (the CPU time
// holds on a busy machine, where the throughput varies with the load).
func BenchmarkCreateDeleteCycles(b *testing.B) {
	fake := ecs.New(ecs.Options{
		InactiveServiceRetention: time.Millisecond, StoppedTaskRetention: time.Millisecond,
		ReconcileInterval: 10 * time.Millisecond,
	})
	defer fake.Close()
	client := memClient(fake)
	ctx := context.Background()
	cluster := aws.String(testCluster)
	if _, err := client.CreateCluster(ctx, &sdk.CreateClusterInput{ClusterName: cluster}); err != nil {
		b.Fatal(err)
	}
	cycle := func(i int) {
		td, err := client.RegisterTaskDefinition(ctx, &sdk.RegisterTaskDefinitionInput{
			Family: aws.String("web"),
			ContainerDefinitions: []types.ContainerDefinition{{
				Name: aws.String("app"), Image: aws.String("meshsim/test-http:v1"),
				PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}},
			}},
		})
		if err != nil {
			b.Fatal(err)
		}
		arn := td.TaskDefinition.TaskDefinitionArn
		name := aws.String("web-" + strconv.Itoa(i))
		if _, err := client.CreateService(ctx, &sdk.CreateServiceInput{
			Cluster: cluster, ServiceName: name, TaskDefinition: arn, DesiredCount: aws.Int32(0),
		}); err != nil {
			b.Fatal(err)
		}
		if _, err := client.DeleteService(ctx, &sdk.DeleteServiceInput{Cluster: cluster, Service: name}); err != nil {
			b.Fatal(err)
		}
		if _, err := client.DeregisterTaskDefinition(ctx, &sdk.DeregisterTaskDefinitionInput{TaskDefinition: arn}); err != nil {
			b.Fatal(err)
		}
		if _, err := client.DeleteTaskDefinitions(ctx, &sdk.DeleteTaskDefinitionsInput{TaskDefinitions: []string{*arn}}); err != nil {
			b.Fatal(err)
		}
	}
	tenth := max(b.N/10, 1)
	var first, last, firstCPU, lastCPU time.Duration
	b.ResetTimer()
	start, startCPU := time.Now(), cpuTime()
	for i := range b.N {
		if i == tenth {
			first, firstCPU = time.Since(start), cpuTime()-startCPU
		}
		if i == b.N-tenth {
			start, startCPU = time.Now(), cpuTime()
		}
		cycle(i)
	}
	last, lastCPU = time.Since(start), cpuTime()-startCPU
	b.StopTimer()
	time.Sleep(50 * time.Millisecond) // a few reconcile intervals: the last services are forgotten
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b.ReportMetric(float64(m.HeapAlloc)/(1<<20), "heap-MB")
	if first > 0 && last > 0 {
		b.ReportMetric(float64(tenth)/first.Seconds(), "first-cycles/s")
		b.ReportMetric(float64(tenth)/last.Seconds(), "last-cycles/s")
		b.ReportMetric(float64(firstCPU.Microseconds())/float64(tenth), "first-cpu-µs/cycle")
		b.ReportMetric(float64(lastCPU.Microseconds())/float64(tenth), "last-cpu-µs/cycle")
	}
}
