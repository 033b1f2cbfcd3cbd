package engine

import (
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
)

func TestWindowStats(t *testing.T) {
	w := newWindow(10 * time.Second)
	t0 := time.Unix(1000, 0)
	for i := range 200 {
		o := rundir.Observation{Sent: t0.Add(time.Duration(i) * 100 * time.Millisecond), Status: 200, Latency: time.Duration(i+1) * time.Millisecond}
		if i%10 == 0 {
			o.Status, o.Error = 503, "503 Service Unavailable"
		}
		w.add(o)
	}
	// The last 5 s: requests 150..199.
	n, failed, p99 := w.stats(t0.Add(15 * time.Second))
	if n != 50 || failed != 5 || p99 != 200*time.Millisecond {
		t.Errorf("last 5s: n %d failed %d p99 %v", n, failed, p99)
	}
	// Older than the span (10 s before the newest) is forgotten.
	if n, _, _ := w.stats(t0); n != 101 {
		t.Errorf("whole window: n %d, want 101 (10 s of requests, 100 ms apart, inclusive)", n)
	}
	if n, _, _ := w.stats(t0.Add(time.Hour)); n != 0 {
		t.Errorf("future: n %d", n)
	}
}
