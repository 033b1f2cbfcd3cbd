package sidecar_test

import (
	"context"
	"io"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// echoClients returns a client of one echo backend connected directly and
// one through an embedded sidecar, to tell the sidecar's cost apart.
func echoClients(b testing.TB) map[string]testpb.TestServiceClient {
	v1 := startEchoBackend(b, "v1", "t1")
	direct := dialSidecar(b, "127.0.0.1:"+strconv.Itoa(int(v1.port)), echoAuthority)
	_, _, viaSidecar, _ := startEcho(b, echoWorld(endpoints(v1), nil, 1, 0))
	return map[string]testpb.TestServiceClient{"direct": testpb.NewTestServiceClient(direct), "sidecar": viaSidecar}
}

// BenchmarkGRPCUnary measures unary calls through the sidecar, from many
// goroutines over one client connection (run with -cpu 1 for what one
// core sustains: client, sidecar and backend share it).
func BenchmarkGRPCUnary(b *testing.B) {
	clients := echoClients(b)
	for _, via := range []string{"direct", "sidecar"} {
		b.Run(via, func(b *testing.B) {
			c := clients[via]
			ctx := context.Background()
			req := &testpb.SimpleRequest{Payload: &testpb.Payload{Body: make([]byte, 64)}}
			b.ReportAllocs()
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.UnaryCall(ctx, req); err != nil {
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
// the difference.
func BenchmarkGRPCStreams(b *testing.B) {
	const streams = 10_000
	clients := echoClients(b)
	for _, kind := range []string{"bidi", "server"} {
		for _, via := range []string{"direct", "sidecar"} {
			b.Run(kind+"/"+via, func(b *testing.B) {
				c := clients[via]
				for range b.N {
					before := memory()
					goroutines := runtime.NumGoroutine()
					end := openStreams(b, c, kind, streams)
					after := memory()
					b.ReportMetric(float64(after-before)/streams, "B/stream")
					b.ReportMetric(float64(runtime.NumGoroutine()-goroutines)/streams, "goroutines/stream")
					b.StopTimer()
					end()
					// Let the streams' goroutines finish before the next round.
					for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > goroutines+100 && time.Now().Before(deadline); {
						time.Sleep(10 * time.Millisecond)
					}
					b.StartTimer()
				}
			})
		}
	}
}

// memory returns the live heap and stack memory after a collection.
func memory() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc + m.StackInuse)
}

// openStreams opens n streams of kind, each with one message through, and
// returns a function that ends them.
func openStreams(b testing.TB, c testpb.TestServiceClient, kind string, n int) (end func()) {
	ctx, cancel := context.WithCancel(context.Background())
	type bidi = grpc.BidiStreamingClient[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]
	bidis := make([]bidi, n)
	var wg sync.WaitGroup
	var failed sync.Once
	const workers = 64
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				var err error
				switch kind {
				case "bidi":
					if bidis[i], err = c.FullDuplexCall(ctx); err == nil {
						_, err = chat(bidis[i], "open")
					}
				case "server":
					var st grpc.ServerStreamingClient[testpb.StreamingOutputCallResponse]
					st, err = c.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{
						ResponseParameters: []*testpb.ResponseParameters{{}, {IntervalUs: int32(time.Hour / time.Microsecond / 2)}},
					})
					if err == nil {
						_, err = st.Recv()
					}
				}
				if err != nil {
					failed.Do(func() { b.Errorf("stream %d: %v", i, err) })
					return
				}
			}
		})
	}
	wg.Wait()
	return func() {
		for w := range workers {
			wg.Go(func() {
				for i := w; i < n; i += workers {
					if st := bidis[i]; st != nil {
						st.CloseSend()
						if _, err := st.Recv(); err != io.EOF {
							failed.Do(func() { b.Errorf("closing stream %d: %v", i, err) })
						}
					}
				}
			})
		}
		wg.Wait()
		cancel() // ends the server streams
	}
}
