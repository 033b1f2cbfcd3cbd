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
	if len(stacks) != 2 || stacks["appmesh"] < 500 || stacks["serviceconnect"] < 500 {
		t.Errorf("requests per stack %v", stacks)
	}
}
