package ecs

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// pendingRuntime starts no task: Start waits until the task is stopped, so
// that every task stays PENDING.
type pendingRuntime struct{}

func (pendingRuntime) Start(ctx context.Context, _ TaskSpec, _ func(TaskReport)) (Started, error) {
	<-ctx.Done()
	return Started{}, ctx.Err()
}

func (pendingRuntime) Stop(context.Context, string, time.Duration) error { return nil }

// BenchmarkTaskChange measures what one task state change costs under the
// fake's lock (settling its service and publishing the traffic split)
// when one service has n tasks.
func BenchmarkTaskChange(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			f := New(Options{Runtime: pendingRuntime{}, MaxTasks: n, TaskLaunchRate: 1 << 30})
			defer f.Close()
			if _, err := f.createCluster("us-east-1", &createClusterInput{ClusterName: "default"}); err != nil {
				b.Fatal(err)
			}
			if _, err := f.registerTaskDefinition("us-east-1", &registerTaskDefinitionInput{
				Family: "web", ContainerDefinitions: []containerDefinition{{Name: "app", Image: "app"}},
			}); err != nil {
				b.Fatal(err)
			}
			if _, err := f.createService("us-east-1", &createServiceInput{ServiceName: "web", TaskDefinition: "web", DesiredCount: &n}); err != nil {
				b.Fatal(err)
			}
			c := f.clusters[clusterARN("us-east-1", "default")]
			for pending := 0; pending < n; time.Sleep(time.Millisecond) {
				f.mu.Lock()
				pending = 0
				for _, t := range c.tasks {
					if t.lastStatus == statusPending {
						pending++
					}
				}
				f.mu.Unlock()
			}
			s := c.services["web"]
			b.ResetTimer()
			for b.Loop() {
				f.mu.Lock()
				f.settle(s, time.Now())
				f.mu.Unlock()
			}
		})
	}
}
