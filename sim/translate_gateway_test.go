package sim

import (
	"reflect"
	"testing"

	"github.com/meshsim/meshsim/sim/appmesh"
	"github.com/meshsim/meshsim/sim/xds"
)

// Gateway routes translate with App Mesh's defaults (Host rewritten to the
// target virtual service, a matched prefix to "/") unless their rewrite
// disables or replaces them.
func TestGatewayRouteTranslation(t *testing.T) {
	target := &appmesh.GatewayRouteTarget{VirtualService: &appmesh.GatewayRouteVirtualService{VirtualServiceName: "movie.local"}}
	httpRoute := func(m *appmesh.HTTPGatewayRouteMatch, rw *appmesh.HTTPGatewayRouteRewrite) appmesh.GatewayRouteSpec {
		return appmesh.GatewayRouteSpec{HTTPRoute: &appmesh.HTTPGatewayRoute{Match: m, Action: &appmesh.HTTPGatewayRouteAction{Target: target, Rewrite: rw}}}
	}
	for _, tc := range []struct {
		name string
		spec appmesh.GatewayRouteSpec
		want xds.GatewayRoute
	}{
		{"defaults", httpRoute(&appmesh.HTTPGatewayRouteMatch{Prefix: "/movies/"}, nil),
			xds.GatewayRoute{Protocol: xds.HTTP, Prefix: "/movies/", PrefixRewrite: ptr("/"), RewriteHostname: true}},
		{"disabled", httpRoute(&appmesh.HTTPGatewayRouteMatch{Prefix: "/movies/", Method: "GET",
			Hostname:        &appmesh.GatewayRouteHostnameMatch{Suffix: ".example.com"},
			QueryParameters: []appmesh.HTTPQueryParameter{{Name: "q", Match: &appmesh.QueryParameterMatch{Exact: "1"}}, {Name: "p"}}},
			&appmesh.HTTPGatewayRouteRewrite{Prefix: &appmesh.HTTPGatewayRoutePrefixRewrite{DefaultPrefix: "DISABLED"},
				Hostname: &appmesh.GatewayRouteHostnameRewrite{DefaultTargetHostname: "DISABLED"}}),
			xds.GatewayRoute{Protocol: xds.HTTP, Prefix: "/movies/", Method: "GET", HostnameSuffix: ".example.com",
				QueryParameters: []xds.QueryParameterMatch{{Name: "q", Exact: "1"}, {Name: "p"}}}},
		{"prefix value", httpRoute(&appmesh.HTTPGatewayRouteMatch{Prefix: "/a/"}, &appmesh.HTTPGatewayRouteRewrite{Prefix: &appmesh.HTTPGatewayRoutePrefixRewrite{Value: "/b/"}}),
			xds.GatewayRoute{Protocol: xds.HTTP, Prefix: "/a/", PrefixRewrite: ptr("/b/"), RewriteHostname: true}},
		{"path", httpRoute(&appmesh.HTTPGatewayRouteMatch{Path: &appmesh.HTTPPathMatch{Exact: "/top"}}, &appmesh.HTTPGatewayRouteRewrite{Path: &appmesh.HTTPGatewayRoutePathRewrite{Exact: "/x"}}),
			xds.GatewayRoute{Protocol: xds.HTTP, PathExact: "/top", PathRewrite: "/x", RewriteHostname: true}},
		{"grpc", appmesh.GatewayRouteSpec{Priority: ptr(int32(3)), GRPCRoute: &appmesh.GRPCGatewayRoute{
			Match:  &appmesh.GRPCGatewayRouteMatch{ServiceName: "movie.Movies", Hostname: &appmesh.GatewayRouteHostnameMatch{Exact: "api.example.com"}},
			Action: &appmesh.GRPCGatewayRouteAction{Target: target}}},
			xds.GatewayRoute{Protocol: xds.GRPC, Priority: ptr(3), GRPCService: "movie.Movies", HostnameExact: "api.example.com", RewriteHostname: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := gatewayRoute(appmesh.GatewayRouteData{GatewayRouteName: "r", Spec: tc.spec})
			tc.want.Name, tc.want.VirtualService = "r", "movie.local"
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("gatewayRoute =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}
