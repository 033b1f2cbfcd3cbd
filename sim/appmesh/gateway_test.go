package appmesh

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	am "github.com/aws/aws-sdk-go-v2/service/appmesh"
	"github.com/aws/aws-sdk-go-v2/service/appmesh/types"
)

// gatewaySpec is a virtual gateway spec that uses every part of the model.
func gatewaySpec(port int32) *types.VirtualGatewaySpec {
	return &types.VirtualGatewaySpec{
		Listeners: []types.VirtualGatewayListener{{
			PortMapping: &types.VirtualGatewayPortMapping{Port: aws.Int32(port), Protocol: types.VirtualGatewayPortProtocolHttp},
			HealthCheck: &types.VirtualGatewayHealthCheckPolicy{
				HealthyThreshold: aws.Int32(2), UnhealthyThreshold: aws.Int32(3), IntervalMillis: aws.Int64(5000),
				TimeoutMillis: aws.Int64(2000), Protocol: types.VirtualGatewayPortProtocolHttp, Path: aws.String("/ping"), Port: aws.Int32(port),
			},
			ConnectionPool: &types.VirtualGatewayConnectionPoolMemberHttp{Value: types.VirtualGatewayHttpConnectionPool{
				MaxConnections: aws.Int32(1024), MaxPendingRequests: aws.Int32(64),
			}},
			Tls: &types.VirtualGatewayListenerTls{
				Mode: types.VirtualGatewayListenerTlsModePermissive,
				Certificate: &types.VirtualGatewayListenerTlsCertificateMemberFile{Value: types.VirtualGatewayListenerTlsFileCertificate{
					CertificateChain: aws.String("/c.pem"), PrivateKey: aws.String("/k.pem")}},
				Validation: &types.VirtualGatewayListenerTlsValidationContext{
					Trust:                   &types.VirtualGatewayListenerTlsValidationContextTrustMemberSds{Value: types.VirtualGatewayTlsValidationContextSdsTrust{SecretName: aws.String("ca")}},
					SubjectAlternativeNames: &types.SubjectAlternativeNames{Match: &types.SubjectAlternativeNameMatchers{Exact: []string{"gw.local"}}},
				},
			},
		}},
		BackendDefaults: &types.VirtualGatewayBackendDefaults{ClientPolicy: &types.VirtualGatewayClientPolicy{Tls: &types.VirtualGatewayClientPolicyTls{
			Enforce: aws.Bool(true), Ports: []int32{8080},
			Certificate: &types.VirtualGatewayClientTlsCertificateMemberSds{Value: types.VirtualGatewayListenerTlsSdsCertificate{SecretName: aws.String("me")}},
			Validation: &types.VirtualGatewayTlsValidationContext{Trust: &types.VirtualGatewayTlsValidationContextTrustMemberAcm{
				Value: types.VirtualGatewayTlsValidationContextAcmTrust{CertificateAuthorityArns: []string{"arn:aws:acm-pca:us-east-1:000000000000:certificate-authority/x"}}}},
		}}},
		Logging: &types.VirtualGatewayLogging{AccessLog: &types.VirtualGatewayAccessLogMemberFile{Value: types.VirtualGatewayFileAccessLog{
			Path: aws.String("/dev/stdout"), Format: &types.LoggingFormatMemberText{Value: "%START_TIME% %RESPONSE_CODE%"}}}},
	}
}

// httpGatewayRoute is an http gateway route that uses every part of the
// model's match and rewrite.
func httpGatewayRoute() *types.GatewayRouteSpec {
	return &types.GatewayRouteSpec{
		Priority: aws.Int32(10),
		HttpRoute: &types.HttpGatewayRoute{
			Match: &types.HttpGatewayRouteMatch{
				Prefix:   aws.String("/movies/"),
				Hostname: &types.GatewayRouteHostnameMatch{Suffix: aws.String(".example.com")},
				Headers: []types.HttpGatewayRouteHeader{{Name: aws.String("x-canary"), Invert: aws.Bool(true),
					Match: &types.HeaderMatchMethodMemberExact{Value: "never"}}},
				Method:          types.HttpMethodGet,
				Port:            aws.Int32(8080),
				QueryParameters: []types.HttpQueryParameter{{Name: aws.String("lang"), Match: &types.QueryParameterMatch{Exact: aws.String("en")}}},
			},
			Action: &types.HttpGatewayRouteAction{
				Target: &types.GatewayRouteTarget{VirtualService: &types.GatewayRouteVirtualService{VirtualServiceName: aws.String("movie.local")}, Port: aws.Int32(8080)},
				Rewrite: &types.HttpGatewayRouteRewrite{
					Prefix:   &types.HttpGatewayRoutePrefixRewrite{Value: aws.String("/v2/")},
					Hostname: &types.GatewayRouteHostnameRewrite{DefaultTargetHostname: types.DefaultGatewayRouteRewriteDisabled},
				},
			},
		},
	}
}

// gatewayWorld is the world of harness.world with virtual gateway gw
// (listener http 8080).
func (h *harness) gatewayWorld(t *testing.T) {
	t.Helper()
	h.world(t)
	mustDo(t, "CreateVirtualGateway", func() error {
		_, err := h.c.CreateVirtualGateway(context.Background(), &am.CreateVirtualGatewayInput{MeshName: aws.String("demo"),
			VirtualGatewayName: aws.String("gw"), Spec: gatewaySpec(8080),
			Tags: []types.TagRef{{Key: aws.String("role"), Value: aws.String("ingress")}}})
		return err
	})
}

// Every field a virtual gateway and a gateway route set comes back in
// their describes, lists and State; updates bump the version.
func TestGatewayRoundTrip(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.gatewayWorld(t)
	gw, err := h.c.DescribeVirtualGateway(ctx, &am.DescribeVirtualGatewayInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw")})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gw.VirtualGateway.Spec, gatewaySpec(8080)) {
		t.Fatalf("virtual gateway spec did not round-trip:\ngot  %#v\nwant %#v", gw.VirtualGateway.Spec, gatewaySpec(8080))
	}
	if aws.ToString(gw.VirtualGateway.Metadata.Arn) != "arn:aws:appmesh:us-east-1:000000000000:mesh/demo/virtualGateway/gw" ||
		gw.VirtualGateway.Status.Status != types.VirtualGatewayStatusCodeActive || aws.ToString(gw.VirtualGateway.VirtualGatewayName) != "gw" {
		t.Fatalf("virtual gateway = %+v", gw.VirtualGateway)
	}
	created, err := h.c.CreateGatewayRoute(ctx, &am.CreateGatewayRouteInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw"),
		GatewayRouteName: aws.String("movies"), Spec: httpGatewayRoute()})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(created.GatewayRoute.Spec, httpGatewayRoute()) {
		t.Fatalf("gateway route spec did not round-trip:\ngot  %#v\nwant %#v", created.GatewayRoute.Spec, httpGatewayRoute())
	}
	if aws.ToString(created.GatewayRoute.Metadata.Arn) != "arn:aws:appmesh:us-east-1:000000000000:mesh/demo/virtualGateway/gw/gatewayRoute/movies" {
		t.Fatalf("gateway route ARN = %s", aws.ToString(created.GatewayRoute.Metadata.Arn))
	}
	grpcSpec := &types.GatewayRouteSpec{GrpcRoute: &types.GrpcGatewayRoute{
		Match: &types.GrpcGatewayRouteMatch{ServiceName: aws.String("movie.Movies"), Hostname: &types.GatewayRouteHostnameMatch{Exact: aws.String("grpc.example.com")},
			Metadata: []types.GrpcGatewayRouteMetadata{{Name: aws.String("x-tier"), Match: &types.GrpcMetadataMatchMethodMemberRange{Value: types.MatchRange{Start: aws.Int64(1), End: aws.Int64(5)}}}}},
		Action: &types.GrpcGatewayRouteAction{Target: &types.GatewayRouteTarget{VirtualService: &types.GatewayRouteVirtualService{VirtualServiceName: aws.String("movie.local")}},
			Rewrite: &types.GrpcGatewayRouteRewrite{Hostname: &types.GatewayRouteHostnameRewrite{DefaultTargetHostname: types.DefaultGatewayRouteRewriteEnabled}}},
	}}
	mustDo(t, "CreateVirtualGateway grpc", func() error {
		spec := &types.VirtualGatewaySpec{Listeners: []types.VirtualGatewayListener{{PortMapping: &types.VirtualGatewayPortMapping{Port: aws.Int32(50051), Protocol: types.VirtualGatewayPortProtocolGrpc}}}}
		_, err := h.c.CreateVirtualGateway(ctx, &am.CreateVirtualGatewayInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw-grpc"), Spec: spec})
		return err
	})
	grpc, err := h.c.CreateGatewayRoute(ctx, &am.CreateGatewayRouteInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw-grpc"),
		GatewayRouteName: aws.String("movies-grpc"), Spec: grpcSpec})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(grpc.GatewayRoute.Spec, grpcSpec) {
		t.Fatalf("grpc gateway route spec did not round-trip:\ngot  %#v\nwant %#v", grpc.GatewayRoute.Spec, grpcSpec)
	}

	checkGatewayUpdates(t, h)
}

// checkGatewayUpdates updates the gateway route movies to a path match
// with its exact rewrite, and the gateway gw, and checks the versions in
// the describes, the lists and State.
func checkGatewayUpdates(t *testing.T, h *harness) {
	ctx := context.Background()
	pathSpec := &types.GatewayRouteSpec{HttpRoute: &types.HttpGatewayRoute{
		Match: &types.HttpGatewayRouteMatch{Path: &types.HttpPathMatch{Exact: aws.String("/top")}},
		Action: &types.HttpGatewayRouteAction{Target: &types.GatewayRouteTarget{VirtualService: &types.GatewayRouteVirtualService{VirtualServiceName: aws.String("movie.local")}},
			Rewrite: &types.HttpGatewayRouteRewrite{Path: &types.HttpGatewayRoutePathRewrite{Exact: aws.String("/movies/top")}}},
	}}
	updated, err := h.c.UpdateGatewayRoute(ctx, &am.UpdateGatewayRouteInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw"),
		GatewayRouteName: aws.String("movies"), Spec: pathSpec})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt64(updated.GatewayRoute.Metadata.Version) != 2 || !reflect.DeepEqual(updated.GatewayRoute.Spec, pathSpec) {
		t.Fatalf("UpdateGatewayRoute = %+v", updated.GatewayRoute)
	}
	described, err := h.c.DescribeGatewayRoute(ctx, &am.DescribeGatewayRouteInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw"), GatewayRouteName: aws.String("movies")})
	if err != nil || !reflect.DeepEqual(described.GatewayRoute.Spec, pathSpec) || aws.ToString(described.GatewayRoute.VirtualGatewayName) != "gw" {
		t.Fatalf("DescribeGatewayRoute = %+v, %v", described, err)
	}
	ugw, err := h.c.UpdateVirtualGateway(ctx, &am.UpdateVirtualGatewayInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw"), Spec: gatewaySpec(8080)})
	if err != nil || aws.ToInt64(ugw.VirtualGateway.Metadata.Version) != 2 {
		t.Fatalf("UpdateVirtualGateway = %+v, %v", ugw, err)
	}

	gws, err := h.c.ListVirtualGateways(ctx, &am.ListVirtualGatewaysInput{MeshName: aws.String("demo"), Limit: aws.Int32(1)})
	if err != nil || len(gws.VirtualGateways) != 1 || aws.ToString(gws.VirtualGateways[0].VirtualGatewayName) != "gw" || gws.NextToken == nil ||
		aws.ToInt64(gws.VirtualGateways[0].Version) != 2 {
		t.Fatalf("ListVirtualGateways = %+v, %v", gws, err)
	}
	grs, err := h.c.ListGatewayRoutes(ctx, &am.ListGatewayRoutesInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw")})
	if err != nil || len(grs.GatewayRoutes) != 1 || aws.ToString(grs.GatewayRoutes[0].GatewayRouteName) != "movies" ||
		aws.ToString(grs.GatewayRoutes[0].VirtualGatewayName) != "gw" || aws.ToInt64(grs.GatewayRoutes[0].Version) != 2 {
		t.Fatalf("ListGatewayRoutes = %+v, %v", grs, err)
	}
	st := h.fake.State().Meshes[0]
	if len(st.VirtualGateways) != 2 || st.VirtualGateways[0].VirtualGateway.VirtualGatewayName != "gw" ||
		len(st.VirtualGateways[0].GatewayRoutes) != 1 || st.VirtualGateways[0].GatewayRoutes[0].Spec.HTTPRoute.Match.Path.Exact != "/top" {
		t.Fatalf("State().VirtualGateways = %+v", st.VirtualGateways)
	}
}

// Deletes go leaves first: a gateway with routes, a virtual service a
// gateway route targets and a mesh with a gateway are in use.
func TestGatewayDeletes(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.gatewayWorld(t)
	mustDo(t, "CreateGatewayRoute", func() error {
		_, err := h.c.CreateGatewayRoute(ctx, &am.CreateGatewayRouteInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw"),
			GatewayRouteName: aws.String("movies"), Spec: httpGatewayRoute()})
		return err
	})
	var inUse *types.ResourceInUseException
	_, err := h.c.DeleteVirtualGateway(ctx, &am.DeleteVirtualGatewayInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw")})
	if !errors.As(err, &inUse) {
		t.Errorf("DeleteVirtualGateway with a route: %v, want ResourceInUseException", err)
	}
	_, err = h.c.DeleteVirtualService(ctx, &am.DeleteVirtualServiceInput{MeshName: aws.String("demo"), VirtualServiceName: aws.String("movie.local")})
	if !errors.As(err, &inUse) {
		t.Errorf("DeleteVirtualService targeted by a gateway route: %v, want ResourceInUseException", err)
	}
	deleted, err := h.c.DeleteGatewayRoute(ctx, &am.DeleteGatewayRouteInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw"), GatewayRouteName: aws.String("movies")})
	if err != nil || deleted.GatewayRoute.Status.Status != types.GatewayRouteStatusCodeDeleted {
		t.Fatalf("DeleteGatewayRoute = %+v, %v", deleted, err)
	}
	for _, name := range []string{"movie-route"} {
		mustDo(t, "DeleteRoute", func() error {
			_, err := h.c.DeleteRoute(ctx, &am.DeleteRouteInput{MeshName: aws.String("demo"), VirtualRouterName: aws.String("movie-router"), RouteName: aws.String(name)})
			return err
		})
	}
	mustDo(t, "DeleteVirtualService", func() error {
		_, err := h.c.DeleteVirtualService(ctx, &am.DeleteVirtualServiceInput{MeshName: aws.String("demo"), VirtualServiceName: aws.String("movie.local")})
		return err
	})
	for _, n := range []string{"movie-v1", "movie-v2"} {
		mustDo(t, "DeleteVirtualNode", func() error {
			_, err := h.c.DeleteVirtualNode(ctx, &am.DeleteVirtualNodeInput{MeshName: aws.String("demo"), VirtualNodeName: aws.String(n)})
			return err
		})
	}
	mustDo(t, "DeleteVirtualRouter", func() error {
		_, err := h.c.DeleteVirtualRouter(ctx, &am.DeleteVirtualRouterInput{MeshName: aws.String("demo"), VirtualRouterName: aws.String("movie-router")})
		return err
	})
	_, err = h.c.DeleteMesh(ctx, &am.DeleteMeshInput{MeshName: aws.String("demo")})
	if !errors.As(err, &inUse) {
		t.Errorf("DeleteMesh with a gateway: %v, want ResourceInUseException", err)
	}
	gw, err := h.c.DeleteVirtualGateway(ctx, &am.DeleteVirtualGatewayInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw")})
	if err != nil || gw.VirtualGateway.Status.Status != types.VirtualGatewayStatusCodeDeleted {
		t.Fatalf("DeleteVirtualGateway = %+v, %v", gw, err)
	}
	if _, err := h.c.DeleteMesh(ctx, &am.DeleteMeshInput{MeshName: aws.String("demo")}); err != nil {
		t.Fatalf("DeleteMesh: %v", err)
	}
}

func TestGatewayErrors(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.gatewayWorld(t)
	target := &types.GatewayRouteTarget{VirtualService: &types.GatewayRouteVirtualService{VirtualServiceName: aws.String("movie.local")}}
	httpSpec := func(m *types.HttpGatewayRouteMatch, rw *types.HttpGatewayRouteRewrite) *types.GatewayRouteSpec {
		return &types.GatewayRouteSpec{HttpRoute: &types.HttpGatewayRoute{Match: m, Action: &types.HttpGatewayRouteAction{Target: target, Rewrite: rw}}}
	}
	listener := func(proto types.VirtualGatewayPortProtocol) *types.VirtualGatewaySpec {
		return &types.VirtualGatewaySpec{Listeners: []types.VirtualGatewayListener{{PortMapping: &types.VirtualGatewayPortMapping{Port: aws.Int32(80), Protocol: proto}}}}
	}
	for _, tc := range []struct {
		name, code string
		call       func() error
	}{
		{"gateway exists", "ConflictException", func() error {
			_, err := h.c.CreateVirtualGateway(ctx, &am.CreateVirtualGatewayInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw"), Spec: gatewaySpec(8080)})
			return err
		}},
		{"gateway in unknown mesh", "NotFoundException", func() error {
			_, err := h.c.CreateVirtualGateway(ctx, &am.CreateVirtualGatewayInput{MeshName: aws.String("nope"), VirtualGatewayName: aws.String("gw"), Spec: gatewaySpec(8080)})
			return err
		}},
		{"tcp listener", "BadRequestException", func() error {
			_, err := h.c.CreateVirtualGateway(ctx, &am.CreateVirtualGatewayInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("g2"), Spec: listener("tcp")})
			return err
		}},
		{"two listeners", "BadRequestException", func() error {
			spec := listener("http")
			spec.Listeners = append(spec.Listeners, listener("grpc").Listeners...)
			_, err := h.c.CreateVirtualGateway(ctx, &am.CreateVirtualGatewayInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("g2"), Spec: spec})
			return err
		}},
		{"describe unknown gateway", "NotFoundException", func() error {
			_, err := h.c.DescribeVirtualGateway(ctx, &am.DescribeVirtualGatewayInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("none")})
			return err
		}},
		{"route of unknown gateway", "NotFoundException", func() error {
			_, err := h.c.CreateGatewayRoute(ctx, &am.CreateGatewayRouteInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("none"),
				GatewayRouteName: aws.String("r"), Spec: httpGatewayRoute()})
			return err
		}},
		{"unknown virtual service", "NotFoundException", func() error {
			spec := httpSpec(&types.HttpGatewayRouteMatch{Prefix: aws.String("/")}, nil)
			spec.HttpRoute.Action.Target = &types.GatewayRouteTarget{VirtualService: &types.GatewayRouteVirtualService{VirtualServiceName: aws.String("none.local")}}
			_, err := h.c.CreateGatewayRoute(ctx, &am.CreateGatewayRouteInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw"), GatewayRouteName: aws.String("r"), Spec: spec})
			return err
		}},
		{"protocol of no listener", "BadRequestException", func() error {
			spec := &types.GatewayRouteSpec{GrpcRoute: &types.GrpcGatewayRoute{Match: &types.GrpcGatewayRouteMatch{ServiceName: aws.String("s")},
				Action: &types.GrpcGatewayRouteAction{Target: target}}}
			_, err := h.c.CreateGatewayRoute(ctx, &am.CreateGatewayRouteInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw"), GatewayRouteName: aws.String("r"), Spec: spec})
			return err
		}},
		{"port of no listener", "BadRequestException", func() error {
			spec := httpSpec(&types.HttpGatewayRouteMatch{Prefix: aws.String("/"), Port: aws.Int32(9999)}, nil)
			_, err := h.c.CreateGatewayRoute(ctx, &am.CreateGatewayRouteInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw"), GatewayRouteName: aws.String("r"), Spec: spec})
			return err
		}},
		{"prefix and path", "BadRequestException", func() error {
			spec := httpSpec(&types.HttpGatewayRouteMatch{Prefix: aws.String("/"), Path: &types.HttpPathMatch{Exact: aws.String("/a")}}, nil)
			_, err := h.c.CreateGatewayRoute(ctx, &am.CreateGatewayRouteInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw"), GatewayRouteName: aws.String("r"), Spec: spec})
			return err
		}},
		{"prefix rewrite of a path match", "BadRequestException", func() error {
			spec := httpSpec(&types.HttpGatewayRouteMatch{Path: &types.HttpPathMatch{Exact: aws.String("/a")}},
				&types.HttpGatewayRouteRewrite{Prefix: &types.HttpGatewayRoutePrefixRewrite{Value: aws.String("/b/")}})
			_, err := h.c.CreateGatewayRoute(ctx, &am.CreateGatewayRouteInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw"), GatewayRouteName: aws.String("r"), Spec: spec})
			return err
		}},
		{"path rewrite of a prefix match", "BadRequestException", func() error {
			spec := httpSpec(&types.HttpGatewayRouteMatch{Prefix: aws.String("/a")},
				&types.HttpGatewayRouteRewrite{Path: &types.HttpGatewayRoutePathRewrite{Exact: aws.String("/b")}})
			_, err := h.c.CreateGatewayRoute(ctx, &am.CreateGatewayRouteInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw"), GatewayRouteName: aws.String("r"), Spec: spec})
			return err
		}},
		{"hostname exact and suffix", "BadRequestException", func() error {
			spec := httpSpec(&types.HttpGatewayRouteMatch{Hostname: &types.GatewayRouteHostnameMatch{Exact: aws.String("a"), Suffix: aws.String("b")}}, nil)
			_, err := h.c.CreateGatewayRoute(ctx, &am.CreateGatewayRouteInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw"), GatewayRouteName: aws.String("r"), Spec: spec})
			return err
		}},
		{"prefix without slash", "BadRequestException", func() error {
			spec := httpSpec(&types.HttpGatewayRouteMatch{Prefix: aws.String("movies")}, nil)
			_, err := h.c.CreateGatewayRoute(ctx, &am.CreateGatewayRouteInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw"), GatewayRouteName: aws.String("r"), Spec: spec})
			return err
		}},
		{"listener change leaves a route", "BadRequestException", func() error {
			mustDo(t, "CreateGatewayRoute", func() error {
				_, err := h.c.CreateGatewayRoute(ctx, &am.CreateGatewayRouteInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw"),
					GatewayRouteName: aws.String("keep"), Spec: httpSpec(&types.HttpGatewayRouteMatch{Prefix: aws.String("/")}, nil)})
				return err
			})
			_, err := h.c.UpdateVirtualGateway(ctx, &am.UpdateVirtualGatewayInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw"), Spec: listener("grpc")})
			return err
		}},
		{"gateway route exists", "ConflictException", func() error {
			_, err := h.c.CreateGatewayRoute(ctx, &am.CreateGatewayRouteInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw"),
				GatewayRouteName: aws.String("keep"), Spec: httpSpec(&types.HttpGatewayRouteMatch{Prefix: aws.String("/")}, nil)})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := apiCode(tc.call()); got != tc.code {
				t.Errorf("error code = %q, want %s", got, tc.code)
			}
		})
	}
}

// Tags given at creation, and by TagResource, are listed by
// ListTagsForResource (paged) until UntagResource removes them or the
// resource is deleted.
func TestTags(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.gatewayWorld(t)
	arn := aws.String("arn:aws:appmesh:us-east-1:000000000000:mesh/demo/virtualGateway/gw")
	list := func(arn *string) string {
		t.Helper()
		s := ""
		for p := am.NewListTagsForResourcePaginator(h.c, &am.ListTagsForResourceInput{ResourceArn: arn, Limit: aws.Int32(1)}); p.HasMorePages(); {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, tg := range out.Tags {
				s += aws.ToString(tg.Key) + "=" + aws.ToString(tg.Value) + ";"
			}
		}
		return s
	}
	if got := list(arn); got != "role=ingress;" {
		t.Errorf("tags from CreateVirtualGateway = %q", got)
	}
	if _, err := h.c.TagResource(ctx, &am.TagResourceInput{ResourceArn: arn, Tags: []types.TagRef{
		{Key: aws.String("team"), Value: aws.String("edge")}, {Key: aws.String("role"), Value: aws.String("front")}}}); err != nil {
		t.Fatal(err)
	}
	if got := list(arn); got != "role=front;team=edge;" {
		t.Errorf("tags after TagResource = %q", got)
	}
	if _, err := h.c.UntagResource(ctx, &am.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"role"}}); err != nil {
		t.Fatal(err)
	}
	if got := list(arn); got != "team=edge;" {
		t.Errorf("tags after UntagResource = %q", got)
	}
	node := aws.String("arn:aws:appmesh:us-east-1:000000000000:mesh/demo/virtualNode/movie-v1")
	if got := list(node); got != "" {
		t.Errorf("tags of an untagged node = %q", got)
	}
	var many []types.TagRef
	for i := range 50 {
		many = append(many, types.TagRef{Key: aws.String(fmt.Sprint("k", i)), Value: aws.String("v")})
	}
	_, err := h.c.TagResource(ctx, &am.TagResourceInput{ResourceArn: arn, Tags: many})
	var tooMany *types.TooManyTagsException
	if !errors.As(err, &tooMany) {
		t.Errorf("51 tags: %v, want TooManyTagsException", err)
	}
	gone := aws.String("arn:aws:appmesh:us-east-1:000000000000:mesh/demo/virtualNode/none")
	var nf *types.NotFoundException
	if _, err := h.c.ListTagsForResource(ctx, &am.ListTagsForResourceInput{ResourceArn: gone}); !errors.As(err, &nf) {
		t.Errorf("ListTagsForResource of an unknown ARN: %v, want NotFoundException", err)
	}
	if _, err := h.c.TagResource(ctx, &am.TagResourceInput{ResourceArn: gone, Tags: []types.TagRef{}}); !errors.As(err, &nf) {
		t.Errorf("TagResource of an unknown ARN: %v, want NotFoundException", err)
	}
	if _, err := h.c.UntagResource(ctx, &am.UntagResourceInput{ResourceArn: gone, TagKeys: []string{}}); !errors.As(err, &nf) {
		t.Errorf("UntagResource of an unknown ARN: %v, want NotFoundException", err)
	}
	mustDo(t, "DeleteVirtualGateway", func() error {
		_, err := h.c.DeleteVirtualGateway(ctx, &am.DeleteVirtualGatewayInput{MeshName: aws.String("demo"), VirtualGatewayName: aws.String("gw")})
		return err
	})
	if _, err := h.c.ListTagsForResource(ctx, &am.ListTagsForResourceInput{ResourceArn: arn}); !errors.As(err, &nf) {
		t.Errorf("tags of a deleted gateway: %v, want NotFoundException", err)
	}
	mesh, err := h.c.CreateMesh(ctx, &am.CreateMeshInput{MeshName: aws.String("tagged"), Tags: []types.TagRef{{Key: aws.String("a"), Value: aws.String("b")}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := list(mesh.Mesh.Metadata.Arn); got != "a=b;" {
		t.Errorf("tags from CreateMesh = %q", got)
	}
}
