package hostload

import (
	"errors"
	"math"
	"runtime/metrics"
	"slices"
	"time"
)

// schedLatencies is the Go runtime's histogram of the time goroutines
// spent runnable before they ran: how long work in this process waited
// for a CPU.
const schedLatencies = "/sched/latencies:seconds"

// readSched returns the runtime's cumulative scheduling-latency histogram.
func readSched() (counts []uint64, buckets []float64, err error) {
	s := []metrics.Sample{{Name: schedLatencies}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil, nil, errors.New("scheduling latency not readable: this Go runtime has no " + schedLatencies)
	}
	h := s[0].Value.Float64Histogram()
	return slices.Clone(h.Counts), h.Buckets, nil
}

// schedQuantile returns the q quantile (0..1) of the scheduling latencies
// recorded between two cumulative histograms with the same buckets, as the
// upper bound of the bucket it falls in (so never an underestimate), and
// false when none was recorded.
func schedQuantile(prev, cur []uint64, buckets []float64, q float64) (time.Duration, bool) {
	if len(cur) != len(prev) || len(buckets) != len(cur)+1 {
		return 0, false
	}
	var total uint64
	for i := range cur {
		if cur[i] < prev[i] {
			return 0, false
		}
		total += cur[i] - prev[i]
	}
	if total == 0 {
		return 0, false
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i := range cur {
		seen += cur[i] - prev[i]
		if seen >= rank {
			upper := buckets[i+1]
			if math.IsInf(upper, 1) {
				upper = buckets[i]
			}
			return time.Duration(upper * float64(time.Second)), true
		}
	}
	return 0, false
}
