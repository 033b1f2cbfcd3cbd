package appmesh

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	am "github.com/aws/aws-sdk-go-v2/service/appmesh"
	"github.com/aws/aws-sdk-go-v2/service/appmesh/types"
	"github.com/aws/smithy-go"

	"github.com/meshsim/meshsim/sim/awsclient"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/endpoint"
	"github.com/meshsim/meshsim/sim/events"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

type harness struct {
	fake *Fake
	bus  *events.Bus
	url  string
	c    *am.Client
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	bus := events.NewBus(0)
	f := New(Options{Bus: bus})
	ep := endpoint.New(bus)
	ep.HandlePath(PathPrefix, f)
	srv := httptest.NewServer(ep)
	t.Cleanup(srv.Close)
	return &harness{fake: f, bus: bus, url: srv.URL, c: awsclient.New(srv.URL, "us-east-1").AppMesh}
}

func ms(v int64) *types.Duration {
	return &types.Duration{Unit: types.DurationUnitMs, Value: aws.Int64(v)}
}

// nodeSpec is a virtual node spec that uses every part of the model.
func nodeSpec(version string) *types.VirtualNodeSpec {
	return &types.VirtualNodeSpec{
		Listeners: []types.Listener{{
			PortMapping: &types.PortMapping{Port: aws.Int32(8080), Protocol: types.PortProtocolHttp},
			HealthCheck: &types.HealthCheckPolicy{
				HealthyThreshold: aws.Int32(2), UnhealthyThreshold: aws.Int32(3), IntervalMillis: aws.Int64(5000),
				TimeoutMillis: aws.Int64(2000), Protocol: types.PortProtocolHttp, Path: aws.String("/health"), Port: aws.Int32(8080),
			},
			OutlierDetection: &types.OutlierDetection{
				MaxServerErrors: aws.Int64(5), Interval: ms(10000), BaseEjectionDuration: ms(30000), MaxEjectionPercent: aws.Int32(0),
			},
			ConnectionPool: &types.VirtualNodeConnectionPoolMemberHttp{Value: types.VirtualNodeHttpConnectionPool{
				MaxConnections: aws.Int32(100), MaxPendingRequests: aws.Int32(10),
			}},
			Timeout: &types.ListenerTimeoutMemberHttp{Value: types.HttpTimeout{PerRequest: ms(15000), Idle: ms(300000)}},
		}},
		Backends: []types.Backend{&types.BackendMemberVirtualService{Value: types.VirtualServiceBackend{
			VirtualServiceName: aws.String("db.local"),
		}}},
		ServiceDiscovery: &types.ServiceDiscoveryMemberAwsCloudMap{Value: types.AwsCloudMapServiceDiscovery{
			NamespaceName: aws.String("apps"), ServiceName: aws.String("movie"),
			Attributes: []types.AwsCloudMapInstanceAttribute{{Key: aws.String("version"), Value: aws.String(version)}},
		}},
		Logging: &types.Logging{AccessLog: &types.AccessLogMemberFile{Value: types.FileAccessLog{Path: aws.String("/dev/stdout")}}},
	}
}

func httpRoute(weights ...int32) *types.RouteSpec {
	targets := []types.WeightedTarget{
		{VirtualNode: aws.String("movie-v1"), Weight: weights[0]},
		{VirtualNode: aws.String("movie-v2"), Weight: weights[1]},
	}
	return &types.RouteSpec{
		Priority: aws.Int32(10),
		HttpRoute: &types.HttpRoute{
			Match: &types.HttpRouteMatch{
				Prefix: aws.String("/"),
				Headers: []types.HttpRouteHeader{{
					Name: aws.String("x-canary"), Invert: aws.Bool(true),
					Match: &types.HeaderMatchMethodMemberExact{Value: "yes"},
				}},
			},
			Action: &types.HttpRouteAction{WeightedTargets: targets},
			RetryPolicy: &types.HttpRetryPolicy{
				MaxRetries: aws.Int64(2), PerRetryTimeout: ms(1000),
				HttpRetryEvents: []string{"server-error", "gateway-error"},
				TcpRetryEvents:  []types.TcpRetryPolicyEvent{types.TcpRetryPolicyEventConnectionError},
			},
			Timeout: &types.HttpTimeout{PerRequest: ms(15000)},
		},
	}
}

// world creates mesh "demo" with nodes movie-v1 and movie-v2, router
// movie-router with route movie-route (75/25), and service movie.local.
func (h *harness) world(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	mustDo(t, "CreateMesh", func() error {
		_, err := h.c.CreateMesh(ctx, &am.CreateMeshInput{MeshName: aws.String("demo"),
			Spec: &types.MeshSpec{EgressFilter: &types.EgressFilter{Type: types.EgressFilterTypeAllowAll}}})
		return err
	})
	for _, v := range []string{"v1", "v2"} {
		mustDo(t, "CreateVirtualNode", func() error {
			_, err := h.c.CreateVirtualNode(ctx, &am.CreateVirtualNodeInput{MeshName: aws.String("demo"),
				VirtualNodeName: aws.String("movie-" + v), Spec: nodeSpec(v)})
			return err
		})
	}
	mustDo(t, "CreateVirtualRouter", func() error {
		_, err := h.c.CreateVirtualRouter(ctx, &am.CreateVirtualRouterInput{MeshName: aws.String("demo"),
			VirtualRouterName: aws.String("movie-router"), Spec: &types.VirtualRouterSpec{Listeners: []types.VirtualRouterListener{
				{PortMapping: &types.PortMapping{Port: aws.Int32(8080), Protocol: types.PortProtocolHttp}},
			}}})
		return err
	})
	mustDo(t, "CreateRoute", func() error {
		_, err := h.c.CreateRoute(ctx, &am.CreateRouteInput{MeshName: aws.String("demo"), VirtualRouterName: aws.String("movie-router"),
			RouteName: aws.String("movie-route"), Spec: httpRoute(75, 25)})
		return err
	})
	mustDo(t, "CreateVirtualService", func() error {
		_, err := h.c.CreateVirtualService(ctx, &am.CreateVirtualServiceInput{MeshName: aws.String("demo"),
			VirtualServiceName: aws.String("movie.local"), Spec: &types.VirtualServiceSpec{
				Provider: &types.VirtualServiceProviderMemberVirtualRouter{Value: types.VirtualRouterServiceProvider{VirtualRouterName: aws.String("movie-router")}},
			}})
		return err
	})
}

func mustDo(t *testing.T, what string, f func() error) {
	t.Helper()
	if err := f(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestMeshLifecycle(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	start := time.Now().Add(-time.Second)

	created, err := h.c.CreateMesh(ctx, &am.CreateMeshInput{MeshName: aws.String("demo")})
	if err != nil {
		t.Fatal(err)
	}
	md := created.Mesh.Metadata
	if aws.ToString(md.Arn) != "arn:aws:appmesh:us-east-1:000000000000:mesh/demo" || aws.ToInt64(md.Version) != 1 ||
		aws.ToString(md.MeshOwner) != "000000000000" || aws.ToString(md.ResourceOwner) != "000000000000" ||
		len(aws.ToString(md.Uid)) != 36 || md.CreatedAt.Before(start) || !md.LastUpdatedAt.Equal(*md.CreatedAt) {
		t.Fatalf("metadata = %+v", md)
	}
	if created.Mesh.Status.Status != types.MeshStatusCodeActive {
		t.Fatalf("status = %s", created.Mesh.Status.Status)
	}

	updated, err := h.c.UpdateMesh(ctx, &am.UpdateMeshInput{MeshName: aws.String("demo"),
		Spec: &types.MeshSpec{EgressFilter: &types.EgressFilter{Type: types.EgressFilterTypeDropAll}}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt64(updated.Mesh.Metadata.Version) != 2 || updated.Mesh.Spec.EgressFilter.Type != types.EgressFilterTypeDropAll ||
		aws.ToString(updated.Mesh.Metadata.Uid) != aws.ToString(md.Uid) {
		t.Fatalf("UpdateMesh = %+v", updated.Mesh)
	}
	described, err := h.c.DescribeMesh(ctx, &am.DescribeMeshInput{MeshName: aws.String("demo")})
	if err != nil || aws.ToInt64(described.Mesh.Metadata.Version) != 2 {
		t.Fatalf("DescribeMesh = %+v, %v", described, err)
	}
	list, err := h.c.ListMeshes(ctx, &am.ListMeshesInput{})
	if err != nil || len(list.Meshes) != 1 || aws.ToString(list.Meshes[0].MeshName) != "demo" || aws.ToInt64(list.Meshes[0].Version) != 2 {
		t.Fatalf("ListMeshes = %+v, %v", list, err)
	}

	deleted, err := h.c.DeleteMesh(ctx, &am.DeleteMeshInput{MeshName: aws.String("demo")})
	if err != nil || deleted.Mesh.Status.Status != types.MeshStatusCodeDeleted {
		t.Fatalf("DeleteMesh = %+v, %v", deleted, err)
	}
	_, err = h.c.DescribeMesh(ctx, &am.DescribeMeshInput{MeshName: aws.String("demo")})
	var nf *types.NotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("DescribeMesh after delete err = %v, want NotFoundException", err)
	}
}

func TestSpecsRoundTrip(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.world(t)

	node, err := h.c.DescribeVirtualNode(ctx, &am.DescribeVirtualNodeInput{MeshName: aws.String("demo"), VirtualNodeName: aws.String("movie-v1")})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(node.VirtualNode.Spec, nodeSpec("v1")) {
		t.Fatalf("virtual node spec did not round-trip:\ngot  %#v\nwant %#v", node.VirtualNode.Spec, nodeSpec("v1"))
	}
	if aws.ToString(node.VirtualNode.Metadata.Arn) != "arn:aws:appmesh:us-east-1:000000000000:mesh/demo/virtualNode/movie-v1" {
		t.Fatalf("node ARN = %s", aws.ToString(node.VirtualNode.Metadata.Arn))
	}

	route, err := h.c.DescribeRoute(ctx, &am.DescribeRouteInput{MeshName: aws.String("demo"),
		VirtualRouterName: aws.String("movie-router"), RouteName: aws.String("movie-route")})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(route.Route.Spec, httpRoute(75, 25)) {
		t.Fatalf("route spec did not round-trip:\ngot  %#v\nwant %#v", route.Route.Spec, httpRoute(75, 25))
	}
	if aws.ToString(route.Route.Metadata.Arn) != "arn:aws:appmesh:us-east-1:000000000000:mesh/demo/virtualRouter/movie-router/route/movie-route" {
		t.Fatalf("route ARN = %s", aws.ToString(route.Route.Metadata.Arn))
	}

	svc, err := h.c.DescribeVirtualService(ctx, &am.DescribeVirtualServiceInput{MeshName: aws.String("demo"), VirtualServiceName: aws.String("movie.local")})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := svc.VirtualService.Spec.Provider.(*types.VirtualServiceProviderMemberVirtualRouter)
	if !ok || aws.ToString(p.Value.VirtualRouterName) != "movie-router" ||
		aws.ToString(svc.VirtualService.Metadata.Arn) != "arn:aws:appmesh:us-east-1:000000000000:mesh/demo/virtualService/movie.local" {
		t.Fatalf("virtual service = %+v", svc.VirtualService)
	}
	router, err := h.c.DescribeVirtualRouter(ctx, &am.DescribeVirtualRouterInput{MeshName: aws.String("demo"), VirtualRouterName: aws.String("movie-router")})
	if err != nil || aws.ToInt32(router.VirtualRouter.Spec.Listeners[0].PortMapping.Port) != 8080 ||
		aws.ToString(router.VirtualRouter.Metadata.Arn) != "arn:aws:appmesh:us-east-1:000000000000:mesh/demo/virtualRouter/movie-router" {
		t.Fatalf("DescribeVirtualRouter = %+v, %v", router, err)
	}
}

// TestRawJSONRoundTrip checks at the wire that specs come back as sent, for
// members the SDK test above does not use.
func TestRawJSONRoundTrip(t *testing.T) {
	h := newHarness(t)
	put := func(path, body string) map[string]any {
		t.Helper()
		req, err := http.NewRequest(http.MethodPut, h.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT %s: %d %s", path, resp.StatusCode, b)
		}
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	sameJSON := func(t *testing.T, got any, want string) {
		t.Helper()
		var w any
		if err := json.Unmarshal([]byte(want), &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, w) {
			g, _ := json.Marshal(got)
			t.Fatalf("spec did not round-trip:\ngot  %s\nwant %s", g, want)
		}
	}

	put("/v20190125/meshes", `{"meshName":"raw","spec":{"serviceDiscovery":{"ipPreference":"IPv4_ONLY"}}}`)
	nodeSpec := `{"listeners":[{"portMapping":{"port":50051,"protocol":"grpc"},
		"connectionPool":{"grpc":{"maxRequests":64}},
		"timeout":{"grpc":{"idle":{"unit":"s","value":0},"perRequest":{"unit":"s","value":5}}},
		"tls":{"mode":"PERMISSIVE","certificate":{"file":{"certificateChain":"/c.pem","privateKey":"/k.pem"}},
			"validation":{"trust":{"sds":{"secretName":"ca"}},"subjectAlternativeNames":{"match":{"exact":["a.local"]}}}}}],
		"backends":[{"virtualService":{"virtualServiceName":"db.local","clientPolicy":{"tls":{"enforce":false,"ports":[5432],
			"validation":{"trust":{"acm":{"certificateAuthorityArns":["arn:aws:acm-pca:us-east-1:000000000000:certificate-authority/x"]}}}}}}}],
		"backendDefaults":{"clientPolicy":{"tls":{"validation":{"trust":{"file":{"certificateChain":"/ca.pem"}}}}}},
		"serviceDiscovery":{"dns":{"hostname":"grpc.local","responseType":"ENDPOINTS","ipPreference":"IPv4_PREFERRED"}},
		"logging":{"accessLog":{"file":{"path":"/dev/stdout","format":{"json":[{"key":"status","value":"%RESPONSE_CODE%"}]}}}}}`
	out := put("/v20190125/meshes/raw/virtualNodes", `{"virtualNodeName":"grpc-v1","spec":`+nodeSpec+`}`)
	sameJSON(t, out["spec"], nodeSpec)
	put("/v20190125/meshes/raw/virtualNodes", `{"virtualNodeName":"grpc-v2","spec":`+nodeSpec+`}`)
	put("/v20190125/meshes/raw/virtualRouters", `{"virtualRouterName":"r","spec":{"listeners":[
		{"portMapping":{"port":50051,"protocol":"grpc"}},{"portMapping":{"port":9000,"protocol":"tcp"}}]}}`)

	grpcSpec := `{"priority":0,"grpcRoute":{"match":{"serviceName":"movie.Movies","methodName":"Get","port":50051,
		"metadata":[{"name":"x-tier","invert":false,"match":{"range":{"start":1,"end":5}}},{"name":"x-user","match":{"suffix":"@corp"}}]},
		"action":{"weightedTargets":[{"virtualNode":"grpc-v1","weight":100,"port":50051},{"virtualNode":"grpc-v2","weight":0}]},
		"retryPolicy":{"maxRetries":0,"perRetryTimeout":{"unit":"ms","value":250},"grpcRetryEvents":["unavailable","cancelled"]},
		"timeout":{"perRequest":{"unit":"s","value":2}}}}`
	out = put("/v20190125/meshes/raw/virtualRouter/r/routes", `{"routeName":"g","spec":`+grpcSpec+`}`)
	sameJSON(t, out["spec"], grpcSpec)

	tcpSpec := `{"tcpRoute":{"match":{"port":9000},"action":{"weightedTargets":[{"virtualNode":"grpc-v1","weight":1}]},
		"timeout":{"idle":{"unit":"s","value":600}}}}`
	out = put("/v20190125/meshes/raw/virtualRouter/r/routes", `{"routeName":"t","spec":`+tcpSpec+`}`)
	sameJSON(t, out["spec"], tcpSpec)

	httpSpec := `{"http2Route":{"match":{"path":{"regex":"/v[0-9]+/.*"},"method":"POST","scheme":"https",
		"queryParameters":[{"name":"debug","match":{"exact":"1"}}]},
		"action":{"weightedTargets":[{"virtualNode":"grpc-v1","weight":1}]}}}`
	put("/v20190125/meshes/raw/virtualRouters", `{"virtualRouterName":"h2","spec":{"listeners":[{"portMapping":{"port":80,"protocol":"http2"}}]}}`)
	out = put("/v20190125/meshes/raw/virtualRouter/h2/routes", `{"routeName":"h","spec":`+httpSpec+`}`)
	sameJSON(t, out["spec"], httpSpec)
}

func TestUpdateRoute(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.world(t)
	watchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	watch := h.fake.Watch(watchCtx)

	before, err := h.c.DescribeRoute(ctx, &am.DescribeRouteInput{MeshName: aws.String("demo"),
		VirtualRouterName: aws.String("movie-router"), RouteName: aws.String("movie-route")})
	if err != nil {
		t.Fatal(err)
	}
	for i, weights := range [][2]int32{{50, 50}, {0, 100}} {
		out, err := h.c.UpdateRoute(ctx, &am.UpdateRouteInput{MeshName: aws.String("demo"), VirtualRouterName: aws.String("movie-router"),
			RouteName: aws.String("movie-route"), Spec: httpRoute(weights[0], weights[1])})
		if err != nil {
			t.Fatal(err)
		}
		md := out.Route.Metadata
		if aws.ToInt64(md.Version) != int64(i+2) || md.LastUpdatedAt.Before(*md.CreatedAt) ||
			!md.CreatedAt.Equal(*before.Route.Metadata.CreatedAt) || aws.ToString(md.Uid) != aws.ToString(before.Route.Metadata.Uid) {
			t.Fatalf("update %d metadata = %+v", i, md)
		}
		select { // the fake notifies before it answers
		case <-watch:
		default:
			t.Fatal("Watch did not fire after UpdateRoute")
		}
	}
	got, err := h.c.DescribeRoute(ctx, &am.DescribeRouteInput{MeshName: aws.String("demo"),
		VirtualRouterName: aws.String("movie-router"), RouteName: aws.String("movie-route")})
	if err != nil {
		t.Fatal(err)
	}
	targets := got.Route.Spec.HttpRoute.Action.WeightedTargets
	if targets[0].Weight != 0 || targets[1].Weight != 100 || aws.ToInt64(got.Route.Metadata.Version) != 3 {
		t.Fatalf("route after updates = %+v version %d", targets, aws.ToInt64(got.Route.Metadata.Version))
	}

	// State reflects the API.
	st := h.fake.State()
	rs := st.Meshes[0].VirtualRouters[0].Routes[0]
	if rs.RouteName != "movie-route" || rs.Metadata.Version != 3 || *rs.Spec.HTTPRoute.Action.WeightedTargets[1].Weight != 100 {
		t.Fatalf("State route = %+v", rs)
	}

	// The events tell the weights of each version.
	subCtx, stop := context.WithTimeout(ctx, 5*time.Second)
	defer stop()
	var routeEvents []events.Event
	for e := range h.bus.Subscribe(subCtx, 0) {
		if strings.HasPrefix(string(e.Type), "route.") {
			routeEvents = append(routeEvents, e)
		}
		if len(routeEvents) == 3 {
			break
		}
	}
	want := []struct {
		typ              contract.EventType
		weights, version string
	}{
		{contract.EventRouteCreated, "movie-v1=75,movie-v2=25", "1"},
		{contract.EventRouteUpdated, "movie-v1=50,movie-v2=50", "2"},
		{contract.EventRouteUpdated, "movie-v1=0,movie-v2=100", "3"},
	}
	if len(routeEvents) != len(want) {
		t.Fatalf("route events = %+v", routeEvents)
	}
	for i, w := range want {
		e := routeEvents[i]
		if e.Source != contract.SourceAppMesh || e.Type != w.typ || e.Detail[contract.DetailWeights] != w.weights || e.Detail[contract.DetailVersion] != w.version ||
			e.Resource != "arn:aws:appmesh:us-east-1:000000000000:mesh/demo/virtualRouter/movie-router/route/movie-route" {
			t.Fatalf("event %d = %+v, want %+v", i, e, w)
		}
	}
}

func apiCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

func TestErrors(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.world(t)
	demo := aws.String("demo")
	router := aws.String("movie-router")

	route := func(mutate func(*types.RouteSpec)) *types.RouteSpec {
		s := httpRoute(75, 25)
		mutate(s)
		return s
	}
	createRoute := func(name string, spec *types.RouteSpec) error {
		_, err := h.c.CreateRoute(ctx, &am.CreateRouteInput{MeshName: demo, VirtualRouterName: router, RouteName: aws.String(name), Spec: spec})
		return err
	}
	tests := []struct {
		name    string
		call    func() error
		code    string
		message string
	}{
		{"describe missing mesh", func() error {
			_, err := h.c.DescribeMesh(ctx, &am.DescribeMeshInput{MeshName: aws.String("nope")})
			return err
		}, "NotFoundException", "Mesh with name nope is not present"},
		{"describe missing node", func() error {
			_, err := h.c.DescribeVirtualNode(ctx, &am.DescribeVirtualNodeInput{MeshName: demo, VirtualNodeName: aws.String("x")})
			return err
		}, "NotFoundException", "VirtualNode with name x is not present under mesh demo for account 000000000000"},
		{"describe missing service", func() error {
			_, err := h.c.DescribeVirtualService(ctx, &am.DescribeVirtualServiceInput{MeshName: demo, VirtualServiceName: aws.String("x")})
			return err
		}, "NotFoundException", "VirtualService with name x"},
		{"describe missing router", func() error {
			_, err := h.c.DescribeVirtualRouter(ctx, &am.DescribeVirtualRouterInput{MeshName: demo, VirtualRouterName: aws.String("x")})
			return err
		}, "NotFoundException", "VirtualRouter with name x"},
		{"describe missing route", func() error {
			_, err := h.c.DescribeRoute(ctx, &am.DescribeRouteInput{MeshName: demo, VirtualRouterName: router, RouteName: aws.String("x")})
			return err
		}, "NotFoundException", "Route with name x"},
		{"route in missing router", func() error {
			_, err := h.c.CreateRoute(ctx, &am.CreateRouteInput{MeshName: demo, VirtualRouterName: aws.String("x"), RouteName: aws.String("r"), Spec: httpRoute(1, 1)})
			return err
		}, "NotFoundException", "VirtualRouter with name x"},
		{"node in missing mesh", func() error {
			_, err := h.c.CreateVirtualNode(ctx, &am.CreateVirtualNodeInput{MeshName: aws.String("nope"), VirtualNodeName: aws.String("n"), Spec: nodeSpec("v1")})
			return err
		}, "NotFoundException", "Mesh with name nope"},
		{"other mesh owner", func() error {
			_, err := h.c.DescribeMesh(ctx, &am.DescribeMeshInput{MeshName: demo, MeshOwner: aws.String("111111111111")})
			return err
		}, "NotFoundException", "account 111111111111"},
		{"duplicate mesh", func() error {
			_, err := h.c.CreateMesh(ctx, &am.CreateMeshInput{MeshName: demo})
			return err
		}, "ConflictException", "already exists"},
		{"duplicate node", func() error {
			_, err := h.c.CreateVirtualNode(ctx, &am.CreateVirtualNodeInput{MeshName: demo, VirtualNodeName: aws.String("movie-v1"), Spec: nodeSpec("v1")})
			return err
		}, "ConflictException", "VirtualNode with name movie-v1 already exists"},
		{"duplicate route", func() error { return createRoute("movie-route", httpRoute(1, 1)) }, "ConflictException", "Route with name movie-route already exists"},
		{"weight above 100", func() error {
			return createRoute("r", route(func(s *types.RouteSpec) { s.HttpRoute.Action.WeightedTargets[0].Weight = 101 }))
		}, "BadRequestException", "spec.httpRoute.action.weightedTargets[0].weight: must be between 0 and 100"},
		{"all weights zero", func() error { return createRoute("r", httpRoute(0, 0)) }, "BadRequestException", "weight above 0"},
		{"eleven targets", func() error {
			return createRoute("r", route(func(s *types.RouteSpec) {
				for i := 0; i < 9; i++ {
					s.HttpRoute.Action.WeightedTargets = append(s.HttpRoute.Action.WeightedTargets, types.WeightedTarget{VirtualNode: aws.String("movie-v1"), Weight: 1, Port: aws.Int32(int32(i + 1))})
				}
			}))
		}, "BadRequestException", "must have 1 to 10 targets"},
		{"prefix without slash", func() error {
			return createRoute("r", route(func(s *types.RouteSpec) { s.HttpRoute.Match.Prefix = aws.String("movies") }))
		}, "BadRequestException", "spec.httpRoute.match.prefix: must start with"},
		{"two route types", func() error {
			return createRoute("r", route(func(s *types.RouteSpec) { s.Http2Route = s.HttpRoute }))
		}, "BadRequestException", "spec: must set exactly one of httpRoute, http2Route, grpcRoute, tcpRoute"},
		{"no route type", func() error {
			return createRoute("r", &types.RouteSpec{Priority: aws.Int32(1)})
		}, "BadRequestException", "exactly one of httpRoute"},
		{"priority above 1000", func() error {
			return createRoute("r", route(func(s *types.RouteSpec) { s.Priority = aws.Int32(1001) }))
		}, "BadRequestException", "spec.priority"},
		{"retry without events", func() error {
			return createRoute("r", route(func(s *types.RouteSpec) {
				s.HttpRoute.RetryPolicy.HttpRetryEvents, s.HttpRoute.RetryPolicy.TcpRetryEvents = nil, nil
			}))
		}, "BadRequestException", "spec.httpRoute.retryPolicy: must set httpRetryEvents or tcpRetryEvents"},
		{"unknown retry event", func() error {
			return createRoute("r", route(func(s *types.RouteSpec) { s.HttpRoute.RetryPolicy.HttpRetryEvents = []string{"teapot"} }))
		}, "BadRequestException", "httpRetryEvents[0]"},
		{"missing target node", func() error {
			return createRoute("r", route(func(s *types.RouteSpec) { s.HttpRoute.Action.WeightedTargets[1].VirtualNode = aws.String("movie-v9") }))
		}, "NotFoundException", "VirtualNode with name movie-v9"},
		{"grpc route on http router", func() error {
			return createRoute("r", &types.RouteSpec{GrpcRoute: &types.GrpcRoute{
				Match:  &types.GrpcRouteMatch{ServiceName: aws.String("movie.Movies")},
				Action: &types.GrpcRouteAction{WeightedTargets: []types.WeightedTarget{{VirtualNode: aws.String("movie-v1"), Weight: 1}}},
			}})
		}, "BadRequestException", "no grpc listener"},
		{"listener without service discovery", func() error {
			s := nodeSpec("v3")
			s.ServiceDiscovery = nil
			_, err := h.c.CreateVirtualNode(ctx, &am.CreateVirtualNodeInput{MeshName: demo, VirtualNodeName: aws.String("n"), Spec: s})
			return err
		}, "BadRequestException", "spec.serviceDiscovery: is required"},
		{"health check interval too short", func() error {
			s := nodeSpec("v3")
			s.Listeners[0].HealthCheck.IntervalMillis = aws.Int64(100)
			_, err := h.c.CreateVirtualNode(ctx, &am.CreateVirtualNodeInput{MeshName: demo, VirtualNodeName: aws.String("n"), Spec: s})
			return err
		}, "BadRequestException", "spec.listeners[0].healthCheck.intervalMillis: must be between 5000 and 300000"},
		{"connection pool of another protocol", func() error {
			s := nodeSpec("v3")
			s.Listeners[0].ConnectionPool = &types.VirtualNodeConnectionPoolMemberGrpc{Value: types.VirtualNodeGrpcConnectionPool{MaxRequests: aws.Int32(1)}}
			_, err := h.c.CreateVirtualNode(ctx, &am.CreateVirtualNodeInput{MeshName: demo, VirtualNodeName: aws.String("n"), Spec: s})
			return err
		}, "BadRequestException", "does not match the listener protocol http"},
		{"router without listeners", func() error {
			_, err := h.c.CreateVirtualRouter(ctx, &am.CreateVirtualRouterInput{MeshName: demo, VirtualRouterName: aws.String("r"), Spec: &types.VirtualRouterSpec{}})
			return err
		}, "BadRequestException", "spec.listeners"},
		{"service with missing provider", func() error {
			_, err := h.c.CreateVirtualService(ctx, &am.CreateVirtualServiceInput{MeshName: demo, VirtualServiceName: aws.String("x.local"),
				Spec: &types.VirtualServiceSpec{Provider: &types.VirtualServiceProviderMemberVirtualNode{Value: types.VirtualNodeServiceProvider{VirtualNodeName: aws.String("ghost")}}}})
			return err
		}, "NotFoundException", "VirtualNode with name ghost"},
		{"delete node used by route", func() error {
			_, err := h.c.DeleteVirtualNode(ctx, &am.DeleteVirtualNodeInput{MeshName: demo, VirtualNodeName: aws.String("movie-v1")})
			return err
		}, "ResourceInUseException", "target of Route movie-route"},
		{"delete router with routes", func() error {
			_, err := h.c.DeleteVirtualRouter(ctx, &am.DeleteVirtualRouterInput{MeshName: demo, VirtualRouterName: router})
			return err
		}, "ResourceInUseException", "still has 1 route"},
		{"delete mesh in use", func() error {
			_, err := h.c.DeleteMesh(ctx, &am.DeleteMeshInput{MeshName: demo})
			return err
		}, "ResourceInUseException", "delete them before deleting the mesh"},
		{"bad limit", func() error {
			_, err := h.c.ListVirtualNodes(ctx, &am.ListVirtualNodesInput{MeshName: demo, Limit: aws.Int32(500)})
			return err
		}, "BadRequestException", "limit"},
		{"unknown operation", func() error {
			resp, err := http.Get(h.url + "/v20190125/meshes/demo/virtualWidgets")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return &smithy.GenericAPIError{Code: resp.Header.Get("X-Amzn-Errortype"), Message: fmt.Sprintf("%d %s", resp.StatusCode, b)}
		}, "UnknownOperationException", "404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if code := apiCode(err); code != tt.code {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("err = %v, want message containing %q", err, tt.message)
			}
		})
	}

	// Typed errors, as callers match them.
	_, err := h.c.DescribeVirtualNode(ctx, &am.DescribeVirtualNodeInput{MeshName: demo, VirtualNodeName: aws.String("x")})
	var nf *types.NotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("err = %T, want *types.NotFoundException", err)
	}
	_, err = h.c.CreateMesh(ctx, &am.CreateMeshInput{MeshName: demo})
	var ce *types.ConflictException
	if !errors.As(err, &ce) {
		t.Fatalf("err = %T, want *types.ConflictException", err)
	}
	err = createRoute("r", httpRoute(0, 0))
	var br *types.BadRequestException
	if !errors.As(err, &br) {
		t.Fatalf("err = %T, want *types.BadRequestException", err)
	}
	_, err = h.c.DeleteMesh(ctx, &am.DeleteMeshInput{MeshName: demo})
	var riu *types.ResourceInUseException
	if !errors.As(err, &riu) {
		t.Fatalf("err = %T, want *types.ResourceInUseException", err)
	}
}

func TestClientToken(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.world(t)
	in := &am.CreateVirtualNodeInput{MeshName: aws.String("demo"), VirtualNodeName: aws.String("movie-v3"), Spec: nodeSpec("v3"), ClientToken: aws.String("tok-1")}
	first, err := h.c.CreateVirtualNode(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	// A retry with the same token and request returns the node.
	again, err := h.c.CreateVirtualNode(ctx, in)
	if err != nil || aws.ToString(again.VirtualNode.Metadata.Uid) != aws.ToString(first.VirtualNode.Metadata.Uid) {
		t.Fatalf("retried create = %+v, %v", again, err)
	}
	// The same token for a different request is a conflict.
	in.Spec = nodeSpec("v4")
	if _, err := h.c.CreateVirtualNode(ctx, in); apiCode(err) != "ConflictException" {
		t.Fatalf("token reuse err = %v, want ConflictException", err)
	}

	upd := &am.UpdateRouteInput{MeshName: aws.String("demo"), VirtualRouterName: aws.String("movie-router"), RouteName: aws.String("movie-route"),
		Spec: httpRoute(60, 40), ClientToken: aws.String("tok-2")}
	for i := 0; i < 2; i++ {
		out, err := h.c.UpdateRoute(ctx, upd)
		if err != nil || aws.ToInt64(out.Route.Metadata.Version) != 2 {
			t.Fatalf("update %d = %+v, %v; a retried update must not bump the version again", i, out, err)
		}
	}
}

// Only the last clientTokens are remembered: the SDK gives every create its
// own token, and a long run must not keep them all.
func TestClientTokensBounded(t *testing.T) {
	h := newHarness(t)
	h.fake.tokenLimit = 2
	ctx := context.Background()
	h.world(t)
	create := func(name, token string) string {
		t.Helper()
		out, err := h.c.CreateVirtualNode(ctx, &am.CreateVirtualNodeInput{MeshName: aws.String("demo"),
			VirtualNodeName: aws.String(name), Spec: nodeSpec("v9"), ClientToken: aws.String(token)})
		if err != nil {
			t.Fatalf("create %s with token %s: %v", name, token, err)
		}
		return aws.ToString(out.VirtualNode.Metadata.Uid)
	}
	for i := range 3 {
		name := fmt.Sprintf("n%d", i)
		create(name, "tok-"+name)
		if _, err := h.c.DeleteVirtualNode(ctx, &am.DeleteVirtualNodeInput{MeshName: aws.String("demo"), VirtualNodeName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	h.fake.mu.Lock()
	n, order := len(h.fake.tokens), len(h.fake.tokenOrder)
	h.fake.mu.Unlock()
	if n != 2 || order != 2 {
		t.Fatalf("%d tokens remembered (%d in order), want 2", n, order)
	}
	// The forgotten token creates the node anew.
	create("n0", "tok-n0")
	if _, err := h.c.DescribeVirtualNode(ctx, &am.DescribeVirtualNodeInput{MeshName: aws.String("demo"), VirtualNodeName: aws.String("n0")}); err != nil {
		t.Errorf("node created with a forgotten token: %v", err)
	}
}

func TestMultipleListeners(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.world(t)
	if _, err := h.c.UpdateVirtualRouter(ctx, &am.UpdateVirtualRouterInput{MeshName: aws.String("demo"), VirtualRouterName: aws.String("movie-router"),
		Spec: &types.VirtualRouterSpec{Listeners: []types.VirtualRouterListener{
			{PortMapping: &types.PortMapping{Port: aws.Int32(8080), Protocol: types.PortProtocolHttp}},
			{PortMapping: &types.PortMapping{Port: aws.Int32(9090), Protocol: types.PortProtocolHttp}},
		}}}); apiCode(err) != "BadRequestException" || !strings.Contains(err.Error(), "match.port is required") {
		t.Fatalf("adding a second listener under a route without match.port: err = %v, want BadRequestException", err)
	}
	spec := httpRoute(75, 25)
	spec.HttpRoute.Match.Port = aws.Int32(9090)
	if _, err := h.c.UpdateRoute(ctx, &am.UpdateRouteInput{MeshName: aws.String("demo"), VirtualRouterName: aws.String("movie-router"),
		RouteName: aws.String("movie-route"), Spec: spec}); apiCode(err) != "BadRequestException" || !strings.Contains(err.Error(), "no http listener on port 9090") {
		t.Fatalf("route on a port the router lacks: err = %v", err)
	}
}

func TestListPagination(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.world(t)
	var names []string
	pager := am.NewListVirtualNodesPaginator(h.c, &am.ListVirtualNodesInput{MeshName: aws.String("demo"), Limit: aws.Int32(1)})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range page.VirtualNodes {
			names = append(names, aws.ToString(n.VirtualNodeName))
			if aws.ToString(n.MeshName) != "demo" || aws.ToInt64(n.Version) != 1 || !strings.HasSuffix(aws.ToString(n.Arn), "/virtualNode/"+aws.ToString(n.VirtualNodeName)) {
				t.Fatalf("VirtualNodeRef = %+v", n)
			}
		}
	}
	if !reflect.DeepEqual(names, []string{"movie-v1", "movie-v2"}) {
		t.Fatalf("paginated nodes = %v", names)
	}
	for _, tc := range []struct {
		name string
		list func() (int, error)
	}{
		{"services", func() (int, error) {
			out, err := h.c.ListVirtualServices(ctx, &am.ListVirtualServicesInput{MeshName: aws.String("demo")})
			return len(out.VirtualServices), err
		}},
		{"routers", func() (int, error) {
			out, err := h.c.ListVirtualRouters(ctx, &am.ListVirtualRoutersInput{MeshName: aws.String("demo")})
			return len(out.VirtualRouters), err
		}},
		{"routes", func() (int, error) {
			out, err := h.c.ListRoutes(ctx, &am.ListRoutesInput{MeshName: aws.String("demo"), VirtualRouterName: aws.String("movie-router")})
			return len(out.Routes), err
		}},
	} {
		if n, err := tc.list(); err != nil || n != 1 {
			t.Fatalf("list %s = %d, %v; want 1", tc.name, n, err)
		}
	}
}

func TestStateAndWatch(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	watchCtx, cancel := context.WithCancel(ctx)
	watch := h.fake.Watch(watchCtx)
	h.world(t)
	select { // the fake notifies before it answers
	case <-watch:
	default:
		t.Fatal("Watch did not fire")
	}

	st := h.fake.State()
	if len(st.Meshes) != 1 {
		t.Fatalf("State has %d meshes", len(st.Meshes))
	}
	m := st.Meshes[0]
	if m.Mesh.MeshName != "demo" || m.Mesh.Spec.EgressFilter.Type != "ALLOW_ALL" || len(m.VirtualNodes) != 2 ||
		len(m.VirtualServices) != 1 || len(m.VirtualRouters) != 1 || len(m.VirtualRouters[0].Routes) != 1 {
		t.Fatalf("State = %+v", m)
	}
	v1 := m.VirtualNodes[0]
	if v1.VirtualNodeName != "movie-v1" || v1.Spec.ServiceDiscovery.AWSCloudMap.ServiceName != "movie" ||
		v1.Spec.ServiceDiscovery.AWSCloudMap.Attributes[0].Value != "v1" || *v1.Spec.Listeners[0].PortMapping.Port != 8080 ||
		v1.Spec.Listeners[0].Timeout.HTTP.PerRequest.Milliseconds() != 15000 {
		t.Fatalf("State node = %+v", v1)
	}
	if p := m.VirtualServices[0].Spec.Provider; p.VirtualRouter == nil || p.VirtualRouter.VirtualRouterName != "movie-router" {
		t.Fatalf("State service provider = %+v", p)
	}
	r := m.VirtualRouters[0].Routes[0]
	if r.Spec.Protocol() != "http" || r.Spec.HTTPRoute.Match.Prefix != "/" || *r.Spec.Priority != 10 ||
		r.Spec.HTTPRoute.RetryPolicy.PerRetryTimeout.Milliseconds() != 1000 {
		t.Fatalf("State route = %+v", r)
	}

	// State is a deep copy: changing it changes nothing in the fake.
	*r.Spec.HTTPRoute.Action.WeightedTargets[0].Weight = 1
	m.VirtualNodes[0].Spec.Listeners[0].PortMapping.Protocol = "tcp"
	again := h.fake.State()
	if *again.Meshes[0].VirtualRouters[0].Routes[0].Spec.HTTPRoute.Action.WeightedTargets[0].Weight != 75 ||
		again.Meshes[0].VirtualNodes[0].Spec.Listeners[0].PortMapping.Protocol != "http" {
		t.Fatal("changing the State result changed the fake")
	}
	route, err := h.c.DescribeRoute(ctx, &am.DescribeRouteInput{MeshName: aws.String("demo"),
		VirtualRouterName: aws.String("movie-router"), RouteName: aws.String("movie-route")})
	if err != nil || route.Route.Spec.HttpRoute.Action.WeightedTargets[0].Weight != 75 {
		t.Fatalf("DescribeRoute after mutating State = %+v, %v", route, err)
	}

	// Deletions show in State and fire the watch.
	for len(watch) > 0 {
		<-watch
	}
	if _, err := h.c.DeleteVirtualService(ctx, &am.DeleteVirtualServiceInput{MeshName: aws.String("demo"), VirtualServiceName: aws.String("movie.local")}); err != nil {
		t.Fatal(err)
	}
	select { // the fake notifies before it answers
	case <-watch:
	default:
		t.Fatal("Watch did not fire after a delete")
	}
	if n := len(h.fake.State().Meshes[0].VirtualServices); n != 0 {
		t.Fatalf("State has %d virtual services after delete", n)
	}

	cancel()
	polltest.Eventually(t, "the Watch channel to close after its context ended", func() bool {
		select {
		case _, open := <-watch:
			return !open
		default:
			return false
		}
	})
}

func TestTeardown(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.world(t)
	demo := aws.String("demo")
	steps := []struct {
		name string
		do   func() (string, error)
	}{
		{"service", func() (string, error) {
			out, err := h.c.DeleteVirtualService(ctx, &am.DeleteVirtualServiceInput{MeshName: demo, VirtualServiceName: aws.String("movie.local")})
			if err != nil {
				return "", err
			}
			return string(out.VirtualService.Status.Status), nil
		}},
		{"route", func() (string, error) {
			out, err := h.c.DeleteRoute(ctx, &am.DeleteRouteInput{MeshName: demo, VirtualRouterName: aws.String("movie-router"), RouteName: aws.String("movie-route")})
			if err != nil {
				return "", err
			}
			return string(out.Route.Status.Status), nil
		}},
		{"router", func() (string, error) {
			out, err := h.c.DeleteVirtualRouter(ctx, &am.DeleteVirtualRouterInput{MeshName: demo, VirtualRouterName: aws.String("movie-router")})
			if err != nil {
				return "", err
			}
			return string(out.VirtualRouter.Status.Status), nil
		}},
		{"node v1", func() (string, error) {
			out, err := h.c.DeleteVirtualNode(ctx, &am.DeleteVirtualNodeInput{MeshName: demo, VirtualNodeName: aws.String("movie-v1")})
			if err != nil {
				return "", err
			}
			return string(out.VirtualNode.Status.Status), nil
		}},
		{"node v2", func() (string, error) {
			out, err := h.c.DeleteVirtualNode(ctx, &am.DeleteVirtualNodeInput{MeshName: demo, VirtualNodeName: aws.String("movie-v2")})
			if err != nil {
				return "", err
			}
			return string(out.VirtualNode.Status.Status), nil
		}},
		{"mesh", func() (string, error) {
			out, err := h.c.DeleteMesh(ctx, &am.DeleteMeshInput{MeshName: demo})
			if err != nil {
				return "", err
			}
			return string(out.Mesh.Status.Status), nil
		}},
	}
	for _, s := range steps {
		status, err := s.do()
		if err != nil || status != "DELETED" {
			t.Fatalf("delete %s = %q, %v; want DELETED", s.name, status, err)
		}
	}
	if st := h.fake.State(); len(st.Meshes) != 0 {
		t.Fatalf("State after teardown = %+v", st)
	}
}

func TestRegionFromSignature(t *testing.T) {
	h := newHarness(t)
	c := awsclient.New(h.url, "eu-west-1").AppMesh
	ctx := context.Background()
	mesh, err := c.CreateMesh(ctx, &am.CreateMeshInput{MeshName: aws.String("demo")})
	if err != nil {
		t.Fatal(err)
	}
	if arn := aws.ToString(mesh.Mesh.Metadata.Arn); arn != "arn:aws:appmesh:eu-west-1:000000000000:mesh/demo" {
		t.Fatalf("mesh ARN = %s", arn)
	}
	router, err := c.CreateVirtualRouter(ctx, &am.CreateVirtualRouterInput{MeshName: aws.String("demo"), VirtualRouterName: aws.String("r"),
		Spec: &types.VirtualRouterSpec{Listeners: []types.VirtualRouterListener{{PortMapping: &types.PortMapping{Port: aws.Int32(80), Protocol: types.PortProtocolHttp}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if arn := aws.ToString(router.VirtualRouter.Metadata.Arn); arn != "arn:aws:appmesh:eu-west-1:000000000000:mesh/demo/virtualRouter/r" {
		t.Fatalf("router ARN = %s", arn)
	}
}

func TestMalformedBody(t *testing.T) {
	h := newHarness(t)
	resp, err := http.Post(h.url+"/v20190125/meshes", "application/json", bytes.NewReader([]byte(`{"meshName":`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// POST is not an App Mesh method for this path.
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("X-Amzn-Errortype") != "UnknownOperationException" {
		t.Fatalf("POST /meshes = %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"))
	}
	req, _ := http.NewRequest(http.MethodPut, h.url+"/v20190125/meshes", strings.NewReader(`{"meshName": 7}`))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Amzn-Errortype") != "BadRequestException" || !strings.Contains(string(b), "meshName") {
		t.Fatalf("PUT /meshes with a number name = %d %s %s", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), b)
	}
}

// Names become part of ARNs and of Envoy's configuration: what AWS would not
// accept is refused with a BadRequestException that names the field, and
// nothing is created.
func TestNames(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.world(t)
	tests := []struct {
		name string
		ok   bool
	}{
		{"movie-v9", true},
		{"movie.apps.local", true},
		{"Node_9", true},
		{strings.Repeat("n", 255), true},
		{strings.Repeat("n", 256), false},
		{"a/b", false},
		{"../x", false},
		{"..", false},
		{"-x", false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a b", false},
		{"a\u202eb", false},
		{"é", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.name), func(t *testing.T) {
			_, err := h.c.CreateMesh(ctx, &am.CreateMeshInput{MeshName: aws.String(tt.name)})
			_, nodeErr := h.c.CreateVirtualNode(ctx, &am.CreateVirtualNodeInput{MeshName: aws.String("demo"),
				VirtualNodeName: aws.String(tt.name), Spec: nodeSpec("v9")})
			for field, err := range map[string]error{"meshName": err, "virtualNodeName": nodeErr} {
				if tt.ok {
					if err != nil {
						t.Errorf("%s %q: %v", field, tt.name, err)
					}
					continue
				}
				if apiCode(err) != "BadRequestException" || !strings.Contains(err.Error(), field+":") {
					t.Errorf("%s %q: err = %v, want BadRequestException naming %s", field, tt.name, err, field)
				}
			}
		})
	}
	st := h.fake.State()
	for _, m := range st.Meshes {
		if strings.ContainsAny(m.Mesh.MeshName, "/\x00\n \u202e") || strings.HasPrefix(m.Mesh.MeshName, ".") {
			t.Errorf("mesh %q was created", m.Mesh.MeshName)
		}
	}
}
