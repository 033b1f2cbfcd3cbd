package engine_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/scenarios/engine"
)

// TestRoute53WeightedBlueGreen runs the built-in DNS blue/green, shortened
// (time scale 30: the 60 s TTL lasts 2 s; 6 s steps; 100 clients at 200
// requests per second, 1,200 a step, so that a window of the observed
// split is half a TTL): the weights are changed with
// ChangeResourceRecordSets through the SDK, the clients resolve through the
// Route 53 fake's name server and cache for the TTL, and the split the
// tasks observe lags each change by about the TTL, then converges.
func TestRoute53WeightedBlueGreen(t *testing.T) {
	if testing.Short() {
		t.Skip("an end-to-end run of about 25 s")
	}
	sc, err := scenarios.Builtin("route53-weighted-blue-green")
	if err != nil {
		t.Fatal(err)
	}
	sc.TimeScale = 30
	sc.DNS.Clients = 100
	sc.Load.Rate = 200
	for i := range sc.Rollout.Steps {
		sc.Rollout.Steps[i].Bake = 6 * time.Second
	}
	run, rep := runScenario(t, sc)
	if rep.Run.Totals.Failed > 0 {
		t.Errorf("%d of %d requests failed: %v", rep.Run.Totals.Failed, rep.Run.Totals.Requests, rep.Steps)
	}
	ttlWall := time.Duration(float64(sc.DNS.TTL) / sc.TimeScale)
	if rep.DNS == nil || rep.DNS.TTL != time.Minute || rep.DNS.TTLWall != ttlWall || len(rep.DNS.Lags) != 2 {
		t.Fatalf("report DNS = %+v, want the TTL and two lags", rep.DNS)
	}
	if c := rep.Steps[0].Convergence; c.Basis != reports.ConvergedAtStart {
		t.Errorf("step 1's records were in place before the load: convergence %+v", c)
	}
	for _, l := range rep.DNS.Lags {
		// The change propagates (10 s of AWS time), then each client's
		// cached answer expires within the TTL and its connection within
		// its 15 s lifetime: 90% of the change shows after about a TTL.
		if !l.Converged || l.TTLs < 0.3 || l.TTLs > 2.5 {
			t.Errorf("step %q: lag %+v, want 90%% of the change within 0.3-2.5 TTLs", l.Name, l)
		}
	}
	// Just after each change (before it has propagated) the clients still
	// hold the old answers: blue keeps its previous share, within 4σ of
	// the requests sent then (about 50), far above its new one.
	for i, old := range map[int]float64{1: 90, 2: 50} {
		s := rep.Steps[i]
		early, n := share(run, s.Index, "blue", s.Start, s.Start.Add(ttlWall/8))
		p := old / 100
		if tol := 100 * 4 * math.Sqrt(p*(1-p)/float64(max(n, 1))); n < 10 || early < old-tol {
			t.Errorf("step %q: blue had %.1f%% of %d requests in the first eighth of a TTL after the change, want the previous %g%% within %.1f pp (the clients' caches lag)", s.Name, early, n, old, tol)
		}
	}
	// Each client caches one weighted answer for a TTL, so the split is a
	// draw over the clients, not over the requests: 4σ of a binomial over
	// them (20 pp at 50/50 with 100 clients, 12 pp at 90/10), and at least
	// the 8 pp that the last clients' expiring answers may leave.
	for _, s := range rep.Steps {
		for _, v := range s.Versions {
			p := v.ConfiguredPct / 100
			if tol := max(8, 100*4*math.Sqrt(p*(1-p)/float64(sc.DNS.Clients))); v.ErrorPP > tol {
				t.Errorf("step %q: after convergence %s is off by %.1f pp, more than 4σ over %d clients (%.1f pp): %+v", s.Name, v.Version, v.ErrorPP, sc.DNS.Clients, tol, s.Versions)
			}
		}
	}
	t.Logf("wall time %s, %d requests, %d failed; lags: %+v", rep.Run.WallTime, rep.Run.Totals.Requests, rep.Run.Totals.Failed, rep.DNS.Lags)
}

// share is version's share (percent) of the n requests of step scheduled
// in [from, to) that reached a version.
func share(run *rundir.Run, step int, version string, from, to time.Time) (pct float64, n int) {
	var v int
	for _, o := range run.Observations {
		if o.Step != step || o.Version == "" || o.Scheduled.Before(from) || !o.Scheduled.Before(to) {
			continue
		}
		n++
		if o.Version == version {
			v++
		}
	}
	if n == 0 {
		return 0, 0
	}
	return 100 * float64(v) / float64(n), n
}

// TestRoute53NeedsTheNameServer: without the world's name server (an
// external endpoint, the docker runtime) a route53 run is refused up front.
func TestRoute53NeedsTheNameServer(t *testing.T) {
	sc, err := scenarios.Builtin("route53-weighted-blue-green")
	if err != nil {
		t.Fatal(err)
	}
	err = engine.CheckDNS(sc, "")
	if err == nil || !strings.Contains(err.Error(), "name server") {
		t.Errorf("CheckDNS without an address: %v", err)
	}
	if err := engine.CheckDNS(sc, "127.0.0.1:53"); err != nil {
		t.Errorf("CheckDNS: %v", err)
	}
}
