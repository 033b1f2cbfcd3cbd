package loadgen

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/sim/grpcapp"
	"github.com/meshsim/meshsim/sim/grpcapp/echopb"
)

// BenchmarkHoldStreams opens b.N Subscribe streams (one message a second
// each) on a sample gRPC service over loopback, directly, and holds them
// for two seconds. ns/op is the time to open one stream. It reports the
// heap each held stream costs (client and server side together, both in
// this process) and the messages delivered per second over the whole run
// (b.N per second once every stream is open, if the machine keeps up). Run
// `go test -bench HoldStreams -benchtime 10000x ./loadgen` for 10,000
// streams.
func BenchmarkHoldStreams(b *testing.B) {
	app, err := grpcapp.Start(context.Background(), grpcapp.Config{Service: "echo", Version: "v1", TaskID: "t", Addr: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer app.Close()
	var opened atomic.Int64
	sink := sinkFunc(func(o rundir.Observation) error {
		if o.Kind == rundir.KindStreamOpen {
			opened.Add(1)
		}
		return nil
	})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan StreamSummary, 1)
	const interval, hold = time.Second, 2 * time.Second
	began := time.Now()
	b.ResetTimer()
	go func() {
		sum, err := RunStreams(ctx, StreamConfig{
			Target:      GRPCTarget{Address: app.Addr()},
			Subscribe:   b.N,
			Interval:    interval,
			Connections: max(1, b.N/1000),
		}, nil, sink)
		if err != nil {
			b.Error(err)
		}
		done <- sum
	}()
	for opened.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/float64(b.N), "heap-B/stream")

	time.Sleep(hold)
	cancel()
	sum := <-done
	b.ReportMetric(float64(sum.Received)/time.Since(began).Seconds(), "msgs/s")
	if sum.Breaks != 0 {
		b.Errorf("%d streams broke", sum.Breaks)
	}
}

// BenchmarkEchoUnary makes unary Echo calls on a sample gRPC service over
// loopback, directly, from GOMAXPROCS goroutines on one connection: the
// baseline cost of a call without a proxy.
func BenchmarkEchoUnary(b *testing.B) {
	app, err := grpcapp.Start(context.Background(), grpcapp.Config{Service: "echo", Version: "v1", TaskID: "t", Addr: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer app.Close()
	cc, err := grpc.NewClient("passthrough:///"+app.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Close()
	client := echopb.NewEchoClient(cc)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := client.Echo(context.Background(), &echopb.EchoRequest{Name: "bench"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
