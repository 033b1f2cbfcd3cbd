package capacity

import (
	"math"
	"math/rand/v2"
	"testing"
)

// ciscoN and ciscoX are the "Cisco" benchmark of Baron Schwartz's book
// Practical Scalability Analysis with the Universal Scalability Law, as
// published with the fits of codahale/usl (model_test.go) and
// codahale/usl4j (ModelTest.java), which list the book's fitted model:
// σ = 0.02671591, κ = 7.690945e-4, λ = 995.6486, N_max = 35, X_max ≈ 12341
// (usl4j asserts its fit within 0.02% of these).
var (
	ciscoN = []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}
	ciscoX = []float64{955.16, 1878.91, 2688.01, 3548.68, 4315.54, 5130.43, 5931.37, 6531.08, 7219.8, 7867.61,
		8278.71, 8646.7, 9047.84, 9426.55, 9645.37, 9897.24, 10097.6, 10240.5, 10532.39, 10798.52,
		11151.43, 11518.63, 11806, 12089.37, 12075.41, 12177.29, 12211.41, 12158.93, 12155.27, 12118.04, 12140.4, 12074.39}
)

func within(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)
}

func TestFitUSLBookReference(t *testing.T) {
	f, err := FitUSL(ciscoN, ciscoX)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"sigma", f.Sigma, 0.02671591},
		{"kappa", f.Kappa, 7.690945e-4},
		{"lambda", f.Lambda, 995.6486},
		{"N_max", f.MaxConcurrency(), 35},
		{"X_max", f.MaxThroughput(), 12341.745415132369},
	} {
		if !within(c.got, c.want, 2e-4) {
			t.Errorf("%s = %.8g, want %.8g within 0.02%% (the book's, via usl4j)", c.name, c.got, c.want)
		}
	}
	if f.R2 < 0.99 {
		t.Errorf("R² = %v on the book's data, want ≥ 0.99", f.R2)
	}
	if !(f.StdErr.Sigma > 0 && f.StdErr.Sigma < f.Sigma && f.StdErr.Lambda > 0) {
		t.Errorf("standard errors %+v: want positive, below the estimates", f.StdErr)
	}
}

// TestFitUSLSynthetic generates noisy points from known parameters and
// checks that the fit recovers them within tolerances that the noise
// allows.
func TestFitUSLSynthetic(t *testing.T) {
	tests := []struct {
		name  string
		truth USL
		n     []float64
		noise float64 // relative, Gaussian
		tol   [3]float64
	}{
		{"contention and coherency", USL{Sigma: 0.05, Kappa: 0.002, Lambda: 200}, seq(1, 40), 0.01, [3]float64{0.15, 0.15, 0.03}},
		{"contention only", USL{Sigma: 0.1, Kappa: 0, Lambda: 50}, seq(1, 30), 0.01, [3]float64{0.1, 0, 0.03}},
		{"tasks 1-8, near linear", USL{Sigma: 0.02, Kappa: 0.0005, Lambda: 200}, []float64{1, 2, 3, 4, 5, 6, 7, 8}, 0.002, [3]float64{0.3, 1.5, 0.01}},
		{"exact, no noise", USL{Sigma: 0.03, Kappa: 0.0001, Lambda: 1000}, seq(1, 64), 0, [3]float64{1e-4, 1e-3, 1e-5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 11))
			x := make([]float64, len(tc.n))
			for i, n := range tc.n {
				x[i] = tc.truth.Throughput(n) * (1 + tc.noise*rng.NormFloat64())
			}
			f, err := FitUSL(tc.n, x)
			if err != nil {
				t.Fatal(err)
			}
			got := [3]float64{f.Sigma, f.Kappa, f.Lambda}
			want := [3]float64{tc.truth.Sigma, tc.truth.Kappa, tc.truth.Lambda}
			for i, name := range []string{"sigma", "kappa", "lambda"} {
				if want[i] == 0 {
					if got[i] > 1e-3 {
						t.Errorf("%s = %g, want ≈ 0", name, got[i])
					}
					continue
				}
				if !within(got[i], want[i], tc.tol[i]) {
					t.Errorf("%s = %g, want %g within %g%%", name, got[i], want[i], 100*tc.tol[i])
				}
			}
			if f.R2 < 0.98 {
				t.Errorf("R² = %v, want ≥ 0.98", f.R2)
			}
		})
	}
}

func TestFitUSLErrors(t *testing.T) {
	if _, err := FitUSL([]float64{1, 2}, []float64{1, 2}); err != ErrTooFewPoints {
		t.Errorf("2 points: %v, want ErrTooFewPoints", err)
	}
	if _, err := FitUSL([]float64{1, 0, 3}, []float64{1, 2, 3}); err == nil {
		t.Error("N = 0 accepted")
	}
}

func seq(from, to int) []float64 {
	var s []float64
	for i := from; i <= to; i++ {
		s = append(s, float64(i))
	}
	return s
}
