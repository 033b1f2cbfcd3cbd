package xds

import (
	"strings"
	"testing"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

func TestBuildLoadBalancer(t *testing.T) {
	w := World{LoadBalancers: []LoadBalancer{{
		NodeID: "loadbalancer/app/web/1", Name: "web",
		Listeners: []LBListener{{Port: 80, Rules: []LBRule{
			{Name: "api", Paths: []string{"/api/*", "/v?/x"}, Hosts: []string{"*.example.com"}, Targets: []LBWeight{{"blue", 90}, {"green", 10}}},
			{Name: "canary", Headers: []LBHeader{{Name: "X-Canary", Values: []string{"yes"}}}, Targets: []LBWeight{{"blue", 0}, {"green", 1}}},
			{Name: "teapot", Methods: []string{"BREW"}, FixedStatus: 418, FixedBody: "short and stout"},
			{Name: "default", Targets: []LBWeight{{"blue", 1}}},
		}}},
		TargetGroups: []TargetGroup{
			{Name: "blue", Targets: []LBTarget{{Address: "127.0.1.2", Port: 8080, Weight: 100}, {Address: "127.0.1.3", Port: 8080, Weight: 25}}},
			{Name: "green"},
		},
	}}}
	res, err := Build(w)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := res["loadbalancer/app/web/1"]
	if !ok || len(r.Listeners) != 1 || len(r.Routes) != 1 || len(r.Clusters) != 2 || len(r.Endpoints) != 2 {
		t.Fatalf("resources %+v", r)
	}
	routes := r.Routes[0].GetVirtualHosts()[0].GetRoutes()
	api := routes[0]
	if re := api.GetMatch().GetSafeRegex().GetRegex(); re != `(?:/api/.*|/v./x)` {
		t.Errorf("path regex %q", re)
	}
	if h := api.GetMatch().GetHeaders()[0]; h.GetName() != ":authority" || !strings.HasPrefix(h.GetStringMatch().GetSafeRegex().GetRegex(), `(?i)(?:.*\.example\.com)`) {
		t.Errorf("host match %v", h)
	}
	if wc := api.GetRoute().GetWeightedClusters().GetClusters(); len(wc) != 2 || wc[1].GetName() != "cds_tg_green" || wc[1].GetWeight().GetValue() != 10 {
		t.Errorf("weighted clusters %v", wc)
	}
	if c := routes[1].GetRoute().GetCluster(); c != "cds_tg_green" {
		t.Errorf("a zero weight leaves one cluster: %q", c)
	}
	if d := routes[2].GetDirectResponse(); d.GetStatus() != 418 || routes[2].GetMatch().GetHeaders()[0].GetName() != ":method" {
		t.Errorf("fixed response %v", routes[2])
	}
	if _, ok := routes[3].GetMatch().GetPathSpecifier().(*route.RouteMatch_Prefix); !ok {
		t.Errorf("default rule match %v", routes[3].GetMatch())
	}
	eps := r.Endpoints[0].GetEndpoints()[0].GetLbEndpoints()
	if len(eps) != 2 || eps[1].GetLoadBalancingWeight().GetValue() != 25 || len(r.Endpoints[1].GetEndpoints()) != 0 {
		t.Errorf("endpoints %v / %v", r.Endpoints[0], r.Endpoints[1])
	}

	bad := w
	bad.LoadBalancers = []LoadBalancer{{NodeID: "loadbalancer/app/x/1", Name: "x", Listeners: []LBListener{{Port: 80, Rules: []LBRule{{Name: "r", Targets: []LBWeight{{"nope", 1}}}}}}}}
	if _, err := Build(bad); err == nil || !strings.Contains(err.Error(), `target group "nope" is not listed`) {
		t.Errorf("unknown target group: %v", err)
	}
}
