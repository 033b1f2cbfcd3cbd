package hostload

import (
	"math"
	"sync"
	"testing"
	"time"
)

func TestSchedQuantile(t *testing.T) {
	buckets := []float64{0, 0.001, 0.01, 0.1, 1, math.Inf(1)}
	tests := []struct {
		name      string
		prev, cur []uint64
		q         float64
		want      time.Duration
		ok        bool
	}{
		{"all fast", []uint64{0, 0, 0, 0, 0}, []uint64{100, 0, 0, 0, 0}, 0.99, time.Millisecond, true},
		{"one in a hundred slow", []uint64{0, 0, 0, 0, 0}, []uint64{99, 0, 0, 1, 0}, 0.99, time.Millisecond, true},
		{"two in a hundred slow", []uint64{0, 0, 0, 0, 0}, []uint64{98, 0, 0, 2, 0}, 0.99, time.Second, true},
		{"only the interval counts", []uint64{0, 0, 0, 50, 0}, []uint64{10, 0, 0, 50, 0}, 0.99, time.Millisecond, true},
		{"beyond the last bound", []uint64{0, 0, 0, 0, 0}, []uint64{0, 0, 0, 0, 5}, 0.99, time.Second, true},
		{"nothing ran", []uint64{3, 0, 0, 0, 0}, []uint64{3, 0, 0, 0, 0}, 0.99, 0, false},
		{"counts went back", []uint64{3, 0, 0, 0, 0}, []uint64{2, 0, 0, 0, 0}, 0.99, 0, false},
		{"mismatched", []uint64{0}, []uint64{1, 2}, 0.99, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := schedQuantile(tt.prev, tt.cur, buckets, tt.q)
			if got != tt.want || ok != tt.ok {
				t.Errorf("schedQuantile = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestSchedReadable reads the runtime's scheduling latencies around some
// goroutines that run: the interval's p99 is readable.
func TestSchedReadable(t *testing.T) {
	a := Read()
	if a.SchedErr != nil {
		t.Fatal(a.SchedErr)
	}
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() { time.Sleep(time.Millisecond) })
	}
	wg.Wait()
	f := Between(a, Read())
	if !f.SchedOK || f.SchedP99 <= 0 {
		t.Errorf("Between = %+v, want a scheduling latency", f)
	}
}
