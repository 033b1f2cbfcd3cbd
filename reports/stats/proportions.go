package stats

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Proportions is the result of a test of two proportions, k1 of n1 against
// k2 of n2 (the first is the one the alternative is about).
type Proportions struct {
	// Test names the test: "fisher-exact" or "two-proportion-z".
	Test string  `json:"test"`
	P    float64 `json:"p"`
	// Z is the two-proportion z statistic (pooled standard error); 0 for
	// Fisher's test.
	Z float64 `json:"z,omitempty"`
	// Diff is p1 − p2; Lo and Hi its Wald confidence interval at Level.
	Diff   float64 `json:"diff"`
	Lo, Hi float64 `json:"-"`
	Level  float64 `json:"level"`
}

// ProportionTest compares k1/n1 with k2/n2 under alt (Greater: the first
// is higher): Fisher's exact test when a cell of the 2×2 table expects
// fewer than 5 counts, the two-proportion z test otherwise.
func ProportionTest(k1, n1, k2, n2 int, alt Alternative, level float64) (Proportions, error) {
	if err := checkLevel(level); err != nil {
		return Proportions{}, err
	}
	if n1 <= 0 || n2 <= 0 || k1 < 0 || k2 < 0 || k1 > n1 || k2 > n2 {
		return Proportions{}, fmt.Errorf("proportions %d/%d and %d/%d: want 0 ≤ k ≤ n and n > 0", k1, n1, k2, n2)
	}
	var r Proportions
	if minExpected(k1, n1, k2, n2) < 5 {
		r = Proportions{Test: "fisher-exact", P: FisherExact(k1, n1-k1, k2, n2-k2, alt)}
	} else {
		z, p := TwoProportionZ(k1, n1, k2, n2, alt)
		r = Proportions{Test: "two-proportion-z", P: p, Z: z}
	}
	p1, p2 := float64(k1)/float64(n1), float64(k2)/float64(n2)
	r.Diff, r.Level = p1-p2, level
	se := math.Sqrt(p1*(1-p1)/float64(n1) + p2*(1-p2)/float64(n2))
	zq := normal.Quantile(1 - (1-level)/2)
	r.Lo, r.Hi = r.Diff-zq*se, r.Diff+zq*se
	return r, nil
}

func minExpected(k1, n1, k2, n2 int) float64 {
	n := float64(n1 + n2)
	col1, col2 := float64(k1+k2), float64(n1+n2-k1-k2)
	e := math.Inf(1)
	for _, row := range []float64{float64(n1), float64(n2)} {
		e = math.Min(e, math.Min(row*col1/n, row*col2/n))
	}
	return e
}

// TwoProportionZ is the two-proportion z test with the pooled standard
// error (no continuity correction): z and its p-value under alt.
func TwoProportionZ(k1, n1, k2, n2 int, alt Alternative) (z, p float64) {
	p1, p2 := float64(k1)/float64(n1), float64(k2)/float64(n2)
	pool := float64(k1+k2) / float64(n1+n2)
	se := math.Sqrt(pool * (1 - pool) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 {
		return 0, 1
	}
	z = (p1 - p2) / se
	return z, pFromZ(z, alt)
}

// FisherExact is Fisher's exact test of the 2×2 table [[a, b], [c, d]]
// under alt about the odds ratio (ad)/(bc) (Greater: above 1, i.e. the
// first row has the larger share in the first column). As R's fisher.test,
// the two-sided p-value sums the tables no more likely than the observed
// one (with a relative tolerance of 1e-7).
func FisherExact(a, b, c, d int, alt Alternative) float64 {
	row1, col1, n := a+b, a+c, a+b+c+d
	lo, hi := max(0, col1-(n-row1)), min(row1, col1)
	logp := func(x int) float64 { // hypergeometric log P(A = x)
		return lchoose(row1, x) + lchoose(n-row1, col1-x) - lchoose(n, col1)
	}
	var p float64
	switch alt {
	case Greater:
		for x := a; x <= hi; x++ {
			p += math.Exp(logp(x))
		}
	case Less:
		for x := lo; x <= a; x++ {
			p += math.Exp(logp(x))
		}
	default:
		obs := logp(a)
		for x := lo; x <= hi; x++ {
			if lp := logp(x); lp <= obs+math.Log1p(1e-7) {
				p += math.Exp(lp)
			}
		}
	}
	return math.Min(1, p)
}

func lchoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// PoissonRates is the exact conditional test of two Poisson rates: k1
// events over exposure t1 against k2 over t2 (R's poisson.test with two
// samples). Given k1+k2 events, k1 is binomial with p = t1/(t1+t2) when the
// rates are equal. Ratio is (k1/t1)/(k2/t2) (+Inf when k2 is 0).
func PoissonRates(k1 int, t1 float64, k2 int, t2 float64, alt Alternative) (ratio, p float64, err error) {
	if k1 < 0 || k2 < 0 || !(t1 > 0) || !(t2 > 0) {
		return 0, 0, fmt.Errorf("poisson rates %d/%g and %d/%g: want counts ≥ 0 and exposures > 0", k1, t1, k2, t2)
	}
	n := k1 + k2
	ratio = (float64(k1) / t1) / (float64(k2) / t2)
	if n == 0 {
		return math.NaN(), 1, nil
	}
	b := distuv.Binomial{N: float64(n), P: t1 / (t1 + t2)}
	switch alt {
	case Greater:
		p = 1 - b.CDF(float64(k1)-1) // P(K ≥ k1)
	case Less:
		p = b.CDF(float64(k1))
	default:
		// R's binom.test two-sided: the outcomes no more likely than k1.
		obs := b.Prob(float64(k1))
		for x := 0; x <= n; x++ {
			if px := b.Prob(float64(x)); px <= obs*(1+1e-7) {
				p += px
			}
		}
	}
	return ratio, math.Min(1, math.Max(0, p)), nil
}
