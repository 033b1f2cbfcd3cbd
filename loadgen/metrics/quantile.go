package metrics

import "time"

// At returns the latency at quantile q (0 < q < 1) of the histogram.
func (h *Histogram) At(q float64) time.Duration {
	return time.Duration(h.h.ValueAtQuantile(q*100)) * time.Microsecond
}

// Mean returns the histogram's mean latency.
func (h *Histogram) Mean() time.Duration {
	return time.Duration(h.h.Mean() * float64(time.Microsecond))
}
