// Package reportstest helps end-to-end tests of a rehearsal read its run
// directory and check its report.
package reportstest

import (
	"math"
	"testing"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
)

// Report reads the run directory dir, analyzes it and writes its report
// files there, failing t at once on an error.
func Report(t testing.TB, dir string) (*rundir.Run, *reports.Report) {
	t.Helper()
	run, err := rundir.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	rep := reports.Analyze(run)
	if err := reports.WriteFiles(dir, rep); err != nil {
		t.Fatal(err)
	}
	return run, rep
}

// CheckCleanSplit fails t unless run is complete, every request in it
// succeeded (as counted from the raw observations), and, per step of rep,
// at least minRequests were sent and judged and the share each version
// served is within sigmas binomial standard errors of its weight. The
// shares are judged on the requests sent after the proxies acknowledged the
// step's route (the report's convergence).
func CheckCleanSplit(t testing.TB, run *rundir.Run, rep *reports.Report, minRequests int, sigmas float64) {
	t.Helper()
	if run.Meta.Partial {
		t.Errorf("run is partial: %s", run.Meta.Reason)
	}
	perStep := make(map[int]int)
	for _, o := range run.Observations {
		perStep[o.Step]++
		if !o.OK() {
			t.Errorf("step %d: failed request: status %d %s (%s)", o.Step, o.Status, o.Error, o.ErrorKind)
		}
	}
	for i, st := range rep.Steps {
		if perStep[i] < minRequests || st.ShareRequests < minRequests {
			t.Errorf("step %d: %d requests, %d judged; want at least %d", i, perStep[i], st.ShareRequests, minRequests)
			continue
		}
		for _, v := range st.Versions {
			p := v.ConfiguredPct / 100
			tol := 100 * sigmas * math.Sqrt(p*(1-p)/float64(st.ShareRequests))
			if math.Abs(v.ObservedPct-v.ConfiguredPct) > tol {
				t.Errorf("step %d (%s): %s served %.2f%%, weight %.0f%% (tolerance %.2f points)", i, st.Name, v.Version, v.ObservedPct, v.ConfiguredPct, tol)
			}
		}
	}
}

// Within3Sigma reports whether k of n is within three standard deviations of
// a binomial's mean for the share p, and the deviation and tolerance.
func Within3Sigma(k, n int, p float64) (ok bool, dev, tol float64) {
	dev = math.Abs(float64(k) - float64(n)*p)
	tol = 3 * math.Sqrt(float64(n)*p*(1-p))
	return dev <= tol, dev, tol
}

// CheckAttributedHalf checks a run of two steps, 100/0 then 50/50: every answered
// request attributed by the ingress proxy (the application names no
// version), and the report's shares per step (which leave out the
// requests either step's weights may have routed) v1 only, then 50/50
// within 3σ. It returns the shares.
func CheckAttributedHalf(t testing.TB, run *rundir.Run, rep *reports.Report) [2]map[string]int {
	t.Helper()
	for _, o := range run.Observations {
		if o.IsRequest() && o.OK() && (o.Endpoint == "" || o.Chain != "" || o.Version == "") {
			t.Fatalf("observation %+v: want an endpoint and a version from the proxy, no chain from the application", o)
		}
	}
	if len(rep.Steps) != 2 {
		t.Fatalf("%d steps in the report, want 2", len(rep.Steps))
	}
	var split [2]map[string]int
	for i, st := range rep.Steps {
		split[i] = map[string]int{}
		for _, v := range st.Versions {
			split[i][v.Version] = v.Requests
		}
	}
	if split[0]["v1"] == 0 || split[0]["v2"] != 0 {
		t.Errorf("100/0: requests per version %v, want v1 only", split[0])
	}
	n := split[1]["v1"] + split[1]["v2"]
	if split[1]["v1"] == 0 || split[1]["v2"] == 0 {
		t.Fatalf("50/50: requests per version %v, want v1 and v2", split[1])
	}
	if ok, dev, tol := Within3Sigma(split[1]["v2"], n, 0.5); !ok {
		t.Errorf("50/50: v2 served %d of %d, %.1f from the mean, over 3σ (%.1f)", split[1]["v2"], n, dev, tol)
	}
	return split
}
