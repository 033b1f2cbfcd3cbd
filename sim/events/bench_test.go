package events

import (
	"context"
	"strconv"
	"testing"

	"github.com/meshsim/meshsim/sim/contract"
)

// BenchmarkEmit publishes into a bus whose history is full (the state of a
// long run), with and without a subscriber reading along.
func BenchmarkEmit(b *testing.B) {
	for _, subs := range []int{0, 1, 4} {
		b.Run("subscribers="+strconv.Itoa(subs), func(b *testing.B) {
			bus := NewBus(DefaultHistory)
			for range DefaultHistory {
				bus.Emit(Event{Source: "bench", Type: "fill"})
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for range subs {
				ch := bus.Subscribe(ctx, 0)
				go func() {
					for range ch {
					}
				}()
			}
			e := Event{Source: "bench", Type: contract.EventTaskState, Resource: "arn:aws:ecs:us-east-1:000000000000:task/c/1",
				Detail: map[string]string{"from": "PENDING", "to": "RUNNING"}}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				bus.Emit(e)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
