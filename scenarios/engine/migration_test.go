package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/scenarios"
)

// TestMigrationAppMeshToServiceConnect runs the migration rehearsal with
// short steps: both stacks serve, the load moves from the App Mesh
// ingress to the Service Connect one by the steps' weights, and the chain
// of services shows which stack served each request.
func TestMigrationAppMeshToServiceConnect(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	sc, err := scenarios.Builtin("appmesh-to-service-connect")
	if err != nil {
		t.Fatal(err)
	}
	// A third of the scenario's rate, and 10 s for a request that a host
	// busy with other work stalls: the test judges the stacks and the
	// split, not the host's latency.
	sc.Load.Rate, sc.Load.Timeout = 100, 10*time.Second
	for i := range sc.Rollout.Steps {
		sc.Rollout.Steps[i].Bake = 2 * time.Second
	}
	sc.Asserts = []scenarios.Assertion{{Kind: "no-failed-requests"}, {Kind: "weight-binomial", Value: 4}}
	run, rep := runScenario(t, sc)
	if !rep.Passed() {
		t.Errorf("assertions: %+v", rep.Assertions)
	}
	// The App Mesh stack's chain starts at home (its ingress is a proxy);
	// the twin's at its ingress service, and every service in it is a twin.
	stacks := map[string]int{}
	for _, o := range run.Observations {
		switch {
		case strings.HasPrefix(o.Chain, "home/appmesh/") && strings.Contains(o.Chain, ",movie/appmesh/"):
			stacks["appmesh"]++
		case strings.HasPrefix(o.Chain, "ingress-sc/v1/") && strings.Contains(o.Chain, ",home/serviceconnect/") && strings.Contains(o.Chain, ",movie/serviceconnect/"):
			stacks["serviceconnect"]++
		default:
			stacks["neither: "+o.Chain]++
		}
	}
	// The weights give each stack half of the run (100, 50, 0 and back):
	// each served at least a quarter, of at least a quarter of the requests
	// planned. The per-step split is the weight-binomial assertion's.
	total := stacks["appmesh"] + stacks["serviceconnect"]
	if len(stacks) != 2 || total < 150 || 4*stacks["appmesh"] < total || 4*stacks["serviceconnect"] < total {
		t.Errorf("requests per stack %v", stacks)
	}
}
