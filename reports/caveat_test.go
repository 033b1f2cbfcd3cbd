package reports

import "testing"

// TestTightBoundCaveat: the chance that a correct split misses a bound
// under 3σ in one step or another combines the steps' chances (their
// samples are independent), counting each step once however many of its
// versions were noted.
func TestTightBoundCaveat(t *testing.T) {
	half := func(i int, n int) (StepReport, []VersionShare) {
		s := StepReport{Index: i, Name: "half", ShareRequests: n}
		return s, []VersionShare{{Version: "v1", ConfiguredPct: 50}, {Version: "v2", ConfiguredPct: 50}}
	}
	var tight tightBound
	for i, n := range []int{1000, 1000, 4000} {
		s, versions := half(i+1, n)
		for _, vs := range versions {
			if z, ok := boundInSigmas(3, s, vs); ok && z < toleranceZ {
				tight.consider(z, s, vs)
			}
		}
	}
	// 3 pp at n=1000 and 50% is 1.90σ: a miss in 5.8% of runs in each of
	// the two steps, 11.2% in one or the other; at n=4000 it is 3.8σ.
	want := `3 pp is only 1.9σ of the sampling noise in step 1 "half" version v1 (n=1000, σ = 1.58 pp at weight 50%): ` +
		"a correct split misses it there in about 6% of runs, and in one step or another in about 11%; " +
		"2500 requests in that step would make it 3σ, or assert weight-binomial"
	if got := tight.caveat(3); got != want {
		t.Errorf("caveat\n got %s\nwant %s", got, want)
	}
	if got := (tightBound{}).caveat(3); got != "" {
		t.Errorf("no bound under 3σ: caveat %q, want none", got)
	}
}
