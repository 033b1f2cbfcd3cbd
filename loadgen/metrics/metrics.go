// Package metrics aggregates a run's observations as they stream in, the
// way vegeta's Metrics.Add does: request counts, failures by kind and HDR
// latency histograms, per step and per version. The engine feeds it live
// (the dashboard and the gates read it) and the reports feed it again from
// the run directory, so the live numbers, a gate's window and the report
// are computed by the same code from the same observations.
package metrics

import (
	"fmt"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/meshsim/meshsim/loadgen/rundir"
)

// CanceledKind is the error kind of a request the generator abandoned when
// the run was stopped: not an outcome of the system under test, so it is
// counted apart and left out of Requests, Failed and the latencies.
const CanceledKind = "canceled"

// OtherKind is the error kind counted for a failure that names none.
const OtherKind = "other"

// Latency histograms record microseconds from 1 µs to one hour with 3
// significant figures (about 190 KiB each).
const (
	lowestMicros  = 1
	highestMicros = int64(time.Hour / time.Microsecond)
	sigFigs       = 3
)

// Histogram is an HDR histogram of latencies in microseconds.
type Histogram struct {
	h *hdrhistogram.Histogram
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{h: hdrhistogram.New(lowestMicros, highestMicros, sigFigs)}
}

// Record adds one latency. Negative latencies (a clock step) record as 0
// and latencies beyond the histogram's range as its highest value, so it
// cannot fail.
func (h *Histogram) Record(d time.Duration) {
	us := min(max(d.Microseconds(), 0), highestMicros)
	_ = h.h.RecordValue(us)
}

// Quantiles are a histogram's count and quantiles.
type Quantiles struct {
	Count              int64
	P50, P90, P99, Max time.Duration
}

// Quantiles reads the histogram's quantiles.
func (h *Histogram) Quantiles() Quantiles {
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	return Quantiles{
		Count: h.h.TotalCount(),
		P50:   us(h.h.ValueAtQuantile(50)),
		P90:   us(h.h.ValueAtQuantile(90)),
		P99:   us(h.h.ValueAtQuantile(99)),
		Max:   us(h.h.Max()),
	}
}

// Merge adds every latency of o to h.
func (h *Histogram) Merge(o *Histogram) { h.h.Merge(o.h) }

// Bucket is one non-empty bucket of a histogram: Count latencies between
// Low and High, equal at the histogram's precision.
type Bucket struct {
	Low, High time.Duration
	Count     int64
}

// Mid is the middle of the bucket.
func (b Bucket) Mid() time.Duration { return b.Low + (b.High-b.Low)/2 }

// Buckets lists the histogram's non-empty buckets, lowest first: the
// distribution the statistical tests (Mann–Whitney) read.
func (h *Histogram) Buckets() []Bucket {
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	var out []Bucket
	for _, b := range h.h.Distribution() {
		if b.Count > 0 {
			out = append(out, Bucket{Low: us(b.From), High: us(b.To), Count: b.Count})
		}
	}
	return out
}

// MarshalText encodes the histogram in HdrHistogram's compressed V2
// format, base64: a few hundred bytes where the counts array is 190 KiB,
// readable by every HdrHistogram implementation.
func (h *Histogram) MarshalText() ([]byte, error) {
	b, err := h.h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return nil, fmt.Errorf("encoding the latency histogram: %w", err)
	}
	return b, nil
}

// UnmarshalText decodes what MarshalText wrote.
func (h *Histogram) UnmarshalText(text []byte) error {
	d, err := hdrhistogram.Decode(text)
	if err != nil {
		return fmt.Errorf("decoding the latency histogram: %w", err)
	}
	if d.LowestTrackableValue() != lowestMicros || d.HighestTrackableValue() != highestMicros || d.SignificantFigures() != sigFigs {
		// Another meshsim's precision: re-record at ours.
		h.h = hdrhistogram.New(lowestMicros, highestMicros, sigFigs)
		for _, b := range d.Distribution() {
			if b.Count > 0 {
				_ = h.h.RecordValues(min(max(b.To, 0), highestMicros), b.Count)
			}
		}
		return nil
	}
	h.h = d
	return nil
}

// Tally aggregates request outcomes: how many, how many failed and why,
// and their latencies. Canceled requests are only counted.
type Tally struct {
	// Requests counts the outcomes (canceled requests excluded); Failed
	// those that did not succeed; Canceled the requests abandoned when the
	// run stopped.
	Requests, Failed, Canceled int
	// ErrorsByKind counts the failures by error kind (OtherKind when a
	// failure names none); nil until one fails.
	ErrorsByKind map[string]int
	// Latency holds every outcome's latency, failures included.
	Latency *Histogram
}

// NewTally returns an empty aggregate.
func NewTally() *Tally { return &Tally{Latency: NewHistogram()} }

// Add aggregates o, and reports whether it was a request (stream events
// are not, and are left out).
func (r *Tally) Add(o *rundir.Observation) bool {
	if !o.IsRequest() {
		return false
	}
	if o.ErrorKind == CanceledKind {
		r.Canceled++
		return true
	}
	r.Requests++
	if !o.OK() {
		r.Failed++
		kind := o.ErrorKind
		if kind == "" {
			kind = OtherKind
		}
		if r.ErrorsByKind == nil {
			r.ErrorsByKind = map[string]int{}
		}
		r.ErrorsByKind[kind]++
	}
	r.Latency.Record(o.Latency)
	return true
}

// Step aggregates the requests of one step: all of them, and those of each
// version that answered.
type Step struct {
	Tally
	// Versions aggregates the requests attributed to each version (by the
	// version response header), by version.
	Versions map[string]*Tally
}

// NewStep returns an empty step aggregate.
func NewStep() *Step {
	return &Step{Tally: *NewTally(), Versions: map[string]*Tally{}}
}

// Add aggregates o into the step and into its version's aggregate.
func (s *Step) Add(o *rundir.Observation) {
	if !s.Tally.Add(o) || o.Version == "" || o.ErrorKind == CanceledKind {
		return
	}
	v := s.Versions[o.Version]
	if v == nil {
		v = NewTally()
		s.Versions[o.Version] = v
	}
	v.Add(o)
}

// Counts is a copy of a step's counts, safe to hand to another goroutine.
type Counts struct {
	Requests, Failed, Canceled int
	// Versions counts the requests attributed to each version.
	Versions map[string]int
}

// Counts copies the step's counts.
func (s *Step) Counts() Counts {
	c := Counts{Requests: s.Requests, Failed: s.Failed, Canceled: s.Canceled, Versions: make(map[string]int, len(s.Versions))}
	for v, r := range s.Versions {
		c.Versions[v] = r.Requests
	}
	return c
}

// Summary is a tally's counts and quantiles, safe to hand to another
// goroutine.
type Summary struct {
	Requests, Failed int
	ErrorsByKind     map[string]int
	Latency          Quantiles
}

// Summary copies the tally's counts and reads its quantiles.
func (r *Tally) Summary() Summary {
	s := Summary{Requests: r.Requests, Failed: r.Failed, Latency: r.Latency.Quantiles()}
	if len(r.ErrorsByKind) > 0 {
		s.ErrorsByKind = make(map[string]int, len(r.ErrorsByKind))
		for k, n := range r.ErrorsByKind {
			s.ErrorsByKind[k] = n
		}
	}
	return s
}
