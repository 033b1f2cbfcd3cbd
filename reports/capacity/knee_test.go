package capacity

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestFindKnee(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	noisy := func(v float64) float64 { return v * (1 + 0.02*rng.NormFloat64()) }
	tests := []struct {
		name    string
		offered []float64
		knee    float64 // the truth: throughput min(r, knee)
		found   bool
	}{
		{"ramp past the knee", []float64{20, 30, 45, 68, 101, 152, 228, 342}, 200, true},
		{"one point past", []float64{50, 100, 150, 190, 260}, 200, true},
		{"all below", []float64{20, 40, 80, 120}, 200, false},
		{"refined near the knee", []float64{20, 45, 101, 152, 190, 209, 228}, 200, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := make([]float64, len(tc.offered))
			for i, r := range tc.offered {
				x[i] = noisy(min(r, tc.knee))
			}
			k := FindKnee(tc.offered, x)
			if k.Found != tc.found {
				t.Fatalf("found %v, want %v (knee %v)", k.Found, tc.found, k.Throughput)
			}
			want := tc.knee
			if !tc.found {
				want = tc.offered[len(tc.offered)-1]
			}
			if math.Abs(k.Throughput-want)/want > 0.05 {
				t.Errorf("knee %.1f, want %.1f ± 5%%", k.Throughput, want)
			}
		})
	}
}
