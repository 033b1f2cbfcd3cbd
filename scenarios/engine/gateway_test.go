package engine_test

import (
	"testing"
	"time"

	"github.com/meshsim/meshsim/reports/reportstest"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/sim/contract"
)

// TestAppMeshGatewayCanary rehearses the built-in appmesh-gateway-canary on
// the inproc runtime: the ingress is an App Mesh virtual gateway (the
// embedded sidecar in the gateway role, node id
// mesh/<mesh>/virtualGateway/<name>), the load goes to its port, and its
// gateway route sends it through the movie virtual service's router; per
// step the split follows the route's weights, and the gateway's proxy ACKed
// its configuration.
func TestAppMeshGatewayCanary(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rehearsal; skipped with -short")
	}
	sc, err := scenarios.Builtin("appmesh-gateway-canary")
	if err != nil {
		t.Fatal(err)
	}
	if gw := sc.Ingress.VirtualGateway; gw == nil || gw.Port != 8088 || len(gw.Routes) != 1 || gw.Routes[0].Prefix != "/movies/" {
		t.Fatalf("ingress = %+v", sc.Ingress)
	}
	sc.Load.Rate, sc.Load.Timeout = 100, 10*time.Second
	for i := range sc.Rollout.Steps {
		sc.Rollout.Steps[i].Bake = 4 * time.Second
	}
	sc.Asserts = []scenarios.Assertion{{Kind: "no-failed-requests"}, {Kind: "weight-binomial", Value: 4}}
	run, rep := runScenario(t, sc)

	reportstest.CheckCleanSplit(t, run, rep, 60, 4)
	if !rep.Passed() {
		t.Error("report assertions failed")
		for _, a := range rep.Assertions {
			t.Logf("assertion %+v", a)
		}
	}
	gatewayNode := contract.GatewayNodeID(sc.Mesh, sc.Ingress.Name)
	var acked, created bool
	for _, e := range run.Events {
		acked = acked || (e.Type == contract.EventXDSAck && e.Resource == gatewayNode)
		created = created || (e.Type == "gatewayRoute.created" && e.Detail["virtualGateway"] == sc.Ingress.Name)
	}
	if !acked {
		t.Errorf("no xds.ack from the gateway's proxy (%s)", gatewayNode)
	}
	if !created {
		t.Error("no gatewayRoute.created event: the engine did not create the gateway route through the App Mesh API")
	}
}
