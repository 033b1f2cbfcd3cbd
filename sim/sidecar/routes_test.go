package sidecar

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	router "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/xds"
)

func toCluster(name string) *route.Route_Route {
	return &route.Route_Route{Route: &route.RouteAction{ClusterSpecifier: &route.RouteAction_Cluster{Cluster: name}}}
}

func exact(name, v string) *route.HeaderMatcher {
	return &route.HeaderMatcher{Name: name, HeaderMatchSpecifier: &route.HeaderMatcher_StringMatch{
		StringMatch: &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Exact{Exact: v}}}}
}

func testRouteConfig() *route.RouteConfiguration {
	return &route.RouteConfiguration{Name: "rc", VirtualHosts: []*route.VirtualHost{
		{
			Name:    "movie",
			Domains: []string{"movie.local", "movie.local:8080"},
			Routes: []*route.Route{
				{Name: "grpc-list", Match: &route.RouteMatch{
					PathSpecifier: &route.RouteMatch_Path{Path: "/movie.Catalog/List"},
					Grpc:          &route.RouteMatch_GrpcRouteMatchOptions{},
				}, Action: toCluster("grpc")},
				{Name: "beta", Match: &route.RouteMatch{
					PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/api"},
					Headers: []*route.HeaderMatcher{
						exact("x-beta", "true"),
						{Name: "x-debug", InvertMatch: true, HeaderMatchSpecifier: &route.HeaderMatcher_StringMatch{
							StringMatch: &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_SafeRegex{
								SafeRegex: &matcher.RegexMatcher{Regex: "on|yes"}}}}},
					},
				}, Action: toCluster("v2")},
				{Name: "absent", Match: &route.RouteMatch{
					PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/absent"},
					Headers:       []*route.HeaderMatcher{{Name: "x-token", HeaderMatchSpecifier: &route.HeaderMatcher_PresentMatch{PresentMatch: false}}},
				}, Action: toCluster("v1")},
				{Name: "range", Match: &route.RouteMatch{
					PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"},
					Headers: []*route.HeaderMatcher{{Name: "x-user", HeaderMatchSpecifier: &route.HeaderMatcher_RangeMatch{
						RangeMatch: &typev3.Int64Range{Start: 100, End: 200}}}},
				}, Action: toCluster("v2")},
				{Name: "icase", Match: &route.RouteMatch{
					PathSpecifier: &route.RouteMatch_Path{Path: "/Exact"},
					CaseSensitive: wrapperspb.Bool(false),
				}, Action: toCluster("v1")},
				{Name: "default", Match: &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}}, Action: toCluster("v1")},
			},
		},
		{Name: "wild-suffix", Domains: []string{"*.example.com"}, Routes: []*route.Route{
			{Name: "suffix", Match: &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}}, Action: toCluster("s")},
		}},
		{Name: "wild-prefix", Domains: []string{"api.*"}, Routes: []*route.Route{
			{Name: "prefix", Match: &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}}, Action: toCluster("p")},
		}},
		{Name: "seg", Domains: []string{"seg.local"}, Routes: []*route.Route{
			{Name: "seg", Match: &route.RouteMatch{PathSpecifier: &route.RouteMatch_PathSeparatedPrefix{PathSeparatedPrefix: "/docs"}}, Action: toCluster("s")},
		}},
	}}
}

func TestRouteMatching(t *testing.T) {
	rt, err := compileRouteConfig(testRouteConfig())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		host    string
		path    string
		headers map[string]string
		want    string // route name, "" for no route
	}{
		{"default route", "movie.local", "/", nil, "default"},
		{"host with port", "movie.local:8080", "/x", nil, "default"},
		{"host with other port falls back to host", "movie.local:9999", "/x", nil, "default"},
		{"host case-insensitive", "MOVIE.local", "/x", nil, "default"},
		{"unknown host", "other.local", "/", nil, ""},
		{"header and prefix", "movie.local", "/api/v1", map[string]string{"X-Beta": "true", "X-Debug": "off"}, "beta"},
		{"inverted match on a missing header fails, as in Envoy", "movie.local", "/api/v1", map[string]string{"X-Beta": "true"}, "default"},
		{"header value differs", "movie.local", "/api/v1", map[string]string{"X-Beta": "false"}, "default"},
		{"inverted regex excludes", "movie.local", "/api", map[string]string{"X-Beta": "true", "X-Debug": "yes"}, "default"},
		{"inverted regex, value not matching", "movie.local", "/api", map[string]string{"X-Beta": "true", "X-Debug": "nope"}, "beta"},
		{"present_match false: header absent", "movie.local", "/absent", nil, "absent"},
		{"present_match false: header present", "movie.local", "/absent", map[string]string{"X-Token": "t"}, "default"},
		{"range match", "movie.local", "/", map[string]string{"X-User": "150"}, "range"},
		{"range end exclusive", "movie.local", "/", map[string]string{"X-User": "200"}, "default"},
		{"grpc path needs grpc content type", "movie.local", "/movie.Catalog/List", nil, "default"},
		{"grpc", "movie.local", "/movie.Catalog/List", map[string]string{"Content-Type": "application/grpc+proto"}, "grpc-list"},
		{"case-insensitive path", "movie.local", "/EXACT", nil, "icase"},
		{"suffix wildcard", "a.example.com", "/", nil, "suffix"},
		{"suffix wildcard needs a label", "example.com", "/", nil, ""},
		{"prefix wildcard", "api.anything:80", "/", nil, "prefix"},
		{"separated prefix: exact", "seg.local", "/docs", nil, "seg"},
		{"separated prefix: segment", "seg.local", "/docs/a", nil, "seg"},
		{"separated prefix: not a segment", "seg.local", "/docsx", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "http://"+tt.host+tt.path, nil)
			var fr fasthttp.Request
			fr.SetRequestURI(tt.path)
			fr.Header.SetHost(tt.host)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
				fr.Header.Set(k, v)
			}
			// Both servers' requests route alike.
			for via, req := range map[string]routed{"net/http": stdRequest{r}, "http1": fastRequest{&fr}} {
				got := ""
				if vh := rt.find(tt.host); vh != nil {
					if m := vh.match(req); m != nil {
						got = m.name
					}
				}
				if got != tt.want {
					t.Errorf("%s: matched %q, want %q", via, got, tt.want)
				}
			}
		})
	}
}

func TestWeightedPick(t *testing.T) {
	r := &compiledRoute{clusters: []weightedCluster{{"a", 75}, {"b", 25}}, total: 100}
	const n = 20000
	a := 0
	for range n {
		if r.pick() == "a" {
			a++
		}
	}
	sigma := math.Sqrt(n * 0.75 * 0.25)
	if d := math.Abs(float64(a) - 0.75*n); d > 3*sigma {
		t.Errorf("a picked %d of %d, more than 3 sigma from %v", a, n, 0.75*n)
	}
}

func TestCompileRejectsWhatItCannotHonour(t *testing.T) {
	badRoute := func(mut func(*route.Route)) *route.RouteConfiguration {
		r := &route.Route{Match: &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}}, Action: toCluster("c")}
		mut(r)
		return &route.RouteConfiguration{Name: "rc", VirtualHosts: []*route.VirtualHost{{Name: "vh", Domains: []string{"*"}, Routes: []*route.Route{r}}}}
	}
	tests := []struct {
		name string
		rc   *route.RouteConfiguration
		want string
	}{
		{"bad regex", badRoute(func(r *route.Route) {
			r.Match.Headers = []*route.HeaderMatcher{{Name: "x", HeaderMatchSpecifier: &route.HeaderMatcher_SafeRegexMatch{SafeRegexMatch: &matcher.RegexMatcher{Regex: "("}}}}
		}), "regex"},
		{"path rewrite", badRoute(func(r *route.Route) { r.GetRoute().PathRewrite = "/v2" }), "path_rewrite"},
		{"auto host rewrite", badRoute(func(r *route.Route) {
			r.GetRoute().HostRewriteSpecifier = &route.RouteAction_AutoHostRewrite{AutoHostRewrite: wrapperspb.Bool(true)}
		}), "host_rewrite_literal"},
		{"redirect", badRoute(func(r *route.Route) {
			r.Action = &route.Route_Redirect{Redirect: &route.RedirectAction{}}
		}), "not supported"},
		{"zero total weight", badRoute(func(r *route.Route) {
			r.GetRoute().ClusterSpecifier = &route.RouteAction_WeightedClusters{WeightedClusters: &route.WeightedCluster{
				Clusters: []*route.WeightedCluster_ClusterWeight{{Name: "a", Weight: wrapperspb.UInt32(0)}}}}
		}), "total weight"},
		{"unknown retry condition", badRoute(func(r *route.Route) {
			r.GetRoute().RetryPolicy = &route.RetryPolicy{RetryOn: "5xx,teapot"}
		}), "teapot"},
		{"deprecated max_grpc_timeout", badRoute(func(r *route.Route) {
			r.GetRoute().MaxGrpcTimeout = durationpb.New(time.Second)
		}), "use max_stream_duration"},
		{"negative idle timeout", badRoute(func(r *route.Route) {
			r.GetRoute().IdleTimeout = durationpb.New(-time.Second)
		}), "idle_timeout: negative"},
		{"per-try idle timeout", badRoute(func(r *route.Route) {
			r.GetRoute().RetryPolicy = &route.RetryPolicy{RetryOn: "unavailable", PerTryIdleTimeout: durationpb.New(time.Second)}
		}), "only retry_on"},
		{"duplicate domain", &route.RouteConfiguration{Name: "rc", VirtualHosts: []*route.VirtualHost{
			{Name: "a", Domains: []string{"x"}}, {Name: "b", Domains: []string{"X"}},
		}}, "not unique"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileRouteConfig(tt.rc)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestParseClusterRejectsUnsupported(t *testing.T) {
	eds := func(mut func(*cluster.Cluster)) *cluster.Cluster {
		c := &cluster.Cluster{Name: "c", ClusterDiscoveryType: &cluster.Cluster_Type{Type: cluster.Cluster_EDS}}
		mut(c)
		return c
	}
	tests := []struct {
		name string
		c    *cluster.Cluster
		want string
	}{
		{"maglev", eds(func(c *cluster.Cluster) { c.LbPolicy = cluster.Cluster_MAGLEV }), "lb_policy"},
		{"strict dns", eds(func(c *cluster.Cluster) {
			c.ClusterDiscoveryType = &cluster.Cluster_Type{Type: cluster.Cluster_STRICT_DNS}
		}), "cluster type"},
		{"outlier detection", eds(func(c *cluster.Cluster) { c.OutlierDetection = &cluster.OutlierDetection{} }), "outlier"},
		{"tls", eds(func(c *cluster.Cluster) { c.TransportSocket = &core.TransportSocket{Name: "tls"} }), "TLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseCluster(tt.c, "127.0.0.1")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// TestTimeoutModel checks that the App Mesh timeouts the control plane
// serves (xds.Build) become the request timeouts the sidecar enforces,
// as the model at xds.TimeoutDisabled describes.
func TestTimeoutModel(t *testing.T) {
	const ms = time.Millisecond
	grpcReq := func(timeout string) *http.Request {
		r := httptest.NewRequest("POST", "/echo.Echo/Chat", nil)
		r.Header.Set("Content-Type", "application/grpc")
		if timeout != "" {
			r.Header.Set("Grpc-Timeout", timeout)
		}
		return r
	}
	listener := &listenerState{streamIdle: defaultStreamIdleTimeout}
	tests := []struct {
		name             string
		protocol         xds.Protocol
		perRequest, idle int64
		req              *http.Request
		want             requestTimeouts
		wantHeader       string // grpc-timeout sent upstream
	}{
		{"http default", xds.HTTP, 0, 0, httptest.NewRequest("GET", "/", nil),
			requestTimeouts{route: 15 * time.Second, idle: 5 * time.Minute}, ""},
		{"http disabled", xds.HTTP2, xds.TimeoutDisabled, xds.TimeoutDisabled, httptest.NewRequest("GET", "/", nil),
			requestTimeouts{}, ""},
		{"grpc default: no route timeout, no duration limit", xds.GRPC, 0, 0, grpcReq(""),
			requestTimeouts{idle: 5 * time.Minute}, ""},
		{"grpc default: the call's deadline", xds.GRPC, 0, 300, grpcReq("2S"),
			requestTimeouts{idle: 300 * ms, maxDuration: 2 * time.Second}, "2000m"},
		{"grpc per-request caps the deadline", xds.GRPC, 800, 0, grpcReq("1H"),
			requestTimeouts{idle: 5 * time.Minute, maxDuration: 800 * ms}, "800m"},
		{"grpc per-request without deadline", xds.GRPC, 800, 0, grpcReq(""),
			requestTimeouts{idle: 5 * time.Minute, maxDuration: 800 * ms}, "800m"},
		{"grpc disabled", xds.GRPC, xds.TimeoutDisabled, xds.TimeoutDisabled, grpcReq("250m"),
			requestTimeouts{maxDuration: 250 * ms}, "250m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := xds.World{Meshes: []xds.Mesh{{
				Name: "m",
				VirtualNodes: []xds.VirtualNode{
					{Name: "a", Listeners: []xds.Listener{{Port: 9090, Protocol: tt.protocol}}, Backends: []string{"s"}},
				},
				VirtualServices: []xds.VirtualService{{Name: "s", ProviderRouter: "r"}},
				VirtualRouters: []xds.VirtualRouter{{Name: "r", Routes: []xds.Route{{
					Name: "r", Protocol: tt.protocol, Targets: []xds.WeightedTarget{{VirtualNode: "a", Weight: 1}},
					PerRequestTimeoutMillis: tt.perRequest, IdleTimeoutMillis: tt.idle,
				}}}},
			}}}
			res, err := xds.Build(w)
			if err != nil {
				t.Fatal(err)
			}
			var rt *routeTable
			for _, rc := range res[contract.NodeID("m", "a")].Routes {
				if rc.GetName() == xds.EgressRouteName {
					if rt, err = compileRouteConfig(rc); err != nil {
						t.Fatal(err)
					}
				}
			}
			tt.req.Host = "s"
			cr := rt.find("s").match(stdRequest{tt.req})
			if cr == nil {
				t.Fatal("no route matched")
			}
			got := timeoutsFor(tt.req, cr, listener)
			if got.grpcHeader, got.dropGRPCHeader = "", false; got != tt.want { // the header is checked below
				t.Errorf("timeouts = %+v, want %+v", got, tt.want)
			}
			if got := tt.req.Header.Get("Grpc-Timeout"); got != tt.wantHeader {
				t.Errorf("grpc-timeout upstream = %q, want %q", got, tt.wantHeader)
			}
		})
	}
}

func TestParseListenerConnectionManager(t *testing.T) {
	listenerWith := func(mut func(*hcm.HttpConnectionManager)) *listener.Listener {
		routerAny, _ := anypb.New(&router.Router{})
		mgr := &hcm.HttpConnectionManager{
			StatPrefix:     "test",
			RouteSpecifier: &hcm.HttpConnectionManager_Rds{Rds: &hcm.Rds{RouteConfigName: "rc"}},
			HttpFilters:    []*hcm.HttpFilter{{Name: "router", ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: routerAny}}},
		}
		mut(mgr)
		mgrAny, _ := anypb.New(mgr)
		return &listener.Listener{
			Name: "l",
			Address: &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
				Address: "0.0.0.0", PortSpecifier: &core.SocketAddress_PortValue{PortValue: 15001}}}},
			FilterChains: []*listener.FilterChain{{Filters: []*listener.Filter{{
				Name: "hcm", ConfigType: &listener.Filter_TypedConfig{TypedConfig: mgrAny}}}}},
		}
	}
	tests := []struct {
		name              string
		mut               func(*hcm.HttpConnectionManager)
		idle, maxDuration time.Duration
		wantErr           string
	}{
		{"defaults", func(*hcm.HttpConnectionManager) {}, 5 * time.Minute, 0, ""},
		{"set", func(m *hcm.HttpConnectionManager) {
			m.StreamIdleTimeout = durationpb.New(time.Second)
			m.CommonHttpProtocolOptions = &core.HttpProtocolOptions{MaxStreamDuration: durationpb.New(time.Minute)}
		}, time.Second, time.Minute, ""},
		{"idle disabled", func(m *hcm.HttpConnectionManager) { m.StreamIdleTimeout = durationpb.New(0) }, 0, 0, ""},
		{"http3", func(m *hcm.HttpConnectionManager) { m.CodecType = hcm.HttpConnectionManager_HTTP3 }, 0, 0, "HTTP3"},
		{"request timeout", func(m *hcm.HttpConnectionManager) { m.RequestTimeout = durationpb.New(time.Second) }, 0, 0, "request_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := parseListener(listenerWith(tt.mut), "127.0.0.1")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if spec.streamIdle != tt.idle || spec.maxStreamDuration != tt.maxDuration {
				t.Errorf("stream idle %v, max duration %v; want %v, %v", spec.streamIdle, spec.maxStreamDuration, tt.idle, tt.maxDuration)
			}
		})
	}
}
