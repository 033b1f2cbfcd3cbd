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
