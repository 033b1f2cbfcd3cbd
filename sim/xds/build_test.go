package xds

import (
	"strconv"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/meshsim/meshsim/sim/contract"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

func intp(i int) *int { return &i }

// bookingWorld is a bookingapp-like mesh: home calls the movie service,
// whose router splits traffic between movie-v1 and movie-v2, and the
// ticket gRPC service provided directly by a node.
func bookingWorld() World {
	return World{Meshes: []Mesh{{
		Name: "bookingapp",
		VirtualNodes: []VirtualNode{
			{
				Name:      "home",
				Listeners: []Listener{{Port: 8080, Protocol: HTTP}},
				Backends:  []string{"movie.bookingapp.local", "ticket.bookingapp.local", "missing.bookingapp.local"},
				Endpoints: []Endpoint{{InstanceID: "t-home-1", Address: "127.0.1.1", Port: 8080}},
			},
			{
				Name:      "movie-v1",
				Listeners: []Listener{{Port: 8080, Protocol: HTTP}},
				Endpoints: []Endpoint{
					{InstanceID: "t-m1-1", Address: "127.0.2.1", Port: 8080},
					{InstanceID: "t-m1-2", Address: "127.0.2.2"},
				},
			},
			{
				Name:      "movie-v2",
				Listeners: []Listener{{Port: 8080, Protocol: HTTP}},
				Endpoints: []Endpoint{{InstanceID: "t-m2-1", Address: "127.0.3.1", Port: 8080}},
			},
			{
				Name:      "movie-v3",
				Listeners: []Listener{{Port: 8080, Protocol: HTTP}},
			},
			{
				Name:      "ticket-v1",
				Listeners: []Listener{{Port: 9090, Protocol: GRPC}},
				Endpoints: []Endpoint{{InstanceID: "t-t1-1", Address: "127.0.4.1", Port: 9090}},
			},
		},
		VirtualServices: []VirtualService{
			{Name: "movie.bookingapp.local", ProviderRouter: "movie-router"},
			{Name: "ticket.bookingapp.local", ProviderNode: "ticket-v1"},
		},
		VirtualRouters: []VirtualRouter{{
			Name:      "movie-router",
			Listeners: []Listener{{Port: 8080, Protocol: HTTP}},
			Routes: []Route{
				{
					Name:     "default",
					Priority: intp(10),
					Protocol: HTTP,
					Targets:  []WeightedTarget{{"movie-v1", 75}, {"movie-v2", 25}, {"movie-v3", 0}},
					Retry: &RetryPolicy{
						MaxRetries: 2, PerRetryTimeoutMillis: 500,
						HTTPRetryEvents: []string{"server-error", "gateway-error"},
						TCPRetryEvents:  []string{"connection-error"},
					},
					PerRequestTimeoutMillis: 3000,
					IdleTimeoutMillis:       60000,
				},
				{
					Name:     "beta",
					Priority: intp(0),
					Protocol: HTTP,
					Prefix:   "/api",
					Headers:  []HeaderMatch{{Name: "X-Beta", Exact: "true"}, {Name: "x-debug", Invert: true, Regex: "on|yes"}},
					Targets:  []WeightedTarget{{"movie-v2", 100}},
				},
				{
					Name:     "drained",
					Protocol: HTTP,
					Prefix:   "/old",
					Targets:  []WeightedTarget{{"movie-v1", 0}},
				},
				{
					Name:        "grpc",
					Priority:    intp(5),
					Protocol:    GRPC,
					GRPCService: "movie.Catalog",
					GRPCMethod:  "List",
					Headers:     []HeaderMatch{{Name: "tenant", Prefix: "acme"}},
					Targets:     []WeightedTarget{{"movie-v1", 1}},
					Retry:       &RetryPolicy{MaxRetries: 1, GRPCRetryEvents: []string{"unavailable", "bogus"}},
				},
				{
					Name:     "raw",
					Protocol: TCP,
					Targets:  []WeightedTarget{{"movie-v1", 1}},
				},
			},
		}},
	}}}
}

func TestBuildValidatesAndIsConsistent(t *testing.T) {
	res, err := Build(bookingWorld())
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 5 {
		t.Fatalf("Build returned %d nodes, want 5", len(res))
	}
	for node, r := range res {
		// Validate each resource, as Envoy would on receipt.
		for _, l := range r.Listeners {
			if err := l.Validate(); err != nil {
				t.Errorf("%s: listener %s: %v", node, l.GetName(), err)
			}
		}
		for _, rc := range r.Routes {
			if err := rc.Validate(); err != nil {
				t.Errorf("%s: route %s: %v", node, rc.GetName(), err)
			}
		}
		for _, c := range r.Clusters {
			if err := c.Validate(); err != nil {
				t.Errorf("%s: cluster %s: %v", node, c.GetName(), err)
			}
		}
		for _, e := range r.Endpoints {
			if err := e.Validate(); err != nil {
				t.Errorf("%s: cla %s: %v", node, e.GetClusterName(), err)
			}
			for _, loc := range e.GetEndpoints() {
				if loc.GetLocality() == nil || loc.GetLoadBalancingWeight().GetValue() == 0 {
					t.Errorf("%s: cla %s: locality %v weight %v", node, e.GetClusterName(), loc.GetLocality(), loc.GetLoadBalancingWeight())
				}
			}
		}
		snap, err := r.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if err := snap.Consistent(); err != nil {
			t.Errorf("%s: snapshot not consistent: %v", node, err)
		}
	}
}

func findRoute(t *testing.T, r NodeResources, name string) *route.RouteConfiguration {
	t.Helper()
	for _, rc := range r.Routes {
		if rc.GetName() == name {
			return rc
		}
	}
	t.Fatalf("route configuration %s not found", name)
	return nil
}

func TestBuildEgressRoutes(t *testing.T) {
	res, err := Build(bookingWorld())
	if err != nil {
		t.Fatal(err)
	}
	home := res[contract.NodeID("bookingapp", "home")]
	rc := findRoute(t, home, EgressRouteName)
	if got := len(rc.GetVirtualHosts()); got != 2 {
		t.Fatalf("egress has %d virtual hosts, want 2 (missing backend gets none)", got)
	}
	movie := rc.GetVirtualHosts()[0]
	if got, want := strings.Join(movie.GetDomains(), ","), "movie.bookingapp.local,movie.bookingapp.local:8080"; got != want {
		t.Errorf("movie domains = %s, want %s", got, want)
	}
	var names []string
	for _, r := range movie.GetRoutes() {
		names = append(names, r.GetName())
	}
	if got, want := strings.Join(names, ","), "beta,grpc,default,drained"; got != want {
		t.Fatalf("route order = %s, want %s (priority order, tcp left out)", got, want)
	}
	beta, grpcRoute, def, drained := movie.GetRoutes()[0], movie.GetRoutes()[1], movie.GetRoutes()[2], movie.GetRoutes()[3]

	checkBetaRoute(t, beta)
	checkGRPCRoute(t, grpcRoute)
	checkDefaultRoute(t, def)

	if dr := drained.GetDirectResponse(); dr.GetStatus() != 503 || dr.GetBody().GetInlineString() != "no healthy upstream" {
		t.Errorf("all-zero route = %v, want direct 503", drained.GetAction())
	}

	ticket := rc.GetVirtualHosts()[1]
	if got := ticket.GetRoutes()[0].GetRoute().GetCluster(); got != ClusterName("bookingapp", "ticket-v1") {
		t.Errorf("ticket cluster = %q", got)
	}
	if ticket.GetRoutes()[0].GetRoute().GetRetryPolicy().GetNumRetries().GetValue() != 2 {
		t.Error("virtual node provider route lacks App Mesh's default retry policy")
	}
}

// checkBetaRoute checks the egress route beta of bookingWorld: a prefix and
// header match, and App Mesh's default retry policy (it names none).
func checkBetaRoute(t *testing.T, beta *route.Route) {
	t.Helper()
	if got := beta.GetMatch().GetPrefix(); got != "/api" {
		t.Errorf("beta prefix = %q", got)
	}
	if h := beta.GetMatch().GetHeaders(); len(h) != 2 || h[0].GetName() != "x-beta" || h[0].GetStringMatch().GetExact() != "true" ||
		!h[1].GetInvertMatch() || h[1].GetStringMatch().GetSafeRegex().GetRegex() != "on|yes" {
		t.Errorf("beta headers = %v", h)
	}
	if rp := beta.GetRoute().GetRetryPolicy(); rp.GetRetryOn() != "connect-failure,refused-stream,reset,unavailable,retriable-status-codes" ||
		rp.GetNumRetries().GetValue() != 2 || len(rp.GetRetriableStatusCodes()) != 1 || rp.GetRetriableStatusCodes()[0] != 503 {
		t.Errorf("route without retry policy got %v, want App Mesh's default", rp)
	}
}

// checkGRPCRoute checks the egress gRPC route of bookingWorld: a method
// path, gRPC requests only, its retry policy.
func checkGRPCRoute(t *testing.T, grpcRoute *route.Route) {
	t.Helper()
	if got := grpcRoute.GetMatch().GetPath(); got != "/movie.Catalog/List" {
		t.Errorf("grpc path = %q", got)
	}
	if grpcRoute.GetMatch().GetGrpc() == nil {
		t.Error("grpc route does not require gRPC requests")
	}
	if got := grpcRoute.GetRoute().GetRetryPolicy().GetRetryOn(); got != "unavailable" {
		t.Errorf("grpc retry_on = %q", got)
	}
}

// checkDefaultRoute checks the default egress route of bookingWorld: its
// weighted clusters without the weight-0 target, retry policy and timeouts.
func checkDefaultRoute(t *testing.T, def *route.Route) {
	t.Helper()
	wc := def.GetRoute().GetWeightedClusters().GetClusters()
	if len(wc) != 2 || wc[0].GetName() != ClusterName("bookingapp", "movie-v1") || wc[0].GetWeight().GetValue() != 75 ||
		wc[1].GetName() != ClusterName("bookingapp", "movie-v2") || wc[1].GetWeight().GetValue() != 25 {
		t.Errorf("default weighted clusters = %v (weight-0 target must be dropped)", wc)
	}
	rp := def.GetRoute().GetRetryPolicy()
	if rp.GetRetryOn() != "5xx,reset,gateway-error,connect-failure" || rp.GetNumRetries().GetValue() != 2 || rp.GetPerTryTimeout().AsDuration() != 500*time.Millisecond {
		t.Errorf("default retry policy = %v", rp)
	}
	if def.GetRoute().GetTimeout().AsDuration() != 3*time.Second || def.GetRoute().GetIdleTimeout().AsDuration() != time.Minute {
		t.Errorf("default timeouts = %v, %v", def.GetRoute().GetTimeout(), def.GetRoute().GetIdleTimeout())
	}
}

func TestBuildClustersAndEndpoints(t *testing.T) {
	res, err := Build(bookingWorld())
	if err != nil {
		t.Fatal(err)
	}
	home := res[contract.NodeID("bookingapp", "home")]
	want := map[string]struct {
		h2        bool
		endpoints []string
	}{
		ClusterName("bookingapp", "movie-v1"):   {false, []string{"127.0.2.1:8080", "127.0.2.2:8080"}},
		ClusterName("bookingapp", "movie-v2"):   {false, []string{"127.0.3.1:8080"}},
		ClusterName("bookingapp", "movie-v3"):   {false, nil},
		ClusterName("bookingapp", "ticket-v1"):  {true, []string{"127.0.4.1:9090"}},
		"cds_ingress_bookingapp_home_http_8080": {false, nil},
	}
	if len(home.Clusters) != len(want) {
		t.Fatalf("home has %d clusters, want %d", len(home.Clusters), len(want))
	}
	for _, c := range home.Clusters {
		w, ok := want[c.GetName()]
		if !ok {
			t.Errorf("unexpected cluster %s", c.GetName())
			continue
		}
		_, h2 := c.GetTypedExtensionProtocolOptions()[httpProtocolOptions]
		if h2 != w.h2 {
			t.Errorf("%s: http2 = %v, want %v", c.GetName(), h2, w.h2)
		}
	}
	got := make(map[string][]string)
	for _, cla := range home.Endpoints {
		var addrs []string
		for _, loc := range cla.GetEndpoints() {
			for _, lb := range loc.GetLbEndpoints() {
				sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
				addrs = append(addrs, sa.GetAddress()+":"+strconv.FormatUint(uint64(sa.GetPortValue()), 10))
			}
		}
		got[cla.GetClusterName()] = addrs
	}
	for name, w := range want {
		if strings.HasPrefix(name, "cds_ingress") {
			continue
		}
		if strings.Join(got[name], ",") != strings.Join(w.endpoints, ",") {
			t.Errorf("%s endpoints = %v, want %v", name, got[name], w.endpoints)
		}
	}

	// The ingress listener routes to the node's own application.
	ing := findRoute(t, home, IngressRouteName)
	if got := ing.GetVirtualHosts()[0].GetRoutes()[0].GetRoute().GetCluster(); got != "cds_ingress_bookingapp_home_http_8080" {
		t.Errorf("ingress cluster = %q", got)
	}
	for _, l := range home.Listeners {
		port := l.GetAddress().GetSocketAddress().GetPortValue()
		switch l.GetName() {
		case EgressListenerName:
			if port != contract.EgressPort || l.GetTrafficDirection() != core.TrafficDirection_OUTBOUND {
				t.Errorf("egress listener port %d direction %v", port, l.GetTrafficDirection())
			}
		case IngressListenerName:
			if port != contract.IngressPort || l.GetTrafficDirection() != core.TrafficDirection_INBOUND {
				t.Errorf("ingress listener port %d direction %v", port, l.GetTrafficDirection())
			}
		default:
			t.Errorf("unexpected listener %s", l.GetName())
		}
	}
}

func TestSnapshotVersionsChangePerType(t *testing.T) {
	versions := func(w World, node string) map[string]string {
		t.Helper()
		res, err := Build(w)
		if err != nil {
			t.Fatal(err)
		}
		snap, err := res[node].Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		out := make(map[string]string)
		for _, typ := range []string{resource.ListenerType, resource.RouteType, resource.ClusterType, resource.EndpointType} {
			out[typ] = snap.GetVersion(typ)
		}
		return out
	}
	home := contract.NodeID("bookingapp", "home")
	base := versions(bookingWorld(), home)
	if again := versions(bookingWorld(), home); !equalMaps(base, again) {
		t.Fatalf("versions not stable: %v vs %v", base, again)
	}

	tests := []struct {
		name    string
		change  func(*World)
		changed []string
	}{
		{"weights", func(w *World) {
			w.Meshes[0].VirtualRouters[0].Routes[0].Targets = []WeightedTarget{{"movie-v1", 10}, {"movie-v2", 90}, {"movie-v3", 0}}
		}, []string{resource.RouteType}},
		{"endpoint gone", func(w *World) {
			w.Meshes[0].VirtualNodes[1].Endpoints = w.Meshes[0].VirtualNodes[1].Endpoints[:1]
		}, []string{resource.EndpointType}},
		{"new target node", func(w *World) {
			w.Meshes[0].VirtualRouters[0].Routes[0].Targets = append(w.Meshes[0].VirtualRouters[0].Routes[0].Targets, WeightedTarget{"movie-v4", 0})
		}, []string{resource.ClusterType, resource.EndpointType}},
		{"unrelated node", func(w *World) {
			w.Meshes[0].VirtualNodes[0].Endpoints = nil // home's own tasks are not in its config
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := bookingWorld()
			tt.change(&w)
			got := versions(w, home)
			for typ, v := range got {
				changed := v != base[typ]
				want := false
				for _, c := range tt.changed {
					want = want || c == typ
				}
				if changed != want {
					t.Errorf("%s: changed = %v, want %v", typ, changed, want)
				}
			}
		})
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestBuildRejectsMalformedWorld(t *testing.T) {
	tests := []struct {
		name string
		w    World
		want string
	}{
		{"duplicate node", World{Meshes: []Mesh{{Name: "m", VirtualNodes: []VirtualNode{{Name: "a"}, {Name: "a"}}}}}, `virtual node "a" listed twice`},
		{"duplicate mesh", World{Meshes: []Mesh{{Name: "m"}, {Name: "m"}}}, `mesh "m" listed twice`},
		{"empty mesh name", World{Meshes: []Mesh{{}}}, "mesh with empty name"},
		{"grpc method without service", routerWorld(Route{Name: "x", Protocol: GRPC, GRPCMethod: "Echo", Targets: []WeightedTarget{{"a", 1}}}),
			"grpc method name without service name"},
		{"negative timeout", routerWorld(Route{Name: "x", Protocol: HTTP, PerRequestTimeoutMillis: -5, Targets: []WeightedTarget{{"a", 1}}}),
			"per-request timeout -5 ms"},
		{"two header patterns", routerWorld(Route{Name: "x", Protocol: GRPC, Headers: []HeaderMatch{{Name: "h", Exact: "a", Prefix: "b"}}, Targets: []WeightedTarget{{"a", 1}}}),
			"more than one of exact"},
		{"empty range", routerWorld(Route{Name: "x", Protocol: GRPC, Headers: []HeaderMatch{{Name: "h", Range: &MatchRange{5, 5}}}, Targets: []WeightedTarget{{"a", 1}}}),
			"range start 5 not below end 5"},
		{"bad listener timeout", World{Meshes: []Mesh{{Name: "m", VirtualNodes: []VirtualNode{{
			Name: "a", Listeners: []Listener{{Port: 80, Protocol: GRPC, IdleTimeoutMillis: -2}},
		}}}}}, "idle timeout -2 ms"},
		{"target without node", World{Meshes: []Mesh{{
			Name:            "m",
			VirtualNodes:    []VirtualNode{{Name: "a", Backends: []string{"s"}}},
			VirtualServices: []VirtualService{{Name: "s", ProviderRouter: "r"}},
			VirtualRouters:  []VirtualRouter{{Name: "r", Routes: []Route{{Name: "x", Targets: []WeightedTarget{{Weight: 1}}}}}},
		}}}, "weighted target without virtual node"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(tt.w)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Build error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestNodeIDForms(t *testing.T) {
	tests := []struct {
		id, norm, mesh, vn string
		ok                 bool
	}{
		{"mesh/bookingapp/virtualNode/home", "mesh/bookingapp/virtualNode/home", "bookingapp", "home", true},
		{"arn:aws:appmesh:us-east-1:000000000000:mesh/bookingapp/virtualNode/home", "mesh/bookingapp/virtualNode/home", "bookingapp", "home", true},
		{"arn:aws:ecs:us-east-1:000000000000:task/abc", "arn:aws:ecs:us-east-1:000000000000:task/abc", "", "", false},
		{"mesh/bookingapp/virtualRouter/r", "mesh/bookingapp/virtualRouter/r", "", "", false},
		{"", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			if got := NormalizeNodeID(tt.id); got != tt.norm {
				t.Errorf("NormalizeNodeID = %q, want %q", got, tt.norm)
			}
			if got := (NodeHash{}).ID(&core.Node{Id: tt.id}); got != tt.norm {
				t.Errorf("NodeHash.ID = %q, want %q", got, tt.norm)
			}
			mesh, vn, err := ParseNodeID(tt.id)
			if (err == nil) != tt.ok || mesh != tt.mesh || vn != tt.vn {
				t.Errorf("ParseNodeID = %q, %q, %v", mesh, vn, err)
			}
		})
	}
	if got := (NodeHash{}).ID(nil); got != "" {
		t.Errorf("NodeHash.ID(nil) = %q", got)
	}
}

// routerWorld is a mesh where node a calls service s, routed by router r
// with the given route to node a itself.
func routerWorld(rt Route) World {
	return World{Meshes: []Mesh{{
		Name:            "m",
		VirtualNodes:    []VirtualNode{{Name: "a", Listeners: []Listener{{Port: 9090, Protocol: rt.Protocol}}, Backends: []string{"s"}}},
		VirtualServices: []VirtualService{{Name: "s", ProviderRouter: "r"}},
		VirtualRouters:  []VirtualRouter{{Name: "r", Listeners: []Listener{{Port: 9090, Protocol: rt.Protocol}}, Routes: []Route{rt}}},
	}}}
}

// egressRoute builds w and returns node a's only egress route.
func egressRoute(t *testing.T, w World) *route.Route {
	t.Helper()
	res, err := Build(w)
	if err != nil {
		t.Fatal(err)
	}
	rc := findRoute(t, res[contract.NodeID("m", "a")], EgressRouteName)
	if len(rc.GetVirtualHosts()) != 1 || len(rc.GetVirtualHosts()[0].GetRoutes()) != 1 {
		t.Fatalf("egress route configuration = %v, want one virtual host with one route", rc)
	}
	return rc.GetVirtualHosts()[0].GetRoutes()[0]
}

func TestBuildGRPCRouteMatches(t *testing.T) {
	str := func(name string, invert bool, sm *matcher.StringMatcher) *route.HeaderMatcher {
		return &route.HeaderMatcher{Name: name, InvertMatch: invert, HeaderMatchSpecifier: &route.HeaderMatcher_StringMatch{StringMatch: sm}}
	}
	present := func(name string, invert bool) *route.HeaderMatcher {
		return &route.HeaderMatcher{Name: name, InvertMatch: invert, HeaderMatchSpecifier: &route.HeaderMatcher_PresentMatch{PresentMatch: true}}
	}
	tests := []struct {
		name    string
		route   Route
		path    string // prefix, or "=" + exact path
		headers []*route.HeaderMatcher
	}{
		{"any call", Route{}, "/", nil},
		{"service", Route{GRPCService: "echo.Echo"}, "/echo.Echo/", nil},
		{"method", Route{GRPCService: "echo.Echo", GRPCMethod: "Chat"}, "=/echo.Echo/Chat", nil},
		{"metadata", Route{GRPCService: "echo.Echo", Headers: []HeaderMatch{
			{Name: "Tenant", Exact: "acme"},
			{Name: "region", Prefix: "eu-"},
			{Name: "build", Suffix: "-rc"},
			{Name: "user", Regex: "u[0-9]+", Invert: true},
			{Name: "shard", Range: &MatchRange{Start: 0, End: 8}},
			{Name: "canary"},
			{Name: "debug", Invert: true},
		}}, "/echo.Echo/", []*route.HeaderMatcher{
			str("tenant", false, &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Exact{Exact: "acme"}}),
			str("region", false, &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Prefix{Prefix: "eu-"}}),
			str("build", false, &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Suffix{Suffix: "-rc"}}),
			str("user", true, &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_SafeRegex{SafeRegex: &matcher.RegexMatcher{Regex: "u[0-9]+"}}}),
			{Name: "shard", HeaderMatchSpecifier: &route.HeaderMatcher_RangeMatch{RangeMatch: &typev3.Int64Range{Start: 0, End: 8}}},
			present("canary", false),
			present("debug", true),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := tt.route
			rt.Name, rt.Protocol, rt.Targets = "r1", GRPC, []WeightedTarget{{"a", 1}}
			got := egressRoute(t, routerWorld(rt)).GetMatch()
			path := got.GetPrefix()
			if p := got.GetPath(); p != "" {
				path = "=" + p
			}
			if path != tt.path {
				t.Errorf("path = %q, want %q", path, tt.path)
			}
			if got.GetGrpc() == nil {
				t.Error("route does not require a gRPC request")
			}
			if len(got.GetHeaders()) != len(tt.headers) {
				t.Fatalf("headers = %v, want %v", got.GetHeaders(), tt.headers)
			}
			for i, h := range got.GetHeaders() {
				if !proto.Equal(h, tt.headers[i]) {
					t.Errorf("header %d = %v, want %v", i, h, tt.headers[i])
				}
			}
		})
	}
}

func TestBuildTimeouts(t *testing.T) {
	const none = -1 * time.Second // not set in the resource
	d := func(p *durationpb.Duration) time.Duration {
		if p == nil {
			return none
		}
		return p.AsDuration()
	}
	tests := []struct {
		name               string
		protocol           Protocol
		perRequest, idle   int64
		timeout, idleOut   time.Duration
		streamMax, grpcMax time.Duration // none: no max_stream_duration
	}{
		{"http unset", HTTP, 0, 0, none, none, none, none},
		{"http set", HTTP, 2500, 60000, 2500 * time.Millisecond, time.Minute, none, none},
		{"http2 disabled", HTTP2, TimeoutDisabled, TimeoutDisabled, 0, 0, none, none},
		{"grpc unset: the call's deadline, uncapped", GRPC, 0, 0, none, none, none, 0},
		{"grpc disabled", GRPC, TimeoutDisabled, TimeoutDisabled, none, 0, none, 0},
		{"grpc set: caps the duration and the deadline", GRPC, 800, 300, none, 300 * time.Millisecond, 800 * time.Millisecond, 800 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := egressRoute(t, routerWorld(Route{
				Name: "r1", Protocol: tt.protocol, Targets: []WeightedTarget{{"a", 1}},
				PerRequestTimeoutMillis: tt.perRequest, IdleTimeoutMillis: tt.idle,
			})).GetRoute()
			msd := a.GetMaxStreamDuration()
			streamMax, grpcMax := none, none
			if msd != nil {
				streamMax, grpcMax = d(msd.GetMaxStreamDuration()), d(msd.GetGrpcTimeoutHeaderMax())
			}
			if d(a.GetTimeout()) != tt.timeout || d(a.GetIdleTimeout()) != tt.idleOut || streamMax != tt.streamMax || grpcMax != tt.grpcMax {
				t.Errorf("timeout %v idle %v max_stream_duration %v grpc_timeout_header_max %v; want %v %v %v %v (-1s: unset)",
					d(a.GetTimeout()), d(a.GetIdleTimeout()), streamMax, grpcMax, tt.timeout, tt.idleOut, tt.streamMax, tt.grpcMax)
			}
		})
	}

	// The ingress route takes the listener's timeouts, with the same
	// model; a virtual node provider of protocol grpc gets grpc's.
	w := bookingWorld()
	w.Meshes[0].VirtualNodes[4].Listeners[0].IdleTimeoutMillis = 2000
	res, err := Build(w)
	if err != nil {
		t.Fatal(err)
	}
	ing := findRoute(t, res[contract.NodeID("bookingapp", "ticket-v1")], IngressRouteName).GetVirtualHosts()[0].GetRoutes()[0].GetRoute()
	if ing.GetMaxStreamDuration().GetGrpcTimeoutHeaderMax() == nil || ing.GetIdleTimeout().AsDuration() != 2*time.Second {
		t.Errorf("grpc ingress route = %v, want grpc_timeout_header_max 0 and idle 2s", ing)
	}
	egress := findRoute(t, res[contract.NodeID("bookingapp", "home")], EgressRouteName)
	for _, vh := range egress.GetVirtualHosts() {
		if vh.GetName() != "ticket.bookingapp.local" {
			continue
		}
		if a := vh.GetRoutes()[0].GetRoute(); a.GetMaxStreamDuration().GetGrpcTimeoutHeaderMax() == nil || a.GetTimeout() != nil {
			t.Errorf("route to the grpc virtual node = %v, want max_stream_duration and no route timeout", a)
		}
	}
}
