package appmesh

import (
	"net/http"
	"testing"

	"github.com/meshsim/meshsim/sim/awsproto/awsprototest"
	"github.com/meshsim/meshsim/sim/endpoint"
)

var fuzzMethods = []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPost}

// fuzzWorld is what every input starts with: mesh m with virtual node n,
// router r with route rt to n, and virtual service s.local provided by r.
var fuzzWorld = []awsprototest.Request{
	{Method: http.MethodPut, Path: "/v20190125/meshes", Body: []byte(`{"meshName":"m","spec":{"egressFilter":{"type":"DROP_ALL"}}}`)},
	{Method: http.MethodPut, Path: "/v20190125/meshes/m/virtualNodes", Body: []byte(`{"virtualNodeName":"n","spec":{"listeners":[{"portMapping":{"port":8080,"protocol":"http"}}],"serviceDiscovery":{"dns":{"hostname":"n.local"}}}}`)},
	{Method: http.MethodPut, Path: "/v20190125/meshes/m/virtualRouters", Body: []byte(`{"virtualRouterName":"r","spec":{"listeners":[{"portMapping":{"port":8080,"protocol":"http"}}]}}`)},
	{Method: http.MethodPut, Path: "/v20190125/meshes/m/virtualRouter/r/routes", Body: []byte(`{"routeName":"rt","spec":{"httpRoute":{"match":{"prefix":"/"},"action":{"weightedTargets":[{"virtualNode":"n","weight":1}]}}}}`)},
	{Method: http.MethodPut, Path: "/v20190125/meshes/m/virtualServices", Body: []byte(`{"virtualServiceName":"s.local","spec":{"provider":{"virtualRouter":{"virtualRouterName":"r"}}}}`)},
	{Method: http.MethodPut, Path: "/v20190125/meshes/m/virtualGateways", Body: []byte(`{"virtualGatewayName":"gw","spec":{"listeners":[{"portMapping":{"port":8080,"protocol":"http"}}]},"tags":[{"key":"k","value":"v"}]}`)},
	{Method: http.MethodPut, Path: "/v20190125/meshes/m/virtualGateway/gw/gatewayRoutes", Body: []byte(`{"gatewayRouteName":"gr","spec":{"httpRoute":{"match":{"prefix":"/"},"action":{"target":{"virtualService":{"virtualServiceName":"s.local"}}}}}}`)},
}

// fuzzSeeds are valid requests of each operation and malformed ones.
var fuzzSeeds = []awsprototest.Request{
	{Method: http.MethodGet, Path: "/v20190125/meshes?limit=1"},
	{Method: http.MethodGet, Path: "/v20190125/meshes/m"},
	{Method: http.MethodPut, Path: "/v20190125/meshes/m", Body: []byte(`{"spec":{"egressFilter":{"type":"ALLOW_ALL"},"serviceDiscovery":{"ipPreference":"IPv4_ONLY"}}}`)},
	{Method: http.MethodDelete, Path: "/v20190125/meshes/m"},
	{Method: http.MethodPut, Path: "/v20190125/meshes", Body: []byte(`{"meshName":"m2","clientToken":"tok","tags":[{"key":"k","value":"v"}]}`)},
	{Method: http.MethodGet, Path: "/v20190125/meshes/m/virtualNodes?limit=1&nextToken=bg"},
	{Method: http.MethodGet, Path: "/v20190125/meshes/m/virtualNodes/n?meshOwner=000000000000"},
	{Method: http.MethodPut, Path: "/v20190125/meshes/m/virtualNodes/n", Body: []byte(`{"spec":{"listeners":[{"portMapping":{"port":9090,"protocol":"grpc"},"healthCheck":{"healthyThreshold":2,"unhealthyThreshold":2,"intervalMillis":5000,"timeoutMillis":2000,"protocol":"grpc"},"timeout":{"grpc":{"perRequest":{"unit":"ms","value":100}}}}],"serviceDiscovery":{"awsCloudMap":{"namespaceName":"apps","serviceName":"n","attributes":[{"key":"v","value":"1"}]}},"backends":[{"virtualService":{"virtualServiceName":"s.local"}}]}}`)},
	{Method: http.MethodDelete, Path: "/v20190125/meshes/m/virtualNodes/n"},
	{Method: http.MethodPut, Path: "/v20190125/meshes/m/virtualNodes", Body: []byte(`{"virtualNodeName":"n2","spec":{"backendDefaults":{"clientPolicy":{"tls":{"validation":{"trust":{"file":{"certificateChain":"/c"}}}}}}}}`)},
	{Method: http.MethodGet, Path: "/v20190125/meshes/m/virtualRouters"},
	{Method: http.MethodPut, Path: "/v20190125/meshes/m/virtualRouters/r", Body: []byte(`{"spec":{"listeners":[{"portMapping":{"port":8080,"protocol":"http2"}}]}}`)},
	{Method: http.MethodDelete, Path: "/v20190125/meshes/m/virtualRouters/r"},
	{Method: http.MethodGet, Path: "/v20190125/meshes/m/virtualRouter/r/routes"},
	{Method: http.MethodGet, Path: "/v20190125/meshes/m/virtualRouter/r/routes/rt"},
	{Method: http.MethodPut, Path: "/v20190125/meshes/m/virtualRouter/r/routes/rt", Body: []byte(`{"spec":{"priority":5,"httpRoute":{"match":{"prefix":"/","headers":[{"name":"x","match":{"range":{"start":1,"end":5}}}],"method":"GET"},"action":{"weightedTargets":[{"virtualNode":"n","weight":100}]},"retryPolicy":{"maxRetries":2,"perRetryTimeout":{"unit":"s","value":1},"httpRetryEvents":["server-error"]}}}}`)},
	{Method: http.MethodPut, Path: "/v20190125/meshes/m/virtualRouter/r/routes", Body: []byte(`{"routeName":"g","spec":{"grpcRoute":{"match":{"serviceName":"svc","methodName":"Get"},"action":{"weightedTargets":[{"virtualNode":"n","weight":1}]}}}}`)},
	{Method: http.MethodDelete, Path: "/v20190125/meshes/m/virtualRouter/r/routes/rt"},
	{Method: http.MethodGet, Path: "/v20190125/meshes/m/virtualServices"},
	{Method: http.MethodPut, Path: "/v20190125/meshes/m/virtualServices/s.local", Body: []byte(`{"spec":{"provider":{"virtualNode":{"virtualNodeName":"n"}}}}`)},
	{Method: http.MethodDelete, Path: "/v20190125/meshes/m/virtualServices/s.local"},
	{Method: http.MethodGet, Path: "/v20190125/meshes/m/virtualGateways?limit=1"},
	{Method: http.MethodGet, Path: "/v20190125/meshes/m/virtualGateways/gw"},
	{Method: http.MethodPut, Path: "/v20190125/meshes/m/virtualGateways/gw", Body: []byte(`{"spec":{"listeners":[{"portMapping":{"port":8080,"protocol":"http"},"connectionPool":{"http":{"maxConnections":10}},"healthCheck":{"healthyThreshold":2,"unhealthyThreshold":2,"intervalMillis":5000,"timeoutMillis":2000,"protocol":"http","path":"/"}}],"logging":{"accessLog":{"file":{"path":"/dev/stdout"}}}}}`)},
	{Method: http.MethodDelete, Path: "/v20190125/meshes/m/virtualGateways/gw"},
	{Method: http.MethodGet, Path: "/v20190125/meshes/m/virtualGateway/gw/gatewayRoutes"},
	{Method: http.MethodGet, Path: "/v20190125/meshes/m/virtualGateway/gw/gatewayRoutes/gr"},
	{Method: http.MethodPut, Path: "/v20190125/meshes/m/virtualGateway/gw/gatewayRoutes/gr", Body: []byte(`{"spec":{"priority":1,"httpRoute":{"match":{"prefix":"/a/","hostname":{"suffix":".example.com"},"queryParameters":[{"name":"q","match":{"exact":"1"}}],"headers":[{"name":"x","match":{"prefix":"y"}}]},"action":{"target":{"virtualService":{"virtualServiceName":"s.local"},"port":8080},"rewrite":{"prefix":{"value":"/b/"},"hostname":{"defaultTargetHostname":"DISABLED"}}}}}}`)},
	{Method: http.MethodPut, Path: "/v20190125/meshes/m/virtualGateway/gw/gatewayRoutes", Body: []byte(`{"gatewayRouteName":"p","spec":{"httpRoute":{"match":{"path":{"exact":"/x"}},"action":{"target":{"virtualService":{"virtualServiceName":"s.local"}},"rewrite":{"path":{"exact":"/y"}}}}}}`)},
	{Method: http.MethodDelete, Path: "/v20190125/meshes/m/virtualGateway/gw/gatewayRoutes/gr"},
	{Method: http.MethodGet, Path: "/v20190125/tags?resourceArn=arn%3Aaws%3Aappmesh%3Aus-east-1%3A000000000000%3Amesh%2Fm%2FvirtualGateway%2Fgw"},
	{Method: http.MethodPut, Path: "/v20190125/tag?resourceArn=arn%3Aaws%3Aappmesh%3Aus-east-1%3A000000000000%3Amesh%2Fm", Body: []byte(`{"tags":[{"key":"a","value":"b"}]}`)},
	{Method: http.MethodPut, Path: "/v20190125/untag?resourceArn=arn%3Aaws%3Aappmesh%3Aus-east-1%3A000000000000%3Amesh%2Fm", Body: []byte(`{"tagKeys":["a"]}`)},
	// Malformed.
	{Method: http.MethodPut, Path: "/v20190125/meshes/m/virtualGateway/gw/gatewayRoutes", Body: []byte(`{"gatewayRouteName":"q","spec":{"grpcRoute":{"match":{},"action":{"target":{}}}}}`)},
	{Method: http.MethodPut, Path: "/v20190125/tag?resourceArn=", Body: []byte(`{"tags":null}`)},
	{Method: http.MethodPut, Path: "/v20190125/meshes", Body: []byte(`{"meshName":"a/b"}`)},
	{Method: http.MethodPut, Path: "/v20190125/meshes", Body: []byte("{\"meshName\":\"a\xffb\"}")},
	{Method: http.MethodPut, Path: "/v20190125/meshes", Body: []byte(`{"meshName":"..","spec":[]}`)},
	{Method: http.MethodPut, Path: "/v20190125/meshes/m/virtualNodes", Body: []byte(`{"virtualNodeName":"x","spec":{"listeners":[{"portMapping":{"port":99999999999,"protocol":"udp"}}]}}`)},
	{Method: http.MethodPut, Path: "/v20190125/meshes/m/virtualRouter/r/routes", Body: []byte(`{"routeName":"x","spec":{"httpRoute":{"action":{"weightedTargets":[]}}}}`)},
	{Method: http.MethodGet, Path: "/v20190125/meshes/%2e%2e/virtualNodes"},
	{Method: http.MethodGet, Path: "/v20190125/meshes/m/virtualNodes?limit=0"},
	{Method: http.MethodGet, Path: "/v20190125/meshes//virtualNodes/"},
	{Method: http.MethodPost, Path: "/v20190125/meshes", Body: []byte(`{`)},
	{Method: http.MethodPut, Path: "/v20190125/meshes/m", Body: []byte(`null`)},
}

// FuzzAPI sends one request to the App Mesh API, through the fakes'
// endpoint, after a small mesh exists. Whatever the request, the answer is
// never a 5xx nor a panic, an error is in App Mesh's shape, and afterwards
// every name the fake holds is a valid name and every reference (a route's
// targets, a virtual service's provider) names a resource that exists.
//
//	go test -run '^$' -fuzz FuzzAPI -fuzztime 5m ./sim/appmesh/
func FuzzAPI(f *testing.F) {
	for _, s := range fuzzSeeds {
		for i, m := range fuzzMethods {
			if m == s.Method {
				f.Add(uint8(i), s.Path, s.Body)
			}
		}
	}
	f.Fuzz(func(t *testing.T, method uint8, path string, body []byte) {
		fake := New(Options{})
		ep := endpoint.New(nil)
		ep.HandlePath(PathPrefix, fake)
		for _, r := range fuzzWorld {
			if status, out := awsprototest.Do(t, ep, r); status != http.StatusOK {
				t.Fatalf("setup %s %s: HTTP %d %s", r.Method, r.Path, status, out)
			}
		}
		awsprototest.Do(t, ep, awsprototest.Request{Method: fuzzMethods[int(method)%len(fuzzMethods)], Path: path, Body: body})

		valid := func(what, name string) {
			if len(name) > 255 || !namePattern.MatchString(name) {
				t.Fatalf("the fake holds %s %q", what, name)
			}
		}
		for _, m := range fake.State().Meshes {
			valid("mesh", m.Mesh.MeshName)
			nodes, routers := map[string]bool{}, map[string]bool{}
			for _, n := range m.VirtualNodes {
				valid("virtual node", n.VirtualNodeName)
				nodes[n.VirtualNodeName] = true
			}
			for _, r := range m.VirtualRouters {
				valid("virtual router", r.VirtualRouter.VirtualRouterName)
				routers[r.VirtualRouter.VirtualRouterName] = true
				for _, rt := range r.Routes {
					valid("route", rt.RouteName)
					if a := rt.Spec.Action(); a != nil {
						for _, tg := range a.WeightedTargets {
							if !nodes[tg.VirtualNode] {
								t.Fatalf("route %s targets virtual node %q, which does not exist", rt.RouteName, tg.VirtualNode)
							}
						}
					}
				}
			}
			for _, s := range m.VirtualServices {
				valid("virtual service", s.VirtualServiceName)
				switch p := s.Spec.Provider; {
				case p == nil:
				case p.VirtualNode != nil && !nodes[p.VirtualNode.VirtualNodeName],
					p.VirtualRouter != nil && !routers[p.VirtualRouter.VirtualRouterName]:
					t.Fatalf("virtual service %s has a provider that does not exist: %+v", s.VirtualServiceName, p)
				}
			}
		}
	})
}
