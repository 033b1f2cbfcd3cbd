package sidecar_test

import (
	"context"
	"testing"
	"time"

	"github.com/meshsim/meshsim/sim/grpcapp/echopb"
	"github.com/meshsim/meshsim/sim/sidecar/sidecarbench"
)

// startGRPC starts the sample gRPC service with a client connected
// directly and one through an embedded sidecar, to tell the sidecar's cost
// apart (meshsim bench's gRPC section runs the same).
func startGRPC(b *testing.B) *sidecarbench.GRPC {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g, err := sidecarbench.StartGRPC(ctx)
	if err != nil {
		b.Skip(err) // no loopback address with the sidecar's ports free
	}
	b.Cleanup(g.Close)
	return g
}

// BenchmarkGRPCUnary measures unary calls through the sidecar, from many
// goroutines over one client connection (run with -cpu 1 for what one
// core sustains: client, sidecar and backend share it).
func BenchmarkGRPCUnary(b *testing.B) {
	g := startGRPC(b)
	for _, via := range []sidecarbench.Via{sidecarbench.Direct, sidecarbench.ThroughSidecar} {
		b.Run(string(via), func(b *testing.B) {
			c := g.Client(via)
			ctx := context.Background()
			req := &echopb.EchoRequest{Name: "bench"}
			b.ReportAllocs()
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Echo(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkGRPCStreams holds 10,000 concurrent streams open, each with one
// message through, and reports the memory each costs (live heap and
// goroutine stacks after a GC, over the memory before they opened) and
// the goroutines it holds; ns/op is the time to open them. "direct" is
// client and backend alone, in the same process: the sidecar's share is
// the difference. meshsim bench runs the bidi pair in a process of its
// own and prints the ratios.
func BenchmarkGRPCStreams(b *testing.B) {
	const streams = 10_000
	g := startGRPC(b)
	for _, kind := range []sidecarbench.StreamKind{sidecarbench.Bidi, sidecarbench.Server} {
		for _, via := range []sidecarbench.Via{sidecarbench.Direct, sidecarbench.ThroughSidecar} {
			b.Run(string(kind)+"/"+string(via), func(b *testing.B) {
				var sum sidecarbench.Streams
				for range b.N {
					s, err := sidecarbench.HoldStreams(context.Background(), g.Client(via), kind, streams)
					if err != nil {
						b.Fatal(err)
					}
					sum.N += s.N
					sum.Open += s.Open
					sum.Bytes += s.Bytes
					sum.Goroutines += s.Goroutines
				}
				// ns/op is the time to open the streams, not to end them.
				b.ReportMetric(float64(sum.Open.Nanoseconds())/float64(b.N), "ns/op")
				b.ReportMetric(sum.BytesPerStream(), "B/stream")
				b.ReportMetric(sum.GoroutinesPerStream(), "goroutines/stream")
			})
		}
	}
}
