package xds

// World is the part of the simulated AWS world that the control plane turns
// into Envoy configuration: App Mesh resources with the endpoints Cloud Map
// resolves for each virtual node. It is built by sim from the fakes' state;
// Build is a pure function of it.
type World struct {
	Meshes []Mesh
}

// Mesh is an App Mesh service mesh.
type Mesh struct {
	Name            string
	VirtualNodes    []VirtualNode
	VirtualServices []VirtualService
	VirtualRouters  []VirtualRouter
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
}

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
	// GRPCService and GRPCMethod match gRPC calls (grpc routes only).
	GRPCService string
	GRPCMethod  string
	Targets     []WeightedTarget
	// Retry is nil when the route sets no retry policy.
	Retry *RetryPolicy
	// PerRequestTimeoutMillis and IdleTimeoutMillis are 0 when unset.
	PerRequestTimeoutMillis int64
	IdleTimeoutMillis       int64
}

// HeaderMatch matches one header (or gRPC metadata entry). Exactly one of
// Exact, Prefix, Suffix, Regex is set.
type HeaderMatch struct {
	Name                         string
	Invert                       bool
	Exact, Prefix, Suffix, Regex string
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
