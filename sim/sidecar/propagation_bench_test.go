package sidecar_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/meshsim/meshsim/sim/sidecar/sidecarbench"
	"github.com/meshsim/meshsim/sim/xds"
)

// BenchmarkPropagation measures how long a route change takes to reach
// every sidecar: from the control plane's Update with new weights (what
// App Mesh's UpdateRoute leads to) until the last of the sidecars has
// ACKed the new route configuration. ns/op is the mean; p50-ms and p99-ms
// are over the iterations (run with -benchtime=200x or more for a p99),
// cpu-ms/op the process's CPU time (control plane and sidecars) per
// change, which a shared machine's waits for a CPU do not inflate.
func BenchmarkPropagation(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(strconv.Itoa(n)+"-sidecars", func(b *testing.B) {
			ep := xds.Endpoint{InstanceID: "t1", Address: "127.0.0.1", Port: 1}
			w, err := sidecarbench.Start(context.Background(), n, ep, ep, 50, 50)
			if err != nil {
				b.Skip(err) // no loopback addresses with the ports free
			}
			defer w.Close()
			var took []time.Duration
			var cpu time.Duration
			b.ResetTimer()
			for i := range b.N {
				c, err := w.ChangeRoute(context.Background(), uint32(10+i%80), uint32(90-i%80))
				if err != nil {
					b.Fatal(err)
				}
				took = append(took, c.Took)
				cpu += c.CPU
			}
			b.StopTimer()
			b.ReportMetric(float64(sidecarbench.Quantile(took, 0.5))/1e6, "p50-ms")
			b.ReportMetric(float64(sidecarbench.Quantile(took, 0.99))/1e6, "p99-ms")
			b.ReportMetric(float64(cpu)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}
