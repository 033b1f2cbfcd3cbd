package xds

import (
	"fmt"
	"slices"
	"testing"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

func TestComposedPrefixes(t *testing.T) {
	strip, v2 := "/", "/v2/"
	for _, tc := range []struct {
		p       string
		rewrite *string
		pr      string
		want    []string
	}{
		{"/movies/", &strip, "/x/", []string{"/movies/x/"}},
		{"/movies", &strip, "/x/", []string{"/movies/x/", "/moviesx/"}},
		{"/", &strip, "/x/", []string{"/x/"}},
		{"/movies/", nil, "/movies/x", []string{"/movies/x"}},
		{"/movies/", nil, "/mov", []string{"/movies/"}},
		{"/movies/", nil, "/other", nil},
		{"/a/", &v2, "/v2/b", []string{"/a/b"}},
		{"/a/", &v2, "/v", []string{"/a/"}},
		{"/a/", &v2, "/v3", nil},
	} {
		got := composedPrefixes(tc.p, tc.rewrite, tc.pr)
		if !slices.Equal(got, tc.want) {
			t.Errorf("composedPrefixes(%q, %v, %q) = %q, want %q", tc.p, tc.rewrite, tc.pr, got, tc.want)
		}
	}
}

// A virtual gateway becomes a node of its own (mesh/M/virtualGateway/G):
// an outbound listener on its port, gateway routes in priority order, each
// composed with its target's routes, rewrites as regex_rewrite and
// host_rewrite_literal, and the clusters of the nodes it reaches.
func TestBuildGateway(t *testing.T) {
	strip := "/"
	one := 1
	w := World{Meshes: []Mesh{{
		Name: "m",
		VirtualNodes: []VirtualNode{
			{Name: "a-v1", Listeners: []Listener{{Port: 80, Protocol: HTTP}}, Endpoints: []Endpoint{{Address: "127.0.0.2"}}},
			{Name: "a-v2", Listeners: []Listener{{Port: 80, Protocol: HTTP}}},
			{Name: "b", Listeners: []Listener{{Port: 80, Protocol: HTTP}}},
		},
		VirtualServices: []VirtualService{{Name: "a.local", ProviderRouter: "a-router"}, {Name: "b.local", ProviderNode: "b"}},
		VirtualRouters: []VirtualRouter{{Name: "a-router", Listeners: []Listener{{Port: 80, Protocol: HTTP}}, Routes: []Route{
			{Name: "all", Protocol: HTTP, Prefix: "/", Targets: []WeightedTarget{{VirtualNode: "a-v1", Weight: 90}, {VirtualNode: "a-v2", Weight: 10}}},
			{Name: "api", Protocol: HTTP, Prefix: "/api/", Priority: &one, Targets: []WeightedTarget{{VirtualNode: "a-v2", Weight: 1}}},
		}}},
		VirtualGateways: []VirtualGateway{{Name: "gw", Listeners: []Listener{{Port: 8080, Protocol: HTTP}}, Routes: []GatewayRoute{
			{Name: "to-a", Protocol: HTTP, Prefix: "/a/", PrefixRewrite: &strip, VirtualService: "a.local", RewriteHostname: true},
			{Name: "to-b", Protocol: HTTP, Priority: &one, PathExact: "/b", PathRewrite: "/", VirtualService: "b.local"},
			{Name: "grpc", Protocol: GRPC, VirtualService: "b.local"}, // not the listener's protocol
			{Name: "gone", Protocol: HTTP, Prefix: "/", VirtualService: "none.local"},
		}}},
	}}}
	res, err := Build(w)
	if err != nil {
		t.Fatal(err)
	}
	gw, ok := res["mesh/m/virtualGateway/gw"]
	if !ok {
		t.Fatalf("no resources for the gateway's node id; have %v", slices.Sorted(func(yield func(string) bool) {
			for k := range res {
				if !yield(k) {
					return
				}
			}
		}))
	}
	if len(gw.Listeners) != 1 || gw.Listeners[0].GetName() != "lds_ingress_0.0.0.0_8080" || gw.Listeners[0].GetTrafficDirection().String() != "OUTBOUND" {
		t.Fatalf("listeners = %v", gw.Listeners)
	}
	var names []string
	var routes []*route.Route
	for _, r := range gw.Routes[0].GetVirtualHosts()[0].GetRoutes() {
		names = append(names, r.GetName())
		routes = append(routes, r)
	}
	if want := []string{"to-b", "to-a/api", "to-a/all"}; !slices.Equal(names, want) {
		t.Fatalf("routes = %v, want %v (priority first, each composed with the router's routes in their order)", names, want)
	}
	for i, want := range []string{"path:/b rewrite:^.*$=>/ host:", "prefix:/a/api/ rewrite:^/a/?=>/ host:a.local", "prefix:/a/ rewrite:^/a/?=>/ host:a.local"} {
		r := routes[i]
		got := fmt.Sprintf("path:%s rewrite:%s=>%s host:%s", r.GetMatch().GetPath(), r.GetRoute().GetRegexRewrite().GetPattern().GetRegex(),
			r.GetRoute().GetRegexRewrite().GetSubstitution(), r.GetRoute().GetHostRewriteLiteral())
		if r.GetMatch().GetPath() == "" {
			got = fmt.Sprintf("prefix:%s rewrite:%s=>%s host:%s", r.GetMatch().GetPrefix(), r.GetRoute().GetRegexRewrite().GetPattern().GetRegex(),
				r.GetRoute().GetRegexRewrite().GetSubstitution(), r.GetRoute().GetHostRewriteLiteral())
		}
		if got != want {
			t.Errorf("route %s: %s, want %s", r.GetName(), got, want)
		}
	}
	var clusters []string
	for _, c := range gw.Clusters {
		clusters = append(clusters, c.GetName())
	}
	if want := []string{ClusterName("m", "a-v1"), ClusterName("m", "a-v2"), ClusterName("m", "b")}; !slices.Equal(clusters, want) {
		t.Errorf("clusters = %v, want %v", clusters, want)
	}
	if len(gw.Endpoints) != 3 || len(gw.Endpoints[0].GetEndpoints()) != 1 {
		t.Errorf("endpoints = %v", gw.Endpoints)
	}

	w.Meshes[0].VirtualGateways[0].Listeners[0].Protocol = TCP
	if _, err := Build(w); err == nil {
		t.Error("Build of a tcp gateway listener: no error")
	}
}
