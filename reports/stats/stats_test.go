package stats

import (
	"math"
	"sort"
	"testing"
)

// The reference values come from testdata/reference.py, which computes
// them with exact fractions and brute-force enumeration (no R or scipy was
// available); two of them are also R's documented outputs: ?wilcox.test's
// depression example prints W = 35, p-value = 0.1272 (greater), and
// ?fisher.test's TeaTasting prints p-value = 0.2429 (greater).

func near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

func TestMannWhitneyReference(t *testing.T) {
	depX := NewSample(0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46)
	depY := NewSample(1.15, 0.88, 0.90, 0.74, 1.21)
	shX := NewSample(12, 15, 19, 22, 30, 31, 40)
	shY := NewSample(3, 5, 8, 9, 11, 14)
	var tieX, tieY []float64
	for range 6 {
		tieX = append(tieX, 1, 2, 2, 3, 3, 3, 4, 5, 5, 6)
		tieY = append(tieY, 1, 1, 2, 2, 2, 3, 3, 4, 4, 5)
	}
	tests := []struct {
		name          string
		x, y          Sample
		alt           Alternative
		u, p          float64
		exact         bool
		shift, lo, hi float64
		checkInterval bool
	}{
		{"depression greater (R: W=35, p=0.1272)", depX, depY, Greater, 35, 0.1272061272, true, 0.305, -0.15, 0.76, true},
		{"depression two-sided", depX, depY, TwoSided, 35, 0.2544122544, true, 0.305, -0.15, 0.76, true},
		{"depression less", depX, depY, Less, 35, 0.8967698968, true, 0.305, -0.15, 0.76, true},
		{"shifted greater", shX, shY, Greater, 41, 0.001165501166, true, 15, 5, 27, true},
		{"shifted two-sided", shX, shY, TwoSided, 41, 0.002331002331, true, 15, 5, 27, true},
		{"tied, normal approximation greater", NewSample(tieX...), NewSample(tieY...), Greater, 2268, 0.006101685213, false, 0, 0, 0, false},
		{"tied, normal approximation two-sided", NewSample(tieX...), NewSample(tieY...), TwoSided, 2268, 0.01220337043, false, 0, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := MannWhitneyTest(tc.x, tc.y, tc.alt, 0.95)
			if err != nil {
				t.Fatal(err)
			}
			if r.U != tc.u || r.Exact != tc.exact || !near(r.P, tc.p, 1e-8) {
				t.Errorf("U %g exact %v p %.10g; want U %g exact %v p %.10g", r.U, r.Exact, r.P, tc.u, tc.exact, tc.p)
			}
			if tc.checkInterval && (!near(r.Shift, tc.shift, 1e-9) || !near(r.Lo, tc.lo, 1e-9) || !near(r.Hi, tc.hi, 1e-9)) {
				t.Errorf("shift %g [%g, %g]; want %g [%g, %g]", r.Shift, r.Lo, r.Hi, tc.shift, tc.lo, tc.hi)
			}
		})
	}
}

// TestMannWhitneyLargeInterval checks the large-sample interval and the
// estimate against the order statistics of every difference, sorted by
// brute force, on weighted samples such as two latency histograms.
func TestMannWhitneyLargeInterval(t *testing.T) {
	var x, y Sample
	var raw []float64
	var rawX, rawY []float64
	for v := 1.0; v <= 40; v++ {
		cx, cy := math.Mod(v*7, 5)+1, math.Mod(v*3, 4)+1
		x.Add(v+6, cx)
		y.Add(v, cy)
		for range int(cx) {
			rawX = append(rawX, v+6)
		}
		for range int(cy) {
			rawY = append(rawY, v)
		}
	}
	for _, a := range rawX {
		for _, b := range rawY {
			raw = append(raw, a-b)
		}
	}
	sort.Float64s(raw)
	r, err := MannWhitneyTest(x, y, Greater, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	n := float64(len(raw))
	k := math.Floor(n/2 - 1.959963984540054*math.Sqrt(n*(x.N()+y.N()+1)/12))
	median := raw[len(raw)/2]
	if len(raw)%2 == 0 {
		median = (raw[len(raw)/2-1] + raw[len(raw)/2]) / 2
	}
	if r.Exact || r.Shift != median || r.Lo != raw[int(k)-1] || r.Hi != raw[int(n-k)] {
		t.Errorf("shift %g [%g, %g] exact %v; want %g [%g, %g] from the sorted differences", r.Shift, r.Lo, r.Hi, r.Exact, median, raw[int(k)-1], raw[int(n-k)])
	}
	if r.P > 1e-3 || r.Lo <= 0 {
		t.Errorf("a shift of 6 over 40 levels: p %g, interval [%g, %g]; want p tiny and the interval above 0", r.P, r.Lo, r.Hi)
	}
	same, _ := MannWhitneyTest(x, x, Greater, 0.95)
	if same.P < 0.4 || same.Shift != 0 || same.Lo > 0 || same.Hi < 0 {
		t.Errorf("a sample against itself: p %g shift %g [%g, %g]", same.P, same.Shift, same.Lo, same.Hi)
	}
}

func TestMannWhitneyBadInput(t *testing.T) {
	if _, err := MannWhitneyTest(Sample{}, NewSample(1), Greater, 0.95); err == nil {
		t.Error("empty sample: no error")
	}
	if _, err := MannWhitneyTest(NewSample(1), NewSample(1), Greater, 1.5); err == nil {
		t.Error("level 1.5: no error")
	}
	r, err := MannWhitneyTest(NewSample(5, 5, 5), NewSample(5, 5), TwoSided, 0.95)
	if err != nil || r.P != 1 || r.Shift != 0 {
		t.Errorf("all equal: %+v, %v; want p 1, shift 0", r, err)
	}
}

func TestFisherReference(t *testing.T) {
	tests := []struct {
		name       string
		a, b, c, d int
		alt        Alternative
		p          float64
	}{
		{"TeaTasting greater (R: 0.2429)", 3, 1, 1, 3, Greater, 0.2428571429},
		{"TeaTasting two-sided (R: 0.4857)", 3, 1, 1, 3, TwoSided, 0.4857142857},
		{"TeaTasting less", 3, 1, 1, 3, Less, 0.9857142857},
		{"errors greater", 12, 988, 2, 998, Greater, 0.006320515298},
		{"errors two-sided", 12, 988, 2, 998, TwoSided, 0.0126410306},
		{"errors less", 12, 988, 2, 998, Less, 0.9991147157},
	}
	for _, tc := range tests {
		if p := FisherExact(tc.a, tc.b, tc.c, tc.d, tc.alt); !near(p, tc.p, 1e-8) {
			t.Errorf("%s: p %.10g, want %.10g", tc.name, p, tc.p)
		}
	}
}

func TestProportionTest(t *testing.T) {
	// z by hand: p1 = 0.06, p2 = 0.04, pooled 0.05, se = √(0.05·0.95·(2/2000))
	// = 0.0068920244, z = 2.9019050; one-sided p = 1 − Φ(2.9019050).
	r, err := ProportionTest(120, 2000, 80, 2000, Greater, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if r.Test != "two-proportion-z" || !near(r.Z, 2.901905, 1e-6) || !near(r.P, 0.001854, 1e-3) || !near(r.Diff, 0.02, 1e-12) {
		t.Errorf("z test: %+v; want z 2.901905, p 0.001854", r)
	}
	f, _ := ProportionTest(6, 500, 0, 500, Greater, 0.95)
	if f.Test != "fisher-exact" || !near(f.P, 0.0153910961, 1e-8) {
		t.Errorf("small counts: %+v; want Fisher p 0.0153910961", f)
	}
	z, _ := ProportionTest(0, 1000, 0, 1000, Greater, 0.95)
	if z.P != 1 {
		t.Errorf("no failures on either side: p %g, want 1", z.P)
	}
	if _, err := ProportionTest(5, 3, 0, 10, Greater, 0.95); err == nil {
		t.Error("5 of 3: no error")
	}
}

func TestPoissonRates(t *testing.T) {
	ratio, p, err := PoissonRates(9, 60, 2, 60, Greater)
	if err != nil || ratio != 4.5 || !near(p, 0.03271484375, 1e-9) {
		t.Errorf("9 vs 2 events: ratio %g p %.10g err %v; want 4.5, 0.03271484375", ratio, p, err)
	}
	if _, p, _ := PoissonRates(9, 60, 2, 60, Less); !near(p, 0.994140625, 1e-9) {
		t.Errorf("less: p %.10g, want 0.994140625", p)
	}
	if _, p, _ := PoissonRates(0, 1, 0, 1, Greater); p != 1 {
		t.Errorf("no events: p %g, want 1", p)
	}
	if _, _, err := PoissonRates(1, 0, 1, 1, Greater); err == nil {
		t.Error("exposure 0: no error")
	}
}

func TestSampleQuantile(t *testing.T) {
	s := NewSample(5, 1, 3, 3, 2)
	if s.N() != 5 || s.Quantile(0.5) != 3 || s.Quantile(1) != 5 || s.Quantile(0) != 1 || s.Mean() != 2.8 {
		t.Errorf("sample %+v: n %g median %g max %g min %g mean %g", s, s.N(), s.Quantile(0.5), s.Quantile(1), s.Quantile(0), s.Mean())
	}
}
