package appmesh

// The App Mesh shapes of virtual gateways and gateway routes. A virtual
// gateway's listener, TLS, client policy, health check, connection pool
// and logging shapes have the members of a virtual node's, so the same Go
// types serve both; what a gateway does not allow (a tcp listener, an
// outlier detection) is refused by validation.

// VirtualGatewayData is a virtual gateway.
type VirtualGatewayData struct {
	MeshName           string             `json:"meshName"`
	Metadata           ResourceMetadata   `json:"metadata"`
	Spec               VirtualGatewaySpec `json:"spec"`
	Status             ResourceStatus     `json:"status"`
	VirtualGatewayName string             `json:"virtualGatewayName"`
}

// VirtualGatewayRef is a virtual gateway as ListVirtualGateways returns it.
type VirtualGatewayRef struct {
	ARN                string    `json:"arn"`
	CreatedAt          Timestamp `json:"createdAt"`
	LastUpdatedAt      Timestamp `json:"lastUpdatedAt"`
	MeshName           string    `json:"meshName"`
	MeshOwner          string    `json:"meshOwner"`
	ResourceOwner      string    `json:"resourceOwner"`
	Version            int64     `json:"version"`
	VirtualGatewayName string    `json:"virtualGatewayName"`
}

// VirtualGatewaySpec is the specification of a virtual gateway: one
// listener, defaults for its backends, logging.
type VirtualGatewaySpec struct {
	BackendDefaults *BackendDefaults         `json:"backendDefaults,omitempty"`
	Listeners       []VirtualGatewayListener `json:"listeners"`
	Logging         *Logging                 `json:"logging,omitempty"`
}

// VirtualGatewayListener is the port a virtual gateway receives traffic
// on: protocol http, http2 or grpc.
type VirtualGatewayListener struct {
	ConnectionPool *VirtualNodeConnectionPool `json:"connectionPool,omitempty"`
	HealthCheck    *HealthCheckPolicy         `json:"healthCheck,omitempty"`
	PortMapping    *PortMapping               `json:"portMapping,omitempty"`
	TLS            *ListenerTLS               `json:"tls,omitempty"`
}

// GatewayRouteData is a gateway route of a virtual gateway.
type GatewayRouteData struct {
	GatewayRouteName   string           `json:"gatewayRouteName"`
	MeshName           string           `json:"meshName"`
	Metadata           ResourceMetadata `json:"metadata"`
	Spec               GatewayRouteSpec `json:"spec"`
	Status             ResourceStatus   `json:"status"`
	VirtualGatewayName string           `json:"virtualGatewayName"`
}

// GatewayRouteRef is a gateway route as ListGatewayRoutes returns it.
type GatewayRouteRef struct {
	ARN                string    `json:"arn"`
	CreatedAt          Timestamp `json:"createdAt"`
	GatewayRouteName   string    `json:"gatewayRouteName"`
	LastUpdatedAt      Timestamp `json:"lastUpdatedAt"`
	MeshName           string    `json:"meshName"`
	MeshOwner          string    `json:"meshOwner"`
	ResourceOwner      string    `json:"resourceOwner"`
	Version            int64     `json:"version"`
	VirtualGatewayName string    `json:"virtualGatewayName"`
}

// GatewayRouteSpec is the specification of a gateway route: exactly one of
// the route types, and a priority (0 is highest, 1000 lowest).
type GatewayRouteSpec struct {
	GRPCRoute  *GRPCGatewayRoute `json:"grpcRoute,omitempty"`
	HTTP2Route *HTTPGatewayRoute `json:"http2Route,omitempty"`
	HTTPRoute  *HTTPGatewayRoute `json:"httpRoute,omitempty"`
	Priority   *int32            `json:"priority,omitempty"`
}

// Protocol returns the protocol of the route type that is set ("http",
// "http2", "grpc"), or "" when none is.
func (s *GatewayRouteSpec) Protocol() string {
	switch {
	case s.HTTPRoute != nil:
		return "http"
	case s.HTTP2Route != nil:
		return "http2"
	case s.GRPCRoute != nil:
		return "grpc"
	}
	return ""
}

// Target returns the target of the route type that is set, or nil.
func (s *GatewayRouteSpec) Target() *GatewayRouteTarget {
	switch {
	case s.HTTPRoute != nil && s.HTTPRoute.Action != nil:
		return s.HTTPRoute.Action.Target
	case s.HTTP2Route != nil && s.HTTP2Route.Action != nil:
		return s.HTTP2Route.Action.Target
	case s.GRPCRoute != nil && s.GRPCRoute.Action != nil:
		return s.GRPCRoute.Action.Target
	}
	return nil
}

// HTTPGatewayRoute is an http or http2 gateway route.
type HTTPGatewayRoute struct {
	Action *HTTPGatewayRouteAction `json:"action,omitempty"`
	Match  *HTTPGatewayRouteMatch  `json:"match,omitempty"`
}

// HTTPGatewayRouteAction sends matching requests to a virtual service,
// rewritten.
type HTTPGatewayRouteAction struct {
	Rewrite *HTTPGatewayRouteRewrite `json:"rewrite,omitempty"`
	Target  *GatewayRouteTarget      `json:"target,omitempty"`
}

// GatewayRouteTarget is the virtual service (and, when its provider has
// several listeners, the port) a gateway route sends traffic to.
type GatewayRouteTarget struct {
	Port           *int32                      `json:"port,omitempty"`
	VirtualService *GatewayRouteVirtualService `json:"virtualService,omitempty"`
}

// GatewayRouteVirtualService names a gateway route's target.
type GatewayRouteVirtualService struct {
	VirtualServiceName string `json:"virtualServiceName"`
}

// HTTPGatewayRouteMatch is what an http or http2 gateway route matches: a
// prefix or a path, and optionally a hostname, headers, method, port and
// query parameters.
type HTTPGatewayRouteMatch struct {
	Headers         []HTTPRouteHeader          `json:"headers,omitempty"`
	Hostname        *GatewayRouteHostnameMatch `json:"hostname,omitempty"`
	Method          string                     `json:"method,omitempty"`
	Path            *HTTPPathMatch             `json:"path,omitempty"`
	Port            *int32                     `json:"port,omitempty"`
	Prefix          string                     `json:"prefix,omitempty"`
	QueryParameters []HTTPQueryParameter       `json:"queryParameters,omitempty"`
}

// GatewayRouteHostnameMatch matches the request's host: Exact or Suffix.
type GatewayRouteHostnameMatch struct {
	Exact  string `json:"exact,omitempty"`
	Suffix string `json:"suffix,omitempty"`
}

// HTTPGatewayRouteRewrite rewrites a request before it is sent on.
type HTTPGatewayRouteRewrite struct {
	Hostname *GatewayRouteHostnameRewrite   `json:"hostname,omitempty"`
	Path     *HTTPGatewayRoutePathRewrite   `json:"path,omitempty"`
	Prefix   *HTTPGatewayRoutePrefixRewrite `json:"prefix,omitempty"`
}

// GatewayRouteHostnameRewrite says whether the host becomes the target
// virtual service's name: ENABLED (the default) or DISABLED.
type GatewayRouteHostnameRewrite struct {
	DefaultTargetHostname string `json:"defaultTargetHostname,omitempty"`
}

// HTTPGatewayRoutePathRewrite replaces the whole path.
type HTTPGatewayRoutePathRewrite struct {
	Exact string `json:"exact,omitempty"`
}

// HTTPGatewayRoutePrefixRewrite replaces the matched prefix: with "/"
// (DefaultPrefix ENABLED, the default), not at all (DISABLED), or with
// Value.
type HTTPGatewayRoutePrefixRewrite struct {
	DefaultPrefix string `json:"defaultPrefix,omitempty"`
	Value         string `json:"value,omitempty"`
}

// GRPCGatewayRoute is a grpc gateway route.
type GRPCGatewayRoute struct {
	Action *GRPCGatewayRouteAction `json:"action,omitempty"`
	Match  *GRPCGatewayRouteMatch  `json:"match,omitempty"`
}

// GRPCGatewayRouteAction sends matching calls to a virtual service.
type GRPCGatewayRouteAction struct {
	Rewrite *GRPCGatewayRouteRewrite `json:"rewrite,omitempty"`
	Target  *GatewayRouteTarget      `json:"target,omitempty"`
}

// GRPCGatewayRouteRewrite rewrites a call's host.
type GRPCGatewayRouteRewrite struct {
	Hostname *GatewayRouteHostnameRewrite `json:"hostname,omitempty"`
}

// GRPCGatewayRouteMatch is what a grpc gateway route matches.
type GRPCGatewayRouteMatch struct {
	Hostname    *GatewayRouteHostnameMatch `json:"hostname,omitempty"`
	Metadata    []GRPCRouteMetadata        `json:"metadata,omitempty"`
	Port        *int32                     `json:"port,omitempty"`
	ServiceName string                     `json:"serviceName,omitempty"`
}

// VirtualGatewayState is a virtual gateway and its gateway routes.
type VirtualGatewayState struct {
	VirtualGateway VirtualGatewayData
	GatewayRoutes  []GatewayRouteData
}
