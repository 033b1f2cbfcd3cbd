package sim

import (
	"errors"
	"testing"
	"time"

	"github.com/meshsim/meshsim/sim/appmesh"
	"github.com/meshsim/meshsim/sim/cloudmap"
	"github.com/meshsim/meshsim/sim/ecs"
	"github.com/meshsim/meshsim/sim/xds"
)

// instances is a Cloud Map stand-in: instances by "namespace/service".
type instances map[string][]cloudmap.Instance

func (m instances) Instances(ns, svc string) ([]cloudmap.Instance, error) {
	in, ok := m[ns+"/"+svc]
	if !ok {
		return nil, errors.New("ServiceNotFound")
	}
	return in, nil
}

func ptr[T any](v T) *T { return &v }

func TestMeshWorld(t *testing.T) {
	state := appmesh.State{Meshes: []appmesh.MeshState{{
		Mesh: appmesh.MeshData{MeshName: "m"},
		VirtualNodes: []appmesh.VirtualNodeData{
			{VirtualNodeName: "movie-v1", Spec: appmesh.VirtualNodeSpec{
				Listeners: []appmesh.Listener{{
					PortMapping: &appmesh.PortMapping{Port: ptr(int32(8080)), Protocol: "http"},
					Timeout:     &appmesh.ListenerTimeout{HTTP: &appmesh.HTTPTimeout{PerRequest: &appmesh.Duration{Unit: "s", Value: ptr(int64(0))}}},
				}},
				ServiceDiscovery: &appmesh.ServiceDiscovery{AWSCloudMap: &appmesh.AWSCloudMapServiceDiscovery{
					NamespaceName: "m.local", ServiceName: "movie-v1",
					Attributes: []appmesh.AWSCloudMapInstanceAttribute{{Key: "STAGE", Value: "blue"}},
				}},
			}},
			{VirtualNodeName: "home", Spec: appmesh.VirtualNodeSpec{
				Backends: []appmesh.Backend{{VirtualService: &appmesh.VirtualServiceBackend{VirtualServiceName: "movie.m.local"}}},
				// Discovery names a service Cloud Map does not know: no endpoints.
				ServiceDiscovery: &appmesh.ServiceDiscovery{AWSCloudMap: &appmesh.AWSCloudMapServiceDiscovery{NamespaceName: "m.local", ServiceName: "nope"}},
			}},
		},
		VirtualServices: []appmesh.VirtualServiceData{{VirtualServiceName: "movie.m.local", Spec: appmesh.VirtualServiceSpec{
			Provider: &appmesh.VirtualServiceProvider{VirtualRouter: &appmesh.VirtualRouterServiceProvider{VirtualRouterName: "r"}},
		}}},
		VirtualRouters: []appmesh.VirtualRouterState{{
			VirtualRouter: appmesh.VirtualRouterData{VirtualRouterName: "r", Spec: appmesh.VirtualRouterSpec{
				Listeners: []appmesh.VirtualRouterListener{{PortMapping: &appmesh.PortMapping{Port: ptr(int32(8080)), Protocol: "http"}}},
			}},
			Routes: []appmesh.RouteData{{RouteName: "rt", Spec: appmesh.RouteSpec{Priority: ptr(int32(3)), HTTPRoute: &appmesh.HTTPRoute{
				Match: &appmesh.HTTPRouteMatch{Prefix: "/", Headers: []appmesh.HTTPRouteHeader{{Name: "x-n", Match: &appmesh.HeaderMatchMethod{Range: &appmesh.MatchRange{Start: ptr(int64(1)), End: ptr(int64(5))}}}}},
				Action: &appmesh.RouteAction{WeightedTargets: []appmesh.WeightedTarget{
					{VirtualNode: "movie-v1", Weight: ptr(int32(75))}, {VirtualNode: "movie-v2", Weight: ptr(int32(25))},
				}},
				RetryPolicy: &appmesh.HTTPRetryPolicy{MaxRetries: ptr(int64(0)), PerRetryTimeout: &appmesh.Duration{Unit: "ms", Value: ptr(int64(250))}},
				Timeout:     &appmesh.HTTPTimeout{PerRequest: &appmesh.Duration{Unit: "s", Value: ptr(int64(3))}},
			}}}},
		}},
	}}}
	cm := instances{"m.local/movie-v1": {
		{ID: "t1", IPv4: "127.0.1.1", Port: 8080, Attributes: map[string]string{"STAGE": "blue"}},
		{ID: "t2", IPv4: "127.0.1.2", Port: 8080, HealthStatus: "UNHEALTHY", Attributes: map[string]string{"STAGE": "blue"}},
		{ID: "t3", IPv4: "127.0.1.3", Port: 8080, Attributes: map[string]string{"STAGE": "green"}},
		{ID: "t4", Port: 8080, Attributes: map[string]string{"STAGE": "blue"}}, // no address
	}}
	w := meshWorld(state, cm)
	m := w.Meshes[0]
	movie := m.VirtualNodes[0]
	if len(movie.Endpoints) != 1 || movie.Endpoints[0] != (xds.Endpoint{InstanceID: "t1", Address: "127.0.1.1", Port: 8080}) {
		t.Errorf("movie-v1 endpoints %+v: want t1 only (t2 unhealthy, t3 other attributes, t4 no address)", movie.Endpoints)
	}
	if l := movie.Listeners[0]; l.Port != 8080 || l.Protocol != xds.HTTP || l.PerRequestTimeoutMillis != xds.TimeoutDisabled {
		t.Errorf("listener %+v: want port 8080 http, per-request timeout disabled", l)
	}
	if home := m.VirtualNodes[1]; len(home.Endpoints) != 0 || len(home.Backends) != 1 || home.Backends[0] != "movie.m.local" {
		t.Errorf("home %+v", home)
	}
	if vs := m.VirtualServices[0]; vs.ProviderRouter != "r" || vs.ProviderNode != "" {
		t.Errorf("virtual service %+v", vs)
	}
	r := m.VirtualRouters[0].Routes[0]
	if *r.Priority != 3 || r.Prefix != "/" || r.PerRequestTimeoutMillis != 3000 || r.Retry == nil || r.Retry.MaxRetries != 0 || r.Retry.PerRetryTimeoutMillis != 250 {
		t.Errorf("route %+v", r)
	}
	if len(r.Targets) != 2 || r.Targets[0].Weight != 75 || r.Targets[1].VirtualNode != "movie-v2" {
		t.Errorf("targets %+v", r.Targets)
	}
	if h := r.Headers[0]; h.Range == nil || h.Range.Start != 1 || h.Range.End != 5 {
		t.Errorf("header range %+v", h)
	}
}

func TestServiceConnectWorld(t *testing.T) {
	sc := &ecs.ServiceConnect{Namespace: "ns", Services: []ecs.ServiceConnectService{{
		PortName: "http", DiscoveryName: "movie", ContainerPort: 8080, AppProtocol: "http",
		ClientAliases:     []ecs.ClientAlias{{Port: 80, DNSName: "movie"}},
		PerRequestTimeout: ptr(time.Duration(0)),
	}}}
	traffic := []ecs.ServiceTraffic{
		{Service: "movie", ServiceConnect: sc, Revisions: []ecs.RevisionTraffic{
			{DeploymentID: "ecs-svc/1", ProductionWeight: 90}, {DeploymentID: "ecs-svc/2", ProductionWeight: 10},
		}},
		{Service: "home", ServiceConnect: &ecs.ServiceConnect{Namespace: "ns"}}, // client only
		{Service: "legacy"}, // no Service Connect
	}
	cm := instances{"ns/movie": {
		{ID: "a", IPv4: "127.0.1.1", Port: 8080, Attributes: map[string]string{ecs.AttrDeploymentID: "ecs-svc/1"}},
		{ID: "b", IPv4: "127.0.1.2", Port: 8080, Attributes: map[string]string{ecs.AttrDeploymentID: "ecs-svc/2"}},
	}}
	meshes := serviceConnectWorld(traffic, cm)
	if len(meshes) != 1 || meshes[0].Name != "ns" {
		t.Fatalf("meshes %+v", meshes)
	}
	m := meshes[0]
	nodes := map[string]xds.VirtualNode{}
	for _, n := range m.VirtualNodes {
		nodes[n.Name] = n
	}
	for _, client := range []string{"movie", "home"} {
		if n, ok := nodes[client]; !ok || len(n.Backends) != 1 || n.Backends[0] != "movie" {
			t.Errorf("client node %s: %+v", client, n)
		}
	}
	rev1, rev2 := nodes["movie~movie~1"], nodes["movie~movie~2"]
	if len(rev1.Endpoints) != 1 || rev1.Endpoints[0].InstanceID != "a" || len(rev2.Endpoints) != 1 || rev2.Endpoints[0].InstanceID != "b" {
		t.Errorf("revision endpoints: %+v / %+v", rev1.Endpoints, rev2.Endpoints)
	}
	if len(m.VirtualServices) != 1 || m.VirtualServices[0].Name != "movie" {
		t.Errorf("virtual services %+v", m.VirtualServices)
	}
	rt := m.VirtualRouters[0]
	if rt.Listeners[0].Port != 80 {
		t.Errorf("router listens on %d, want the alias port 80", rt.Listeners[0].Port)
	}
	r := rt.Routes[0]
	if r.Targets[0].Weight != 900 || r.Targets[1].Weight != 100 || r.PerRequestTimeoutMillis != xds.TimeoutDisabled {
		t.Errorf("route %+v: want weights in tenths of a percent (900/100), timeout disabled", r)
	}
	// The result must be a world the control plane can build.
	if _, err := xds.Build(xds.World{Meshes: meshes}); err != nil {
		t.Errorf("Build: %v", err)
	}
}
