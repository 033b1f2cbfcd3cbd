package sidecar

import "testing"

// BenchmarkQueueStats measures what the queueing counters add to one
// proxied request (enter, wait, done, leave), with every goroutine of the
// benchmark updating the same counters, as a busy proxy's requests do. The
// whole request through the proxy is BenchmarkProxy.
func BenchmarkQueueStats(b *testing.B) {
	var q queueStats
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			q.enter()
			q.wait()
			q.done()
			q.leave()
		}
	})
}
