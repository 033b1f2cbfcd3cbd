package xds

// World is the part of the simulated AWS world that the control plane turns
// into Envoy configuration: App Mesh resources with the endpoints Cloud Map
// resolves for each virtual node. It is built by sim from the fakes' state;
// Build is a pure function of it.
type World struct {
	Meshes []Mesh
	// LoadBalancers are the ELBv2 load balancers, each served by its own
	// proxy.
	LoadBalancers []LoadBalancer
}

// Mesh is an App Mesh service mesh.
type Mesh struct {
	Name            string
	VirtualNodes    []VirtualNode
	VirtualServices []VirtualService
	VirtualRouters  []VirtualRouter
	VirtualGateways []VirtualGateway
}

// Protocol is an App Mesh listener or route protocol.
type Protocol string

// The protocols App Mesh knows.
const (
	HTTP  Protocol = "http"
	HTTP2 Protocol = "http2"
	GRPC  Protocol = "grpc"
	TCP   Protocol = "tcp"
)

// Listener is a virtual node's or virtual router's port mapping.
type Listener struct {
	Port     uint32
	Protocol Protocol
	// PerRequestTimeoutMillis and IdleTimeoutMillis are a virtual node
	// listener's timeout for its protocol, encoded as Route's are. They
	// apply to the node's ingress route (requests to its application).
	PerRequestTimeoutMillis int64
	IdleTimeoutMillis       int64
}

// TimeoutDisabled, as a timeout in milliseconds of a Route or Listener,
// stands for an App Mesh timeout set to 0, which disables it. A timeout
// of 0 is one that is not set, so that App Mesh's default applies.
//
// meshsim models App Mesh's timeouts as Envoy implements them (see Build):
//
//   - perRequest of http and http2 routes is Envoy's route timeout. It
//     defaults to 15 s and starts once the whole request has been
//     received, so it bounds the response.
//   - perRequest of grpc routes bounds a call's duration instead
//     (Envoy's max_stream_duration, which also caps the call's own
//     deadline, the grpc-timeout header). Unset or disabled, a call is
//     bounded only by its deadline and the idle timeout, so long-lived
//     streams are not cut by App Mesh's 15 s default.
//   - idle is Envoy's stream idle timeout for the route. It defaults to
//     the listener's, 5 minutes, which App Mesh documents as 300 s.
const TimeoutDisabled int64 = -1

// VirtualNode is an App Mesh virtual node: the tasks of one version of one
// service, found through Cloud Map.
type VirtualNode struct {
	Name      string
	Listeners []Listener
	// Backends are the names of the virtual services this node calls.
	Backends []string
	// Endpoints are the healthy instances Cloud Map returns for the node's
	// service discovery, in a stable order.
	Endpoints []Endpoint
}

// Endpoint is one task that serves a virtual node.
type Endpoint struct {
	// InstanceID is the Cloud Map instance id (the ECS task id).
	InstanceID string
	Address    string
	Port       uint32
}

// VirtualService is an App Mesh virtual service; exactly one of the
// provider fields is set.
type VirtualService struct {
	Name           string
	ProviderNode   string
	ProviderRouter string
}

// VirtualRouter is an App Mesh virtual router with its routes.
type VirtualRouter struct {
	Name      string
	Listeners []Listener
	Routes    []Route
}

// Route is an App Mesh route of a virtual router.
type Route struct {
	Name string
	// Priority orders routes: 0 is highest; routes without one come last.
	Priority *int
	Protocol Protocol
	// Prefix is the path prefix the route matches ("/" when empty).
	Prefix string
	// Headers the request must carry (http/http2) or metadata (grpc).
	Headers []HeaderMatch
	// GRPCService and GRPCMethod match gRPC calls (grpc routes only); a
	// method needs its service.
	GRPCService string
	GRPCMethod  string
	Targets     []WeightedTarget
	// Retry is nil when the route sets no retry policy.
	Retry *RetryPolicy
	// PerRequestTimeoutMillis and IdleTimeoutMillis are the route's
	// timeout: 0 when unset, TimeoutDisabled when set to 0.
	PerRequestTimeoutMillis int64
	IdleTimeoutMillis       int64
}

// HeaderMatch matches one header (or gRPC metadata entry). At most one of
// Exact, Prefix, Suffix, Regex and Range is set; with none, the header
// must be present (or absent, inverted).
type HeaderMatch struct {
	Name                         string
	Invert                       bool
	Exact, Prefix, Suffix, Regex string
	Range                        *MatchRange
}

// MatchRange matches a header whose value is an integer in [Start, End).
type MatchRange struct {
	Start, End int64
}

// WeightedTarget sends a share of a route's traffic to a virtual node.
type WeightedTarget struct {
	VirtualNode string
	Weight      uint32
}

// RetryPolicy is an App Mesh route retry policy.
type RetryPolicy struct {
	MaxRetries            uint32
	PerRetryTimeoutMillis int64
	HTTPRetryEvents       []string
	TCPRetryEvents        []string
	GRPCRetryEvents       []string
}

// VirtualGateway is an App Mesh virtual gateway: a standalone proxy that
// lets traffic from outside the mesh in, routed by its gateway routes to
// virtual services.
type VirtualGateway struct {
	Name string
	// Listeners are the gateway's listeners (App Mesh allows one): the
	// port the proxy listens on and its protocol (http, http2 or grpc).
	Listeners []Listener
	Routes    []GatewayRoute
}

// GatewayRoute is an App Mesh gateway route of a virtual gateway.
type GatewayRoute struct {
	Name string
	// Priority orders routes: 0 is highest; routes without one come last.
	Priority *int
	Protocol Protocol
	// Exactly one of Prefix, PathExact and PathRegex is set for an http or
	// http2 route, unless only Hostname is (which matches any path).
	Prefix, PathExact, PathRegex string
	// HostnameExact or HostnameSuffix match the request's host, its port
	// aside.
	HostnameExact, HostnameSuffix string
	// Headers the request must carry (http/http2) or metadata (grpc).
	Headers []HeaderMatch
	// Method is the HTTP method the request must have ("" for any).
	Method string
	// QueryParameters the request must carry.
	QueryParameters []QueryParameterMatch
	// GRPCService matches the gRPC service of a grpc route's calls.
	GRPCService string

	// VirtualService is the target virtual service.
	VirtualService string
	// RewriteHostname makes the forwarded Host the target virtual
	// service's name (App Mesh's default).
	RewriteHostname bool
	// PrefixRewrite, when not nil, replaces the matched Prefix: "/"
	// (App Mesh's default) strips it, any other value takes its place. Nil
	// keeps the path (defaultPrefix DISABLED).
	PrefixRewrite *string
	// PathRewrite, when set, replaces the whole path matched by PathExact.
	PathRewrite string
}

// QueryParameterMatch matches a query parameter: its value exactly, or
// its presence when Exact is empty.
type QueryParameterMatch struct {
	Name, Exact string
}
