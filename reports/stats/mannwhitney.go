package stats

import (
	"fmt"
	"math"
)

// exactLimit: as R's wilcox.test, the exact distribution of U is used when
// both samples have fewer than this many observations and no ties.
const exactLimit = 50

// MannWhitney is the result of a Mann–Whitney U test of x against y.
type MannWhitney struct {
	// U is R's W: the number of pairs (xᵢ, yⱼ) with xᵢ > yⱼ, ties counting
	// one half (the rank sum of x minus n₁(n₁+1)/2).
	U      float64 `json:"u"`
	N1, N2 float64 `json:"-"`
	// Exact is true when P comes from U's exact distribution (fewer than 50
	// observations each, no ties); otherwise P is the normal approximation
	// with tie and continuity corrections, Z its statistic.
	Exact bool    `json:"exact"`
	Z     float64 `json:"z,omitempty"`
	P     float64 `json:"p"`
	// Shift is the Hodges–Lehmann estimate of the location shift x − y (the
	// median of all differences xᵢ − yⱼ); Lo and Hi bound its two-sided
	// confidence interval at Level. Exact: R's interval from U's quantiles.
	// Otherwise the large-sample interval of the same order statistics
	// (Hollander & Wolfe): the differences of rank n₁n₂/2 ∓ z·√(n₁n₂(n₁+n₂+1)/12).
	Shift  float64 `json:"shift"`
	Lo, Hi float64 `json:"-"`
	Level  float64 `json:"level"`
}

// MannWhitneyTest tests whether x is shifted against y (alt Greater: x
// tends to be larger), and estimates the shift with a confidence interval
// at level (e.g. 0.95). Both samples need an observation.
func MannWhitneyTest(x, y Sample, alt Alternative, level float64) (MannWhitney, error) {
	if err := checkLevel(level); err != nil {
		return MannWhitney{}, err
	}
	n1, n2 := x.N(), y.N()
	if n1 == 0 || n2 == 0 {
		return MannWhitney{}, fmt.Errorf("mann-whitney: empty sample (%g and %g observations)", n1, n2)
	}
	u, tieSum := rankSum(x, y)
	r := MannWhitney{U: u, N1: n1, N2: n2, Level: level}
	pairs := n1 * n2
	r.Shift = medianDiff(x, y, pairs)
	if n1 < exactLimit && n2 < exactLimit && tieSum == 0 && whole(n1) && whole(n2) {
		r.Exact = true
		dist := newWilcoxon(int(n1), int(n2))
		r.P = dist.pValue(u, alt)
		qu := float64(dist.quantile((1 - level) / 2))
		if qu == 0 {
			qu = 1
		}
		r.Lo, r.Hi = diffAt(x, y, qu), diffAt(x, y, pairs-qu+1)
		return r, nil
	}
	z := u - pairs/2
	sigma := math.Sqrt(pairs / 12 * ((n1 + n2 + 1) - tieSum/((n1+n2)*(n1+n2-1))))
	var corr float64
	switch alt {
	case Greater:
		corr = 0.5
	case Less:
		corr = -0.5
	default:
		if z != 0 {
			corr = math.Copysign(0.5, z)
		}
	}
	if sigma == 0 { // every observation equal
		r.P = 1
		r.Lo, r.Hi = r.Shift, r.Shift
		return r, nil
	}
	r.Z = (z - corr) / sigma
	r.P = pFromZ(r.Z, alt)
	zq := normal.Quantile(1 - (1-level)/2)
	k := math.Floor(pairs/2 - zq*math.Sqrt(pairs*(n1+n2+1)/12))
	k = math.Max(k, 1)
	r.Lo, r.Hi = diffAt(x, y, k), diffAt(x, y, pairs-k+1)
	return r, nil
}

func whole(f float64) bool { return f == math.Trunc(f) }

// rankSum returns U (pairs with x > y, ties one half) and Σ(t³−t) over the
// groups of tied values of the pooled sample.
func rankSum(x, y Sample) (u, tieSum float64) {
	var below float64 // y observations below the current x value
	j := 0
	for i, v := range x.Values {
		for j < len(y.Values) && y.Values[j] < v {
			below += y.Counts[j]
			j++
		}
		tied := 0.0
		if j < len(y.Values) && y.Values[j] == v {
			tied = y.Counts[j]
		}
		u += x.Counts[i] * (below + tied/2)
	}
	// ties over the pooled sample
	i, j := 0, 0
	for i < len(x.Values) || j < len(y.Values) {
		var t float64
		switch {
		case j >= len(y.Values) || (i < len(x.Values) && x.Values[i] < y.Values[j]):
			t = x.Counts[i]
			i++
		case i >= len(x.Values) || y.Values[j] < x.Values[i]:
			t = y.Counts[j]
			j++
		default:
			t = x.Counts[i] + y.Counts[j]
			i++
			j++
		}
		tieSum += t*t*t - t
	}
	return u, tieSum
}

// countDiffAtMost counts the pairs with xᵢ − yⱼ ≤ d.
func countDiffAtMost(x, y Sample, d float64) float64 {
	// yⱼ ≥ xᵢ − d; xᵢ − d grows with i, so the first such j only moves on.
	var n, above float64
	for _, c := range y.Counts {
		above += c
	}
	j := 0
	for i, v := range x.Values {
		for j < len(y.Values) && y.Values[j] < v-d {
			above -= y.Counts[j]
			j++
		}
		n += x.Counts[i] * above
	}
	return n
}

// largestDiffAtMost is the largest difference xᵢ − yⱼ not above d (−Inf if
// none).
func largestDiffAtMost(x, y Sample, d float64) float64 {
	best := math.Inf(-1)
	j := 0
	for _, v := range x.Values {
		for j < len(y.Values) && y.Values[j] < v-d {
			j++
		}
		if j < len(y.Values) {
			best = math.Max(best, v-y.Values[j])
		}
	}
	return best
}

// diffAt is the k-th smallest (from 1) of the differences xᵢ − yⱼ: the
// smallest d with at least k differences at or below it.
func diffAt(x, y Sample, k float64) float64 {
	lo := x.Values[0] - y.Values[len(y.Values)-1] // count(lo) ≥ 1
	hi := x.Values[len(x.Values)-1] - y.Values[0] // count(hi) = all
	if countDiffAtMost(x, y, lo) >= k {
		return lo
	}
	// invariant: count(lo) < k ≤ count(hi)
	for range 200 {
		mid := lo + (hi-lo)/2
		if mid <= lo || mid >= hi {
			break
		}
		if countDiffAtMost(x, y, mid) >= k {
			hi = mid
		} else {
			lo = mid
		}
	}
	return largestDiffAtMost(x, y, hi)
}

// medianDiff is the median of the n = n₁n₂ differences xᵢ − yⱼ.
func medianDiff(x, y Sample, n float64) float64 {
	if math.Mod(n, 2) == 1 {
		return diffAt(x, y, (n+1)/2)
	}
	return (diffAt(x, y, n/2) + diffAt(x, y, n/2+1)) / 2
}

// wilcoxon is the exact null distribution of U for sample sizes m and n
// without ties: freq[u] / total is P(U = u).
type wilcoxon struct {
	freq  []float64
	total float64
}

// newWilcoxon counts, for each rank sum, the subsets of size m of the
// ranks 1..m+n that have it.
func newWilcoxon(m, n int) wilcoxon {
	maxU := m * n
	// ways[j][u]: subsets of size j of the ranks seen so far whose U-part
	// (rank sum − j(j+1)/2) is u; adding rank r to a subset of size j−1
	// adds r − j to it.
	ways := make([][]float64, m+1)
	for j := range ways {
		ways[j] = make([]float64, maxU+1)
	}
	ways[0][0] = 1
	for r := 1; r <= m+n; r++ {
		for j := min(r, m); j >= 1; j-- {
			add := r - j
			if add > maxU {
				continue
			}
			prev, cur := ways[j-1], ways[j]
			for u := maxU; u >= add; u-- {
				cur[u] += prev[u-add]
			}
		}
	}
	w := wilcoxon{freq: ways[m]}
	for _, f := range w.freq {
		w.total += f
	}
	return w
}

// cdf is P(U ≤ q).
func (w wilcoxon) cdf(q float64) float64 {
	var s float64
	for u := 0; u < len(w.freq) && float64(u) <= q; u++ {
		s += w.freq[u]
	}
	return s / w.total
}

// pValue of U = u under alt, as R's wilcox.test computes it.
func (w wilcoxon) pValue(u float64, alt Alternative) float64 {
	greater := 1 - w.cdf(u-1) // P(U ≥ u)
	less := w.cdf(u)          // P(U ≤ u)
	switch alt {
	case Greater:
		return greater
	case Less:
		return less
	}
	half := float64(len(w.freq)-1) / 2
	if u > half {
		return math.Min(1, 2*greater)
	}
	return math.Min(1, 2*less)
}

// quantile is R's qwilcox(p, m, n): the smallest q with P(U ≤ q) ≥ p.
func (w wilcoxon) quantile(p float64) int {
	p -= 10 * 2.220446049250313e-16
	var s float64
	for u, f := range w.freq {
		s += f / w.total
		if s >= p {
			return u
		}
	}
	return len(w.freq) - 1
}
