// Package stats holds the hypothesis tests meshsim's judgments rest on:
// the Mann–Whitney U (Wilcoxon rank-sum) test with a Hodges–Lehmann
// confidence interval for the shift, Fisher's exact test and the
// two-proportion z test on 2×2 tables, and the exact test of two Poisson
// rates. gonum has no rank-sum or 2×2 tests, so they are written here once,
// following R's wilcox.test, fisher.test and poisson.test, and tested
// against reference values (stats_test.go says where each came from);
// distributions come from gonum's distuv.
//
// Samples are weighted: distinct values with counts, so that a latency HDR
// histogram (bucket value, count) is a sample without expanding it.
package stats

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// Alternative is the alternative hypothesis of a test, about the first
// sample (x) against the second (y).
type Alternative int

const (
	// TwoSided: x and y differ.
	TwoSided Alternative = iota
	// Greater: x is larger (shifted up, a higher proportion, a higher rate).
	Greater
	// Less: x is smaller.
	Less
)

func (a Alternative) String() string {
	switch a {
	case Greater:
		return "greater"
	case Less:
		return "less"
	default:
		return "two-sided"
	}
}

// Sample is a weighted sample: Values sorted ascending and distinct, each
// seen Counts[i] times.
type Sample struct {
	Values []float64
	Counts []float64
}

// NewSample builds a sample from raw observations.
func NewSample(xs ...float64) Sample {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	var out Sample
	for _, x := range s {
		if n := len(out.Values); n > 0 && out.Values[n-1] == x {
			out.Counts[n-1]++
			continue
		}
		out.Values = append(out.Values, x)
		out.Counts = append(out.Counts, 1)
	}
	return out
}

// Add adds count observations of value v (kept sorted and distinct).
func (s *Sample) Add(v, count float64) {
	if count <= 0 {
		return
	}
	i := sort.SearchFloat64s(s.Values, v)
	if i < len(s.Values) && s.Values[i] == v {
		s.Counts[i] += count
		return
	}
	s.Values = append(s.Values, 0)
	s.Counts = append(s.Counts, 0)
	copy(s.Values[i+1:], s.Values[i:])
	copy(s.Counts[i+1:], s.Counts[i:])
	s.Values[i], s.Counts[i] = v, count
}

// N is the number of observations.
func (s Sample) N() float64 {
	var n float64
	for _, c := range s.Counts {
		n += c
	}
	return n
}

// Quantile is the q-quantile (0..1) of the sample: the smallest value with
// at least q of the observations at or below it; NaN when empty.
func (s Sample) Quantile(q float64) float64 {
	n := s.N()
	if n == 0 {
		return math.NaN()
	}
	want := math.Max(1, math.Ceil(q*n))
	var seen float64
	for i, c := range s.Counts {
		seen += c
		if seen >= want {
			return s.Values[i]
		}
	}
	return s.Values[len(s.Values)-1]
}

// Mean is the sample's mean; NaN when empty.
func (s Sample) Mean() float64 {
	var sum, n float64
	for i, c := range s.Counts {
		sum += s.Values[i] * c
		n += c
	}
	return sum / n
}

// normal is the standard normal distribution.
var normal = distuv.UnitNormal

// pFromZ is the p-value of a standard normal statistic z under alt.
func pFromZ(z float64, alt Alternative) float64 {
	switch alt {
	case Greater:
		return normal.Survival(z)
	case Less:
		return normal.CDF(z)
	default:
		return math.Min(1, 2*normal.Survival(math.Abs(z)))
	}
}

func checkLevel(level float64) error {
	if !(level > 0 && level < 1) {
		return fmt.Errorf("confidence level %g: want a number between 0 and 1", level)
	}
	return nil
}
