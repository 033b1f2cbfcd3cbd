package xds

import (
	"context"
	"slices"
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/meshsim/meshsim/sim/contract"
)

// proxylessWorld: "web" calls the gRPC service echo.demo.local, routed by
// weight to echo-v1 and echo-v2.
func proxylessWorld(w1, w2 uint32) World {
	grpc := []Listener{{Port: 8080, Protocol: GRPC}}
	return World{Meshes: []Mesh{{
		Name: "demo",
		VirtualNodes: []VirtualNode{
			{Name: "web", Listeners: []Listener{{Port: 80, Protocol: HTTP}}, Backends: []string{"echo.demo.local"}},
			{Name: "echo-v1", Listeners: grpc, Endpoints: []Endpoint{{InstanceID: "a", Address: "127.0.5.1", Port: 8080}}},
			{Name: "echo-v2", Listeners: grpc, Endpoints: []Endpoint{{InstanceID: "b", Address: "127.0.5.2", Port: 8080}}},
		},
		VirtualServices: []VirtualService{{Name: "echo.demo.local", ProviderRouter: "echo-router"}},
		VirtualRouters: []VirtualRouter{{Name: "echo-router", Listeners: grpc, Routes: []Route{{
			Name: "r", Protocol: GRPC,
			Targets: []WeightedTarget{{VirtualNode: "echo-v1", Weight: w1}, {VirtualNode: "echo-v2", Weight: w2}},
		}}}},
	}}}
}

func TestProxylessResources(t *testing.T) {
	res, err := Build(proxylessWorld(90, 10))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ProxylessResources(res[contract.NodeID("demo", "web")])
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range p.Listeners {
		names = append(names, l.GetName())
		if l.GetAddress() != nil || len(l.GetFilterChains()) > 0 {
			t.Errorf("listener %s has a socket", l.GetName())
		}
		var mgr hcm.HttpConnectionManager
		if err := l.GetApiListener().GetApiListener().UnmarshalTo(&mgr); err != nil {
			t.Fatalf("listener %s: %v", l.GetName(), err)
		}
		if mgr.GetRds().GetRouteConfigName() != EgressRouteName || mgr.GetRds().GetConfigSource().GetAds() == nil {
			t.Errorf("listener %s routes by %v", l.GetName(), mgr.GetRds())
		}
	}
	slices.Sort(names)
	if want := []string{"echo.demo.local", "echo.demo.local:8080"}; !slices.Equal(names, want) {
		t.Errorf("API listeners %v, want %v", names, want)
	}
	if len(p.Routes) != 1 || p.Routes[0].GetName() != EgressRouteName {
		t.Errorf("routes %v", p.Routes)
	}
	var clusters []string
	for _, c := range p.Clusters {
		clusters = append(clusters, c.GetName())
		if c.GetType() != cluster.Cluster_EDS {
			t.Errorf("cluster %s is %v: gRPC rejects all but EDS", c.GetName(), c.GetType())
		}
	}
	if want := []string{ClusterName("demo", "echo-v1"), ClusterName("demo", "echo-v2")}; !slices.Equal(clusters, want) || len(p.Endpoints) != 2 {
		t.Errorf("clusters %v (want %v), %d endpoints", clusters, want, len(p.Endpoints))
	}
	// A node without backends has nothing for proxyless clients.
	empty, err := ProxylessResources(res[contract.NodeID("demo", "echo-v1")])
	if err != nil || len(empty.Listeners)+len(empty.Clusters)+len(empty.Endpoints) != 0 {
		t.Errorf("proxyless resources of a node without backends: %+v, %v", empty, err)
	}
}

func TestNodeHashProxyless(t *testing.T) {
	id := contract.NodeID("demo", "web")
	for _, tt := range []struct {
		node *core.Node
		want string
	}{
		{&core.Node{Id: id, UserAgentName: "gRPC Go"}, id + "#proxyless"},
		{&core.Node{Id: "arn:aws:appmesh:us-east-1:000000000000:" + id, UserAgentName: "gRPC Java"}, id + "#proxyless"},
		{&core.Node{Id: id, UserAgentName: "meshsim-sidecar"}, id},
		{&core.Node{Id: id, UserAgentName: "envoy"}, id},
	} {
		if got := (NodeHash{}).ID(tt.node); got != tt.want {
			t.Errorf("ID(%v) = %q, want %q", tt.node, got, tt.want)
		}
	}
}

// TestServerProxylessSnapshots checks that a proxyless client's snapshot
// exists only once such a client asked, follows Update, and empties when
// the node goes away.
func TestServerProxylessSnapshots(t *testing.T) {
	s := NewServer(Options{})
	ctx := context.Background()
	if err := s.Update(ctx, proxylessWorld(90, 10)); err != nil {
		t.Fatal(err)
	}
	key := ProxylessKey(contract.NodeID("demo", "web"))
	if _, err := s.cache.GetSnapshot(key); err == nil {
		t.Fatal("a proxyless snapshot before any proxyless client asked")
	}
	s.serveProxyless(&core.Node{Id: contract.NodeID("demo", "web"), UserAgentName: "gRPC Go"})
	snap, err := s.cache.GetSnapshot(key)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(snap.GetResources(resource.ListenerType)); n != 2 {
		t.Errorf("%d listeners for the proxyless client, want 2", n)
	}
	routeVersion := snap.GetVersion(resource.RouteType)

	if err := s.Update(ctx, proxylessWorld(10, 90)); err != nil {
		t.Fatal(err)
	}
	snap, _ = s.cache.GetSnapshot(key)
	if snap.GetVersion(resource.RouteType) == routeVersion {
		t.Error("a weight change did not reach the proxyless snapshot")
	}

	w := proxylessWorld(10, 90)
	w.Meshes[0].VirtualNodes = w.Meshes[0].VirtualNodes[1:] // web goes away
	if err := s.Update(ctx, w); err != nil {
		t.Fatal(err)
	}
	snap, err = s.cache.GetSnapshot(key)
	if err != nil || len(snap.GetResources(resource.ListenerType)) != 0 {
		t.Errorf("after the node went away: %v listeners, %v", len(snap.GetResources(resource.ListenerType)), err)
	}
	// A proxy's request creates nothing.
	s.serveProxyless(&core.Node{Id: contract.NodeID("demo", "echo-v1"), UserAgentName: "meshsim-sidecar"})
	if _, err := s.cache.GetSnapshot(ProxylessKey(contract.NodeID("demo", "echo-v1"))); err == nil {
		t.Error("a proxy's request made a proxyless snapshot")
	}
}
