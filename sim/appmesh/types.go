package appmesh

import (
	"math"
	"strconv"
	"time"
)

// The types below are the App Mesh 2019-01-25 API shapes the fake serves, with
// the API's JSON member names. They are both the wire format and what State
// returns. A union of the API (for example ServiceDiscovery) is a struct whose
// members are pointers, exactly one of them set. Optional numbers and booleans
// are pointers so that 0 and false survive a round trip.

// Timestamp is a time that encodes in JSON as App Mesh does: seconds since the
// epoch, to the millisecond.
type Timestamp struct{ time.Time }

// MarshalJSON implements json.Marshaler.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	s, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	t.Time = time.UnixMilli(int64(math.Round(s * 1000))).UTC()
	return nil
}

// ResourceMetadata is the metadata of every App Mesh resource.
type ResourceMetadata struct {
	ARN           string    `json:"arn"`
	CreatedAt     Timestamp `json:"createdAt"`
	LastUpdatedAt Timestamp `json:"lastUpdatedAt"`
	MeshOwner     string    `json:"meshOwner"`
	ResourceOwner string    `json:"resourceOwner"`
	UID           string    `json:"uid"`
	// Version starts at 1 and grows by one with every update.
	Version int64 `json:"version"`
}

// ResourceStatus is a resource's status: ACTIVE, INACTIVE or DELETED.
type ResourceStatus struct {
	Status string `json:"status"`
}

// TagRef is a resource tag.
type TagRef struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Duration is an amount of time in a unit, "s" or "ms".
type Duration struct {
	Unit  string `json:"unit,omitempty"`
	Value *int64 `json:"value,omitempty"`
}

// Milliseconds returns d in milliseconds; 0 when d is nil or unset.
func (d *Duration) Milliseconds() int64 {
	if d == nil || d.Value == nil {
		return 0
	}
	if d.Unit == "s" {
		return *d.Value * 1000
	}
	return *d.Value
}

// Meshes.

// MeshData is a service mesh, as Describe/Create/Update/DeleteMesh return it.
type MeshData struct {
	MeshName string           `json:"meshName"`
	Metadata ResourceMetadata `json:"metadata"`
	Spec     MeshSpec         `json:"spec"`
	Status   ResourceStatus   `json:"status"`
}

// MeshSpec is the specification of a mesh.
type MeshSpec struct {
	EgressFilter     *EgressFilter         `json:"egressFilter,omitempty"`
	ServiceDiscovery *MeshServiceDiscovery `json:"serviceDiscovery,omitempty"`
}

// EgressFilter says whether traffic may leave the mesh: ALLOW_ALL or DROP_ALL.
type EgressFilter struct {
	Type string `json:"type"`
}

// MeshServiceDiscovery holds the mesh-wide IP preference.
type MeshServiceDiscovery struct {
	IPPreference string `json:"ipPreference,omitempty"`
}

// MeshRef is a mesh as ListMeshes returns it.
type MeshRef struct {
	ARN           string    `json:"arn"`
	CreatedAt     Timestamp `json:"createdAt"`
	LastUpdatedAt Timestamp `json:"lastUpdatedAt"`
	MeshName      string    `json:"meshName"`
	MeshOwner     string    `json:"meshOwner"`
	ResourceOwner string    `json:"resourceOwner"`
	Version       int64     `json:"version"`
}

// Virtual nodes.

// VirtualNodeData is a virtual node.
type VirtualNodeData struct {
	MeshName        string           `json:"meshName"`
	Metadata        ResourceMetadata `json:"metadata"`
	Spec            VirtualNodeSpec  `json:"spec"`
	Status          ResourceStatus   `json:"status"`
	VirtualNodeName string           `json:"virtualNodeName"`
}

// VirtualNodeRef is a virtual node as ListVirtualNodes returns it.
type VirtualNodeRef struct {
	ARN             string    `json:"arn"`
	CreatedAt       Timestamp `json:"createdAt"`
	LastUpdatedAt   Timestamp `json:"lastUpdatedAt"`
	MeshName        string    `json:"meshName"`
	MeshOwner       string    `json:"meshOwner"`
	ResourceOwner   string    `json:"resourceOwner"`
	Version         int64     `json:"version"`
	VirtualNodeName string    `json:"virtualNodeName"`
}

// VirtualNodeSpec is the specification of a virtual node. Backends and
// Listeners are always present in responses, empty when unset, as in AWS.
type VirtualNodeSpec struct {
	BackendDefaults  *BackendDefaults  `json:"backendDefaults,omitempty"`
	Backends         []Backend         `json:"backends"`
	Listeners        []Listener        `json:"listeners"`
	Logging          *Logging          `json:"logging,omitempty"`
	ServiceDiscovery *ServiceDiscovery `json:"serviceDiscovery,omitempty"`
}

// Backend is a virtual service a virtual node sends traffic to.
type Backend struct {
	VirtualService *VirtualServiceBackend `json:"virtualService,omitempty"`
}

// VirtualServiceBackend names a backend virtual service.
type VirtualServiceBackend struct {
	ClientPolicy       *ClientPolicy `json:"clientPolicy,omitempty"`
	VirtualServiceName string        `json:"virtualServiceName"`
}

// BackendDefaults apply to every backend of a virtual node.
type BackendDefaults struct {
	ClientPolicy *ClientPolicy `json:"clientPolicy,omitempty"`
}

// ClientPolicy is how a virtual node talks to a backend.
type ClientPolicy struct {
	TLS *ClientPolicyTLS `json:"tls,omitempty"`
}

// ClientPolicyTLS is the TLS a virtual node uses towards a backend.
type ClientPolicyTLS struct {
	Certificate *ClientTLSCertificate `json:"certificate,omitempty"`
	Enforce     *bool                 `json:"enforce,omitempty"`
	Ports       []int32               `json:"ports,omitempty"`
	Validation  *TLSValidationContext `json:"validation,omitempty"`
}

// ClientTLSCertificate is a union: File or SDS.
type ClientTLSCertificate struct {
	File *ListenerTLSFileCertificate `json:"file,omitempty"`
	SDS  *ListenerTLSSDSCertificate  `json:"sds,omitempty"`
}

// TLSValidationContext is how a client validates a server certificate.
type TLSValidationContext struct {
	SubjectAlternativeNames *SubjectAlternativeNames   `json:"subjectAlternativeNames,omitempty"`
	Trust                   *TLSValidationContextTrust `json:"trust,omitempty"`
}

// TLSValidationContextTrust is a union: ACM, File or SDS.
type TLSValidationContextTrust struct {
	ACM  *TLSValidationContextACMTrust  `json:"acm,omitempty"`
	File *TLSValidationContextFileTrust `json:"file,omitempty"`
	SDS  *TLSValidationContextSDSTrust  `json:"sds,omitempty"`
}

// TLSValidationContextACMTrust trusts ACM Private CAs.
type TLSValidationContextACMTrust struct {
	CertificateAuthorityARNs []string `json:"certificateAuthorityArns"`
}

// TLSValidationContextFileTrust trusts a certificate chain file.
type TLSValidationContextFileTrust struct {
	CertificateChain string `json:"certificateChain"`
}

// TLSValidationContextSDSTrust trusts a secret from SDS.
type TLSValidationContextSDSTrust struct {
	SecretName string `json:"secretName"`
}

// SubjectAlternativeNames restricts the accepted SANs.
type SubjectAlternativeNames struct {
	Match *SubjectAlternativeNameMatchers `json:"match,omitempty"`
}

// SubjectAlternativeNameMatchers lists exact SANs.
type SubjectAlternativeNameMatchers struct {
	Exact []string `json:"exact"`
}

// Listener is a virtual node's inbound port.
type Listener struct {
	ConnectionPool   *VirtualNodeConnectionPool `json:"connectionPool,omitempty"`
	HealthCheck      *HealthCheckPolicy         `json:"healthCheck,omitempty"`
	OutlierDetection *OutlierDetection          `json:"outlierDetection,omitempty"`
	PortMapping      *PortMapping               `json:"portMapping,omitempty"`
	Timeout          *ListenerTimeout           `json:"timeout,omitempty"`
	TLS              *ListenerTLS               `json:"tls,omitempty"`
}

// PortMapping is a port and its protocol: http, http2, grpc or tcp.
type PortMapping struct {
	Port     *int32 `json:"port,omitempty"`
	Protocol string `json:"protocol,omitempty"`
}

// VirtualNodeConnectionPool is a union, one member per listener protocol.
type VirtualNodeConnectionPool struct {
	GRPC  *VirtualNodeGRPCConnectionPool  `json:"grpc,omitempty"`
	HTTP  *VirtualNodeHTTPConnectionPool  `json:"http,omitempty"`
	HTTP2 *VirtualNodeHTTP2ConnectionPool `json:"http2,omitempty"`
	TCP   *VirtualNodeTCPConnectionPool   `json:"tcp,omitempty"`
}

// VirtualNodeGRPCConnectionPool limits a grpc listener.
type VirtualNodeGRPCConnectionPool struct {
	MaxRequests *int32 `json:"maxRequests,omitempty"`
}

// VirtualNodeHTTPConnectionPool limits an http listener.
type VirtualNodeHTTPConnectionPool struct {
	MaxConnections     *int32 `json:"maxConnections,omitempty"`
	MaxPendingRequests *int32 `json:"maxPendingRequests,omitempty"`
}

// VirtualNodeHTTP2ConnectionPool limits an http2 listener.
type VirtualNodeHTTP2ConnectionPool struct {
	MaxRequests *int32 `json:"maxRequests,omitempty"`
}

// VirtualNodeTCPConnectionPool limits a tcp listener.
type VirtualNodeTCPConnectionPool struct {
	MaxConnections *int32 `json:"maxConnections,omitempty"`
}

// HealthCheckPolicy is a listener's active health check.
type HealthCheckPolicy struct {
	HealthyThreshold   *int32 `json:"healthyThreshold,omitempty"`
	IntervalMillis     *int64 `json:"intervalMillis,omitempty"`
	Path               string `json:"path,omitempty"`
	Port               *int32 `json:"port,omitempty"`
	Protocol           string `json:"protocol,omitempty"`
	TimeoutMillis      *int64 `json:"timeoutMillis,omitempty"`
	UnhealthyThreshold *int32 `json:"unhealthyThreshold,omitempty"`
}

// OutlierDetection ejects endpoints that return server errors.
type OutlierDetection struct {
	BaseEjectionDuration *Duration `json:"baseEjectionDuration,omitempty"`
	Interval             *Duration `json:"interval,omitempty"`
	MaxEjectionPercent   *int32    `json:"maxEjectionPercent,omitempty"`
	MaxServerErrors      *int64    `json:"maxServerErrors,omitempty"`
}

// ListenerTimeout is a union, one member per listener protocol.
type ListenerTimeout struct {
	GRPC  *GRPCTimeout `json:"grpc,omitempty"`
	HTTP  *HTTPTimeout `json:"http,omitempty"`
	HTTP2 *HTTPTimeout `json:"http2,omitempty"`
	TCP   *TCPTimeout  `json:"tcp,omitempty"`
}

// HTTPTimeout is an http or http2 timeout.
type HTTPTimeout struct {
	Idle       *Duration `json:"idle,omitempty"`
	PerRequest *Duration `json:"perRequest,omitempty"`
}

// GRPCTimeout is a grpc timeout.
type GRPCTimeout struct {
	Idle       *Duration `json:"idle,omitempty"`
	PerRequest *Duration `json:"perRequest,omitempty"`
}

// TCPTimeout is a tcp timeout.
type TCPTimeout struct {
	Idle *Duration `json:"idle,omitempty"`
}

// ListenerTLS is a listener's TLS: mode STRICT, PERMISSIVE or DISABLED.
type ListenerTLS struct {
	Certificate *ListenerTLSCertificate       `json:"certificate,omitempty"`
	Mode        string                        `json:"mode,omitempty"`
	Validation  *ListenerTLSValidationContext `json:"validation,omitempty"`
}

// ListenerTLSCertificate is a union: ACM, File or SDS.
type ListenerTLSCertificate struct {
	ACM  *ListenerTLSACMCertificate  `json:"acm,omitempty"`
	File *ListenerTLSFileCertificate `json:"file,omitempty"`
	SDS  *ListenerTLSSDSCertificate  `json:"sds,omitempty"`
}

// ListenerTLSACMCertificate is an ACM certificate.
type ListenerTLSACMCertificate struct {
	CertificateARN string `json:"certificateArn"`
}

// ListenerTLSFileCertificate is a certificate and key on the proxy's disk.
type ListenerTLSFileCertificate struct {
	CertificateChain string `json:"certificateChain"`
	PrivateKey       string `json:"privateKey"`
}

// ListenerTLSSDSCertificate is a certificate from SDS.
type ListenerTLSSDSCertificate struct {
	SecretName string `json:"secretName"`
}

// ListenerTLSValidationContext is how a listener validates client
// certificates.
type ListenerTLSValidationContext struct {
	SubjectAlternativeNames *SubjectAlternativeNames           `json:"subjectAlternativeNames,omitempty"`
	Trust                   *ListenerTLSValidationContextTrust `json:"trust,omitempty"`
}

// ListenerTLSValidationContextTrust is a union: File or SDS.
type ListenerTLSValidationContextTrust struct {
	File *TLSValidationContextFileTrust `json:"file,omitempty"`
	SDS  *TLSValidationContextSDSTrust  `json:"sds,omitempty"`
}

// Logging is a virtual node's access log.
type Logging struct {
	AccessLog *AccessLog `json:"accessLog,omitempty"`
}

// AccessLog is a union with one member, File.
type AccessLog struct {
	File *FileAccessLog `json:"file,omitempty"`
}

// FileAccessLog writes the access log to a path.
type FileAccessLog struct {
	Format *LoggingFormat `json:"format,omitempty"`
	Path   string         `json:"path"`
}

// LoggingFormat is a union: JSON fields or a Text pattern.
type LoggingFormat struct {
	JSON []JSONFormatRef `json:"json,omitempty"`
	Text *string         `json:"text,omitempty"`
}

// JSONFormatRef is one field of a JSON access log.
type JSONFormatRef struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ServiceDiscovery is a union: AWSCloudMap or DNS.
type ServiceDiscovery struct {
	AWSCloudMap *AWSCloudMapServiceDiscovery `json:"awsCloudMap,omitempty"`
	DNS         *DNSServiceDiscovery         `json:"dns,omitempty"`
}

// AWSCloudMapServiceDiscovery finds a node's endpoints in Cloud Map.
type AWSCloudMapServiceDiscovery struct {
	Attributes    []AWSCloudMapInstanceAttribute `json:"attributes,omitempty"`
	IPPreference  string                         `json:"ipPreference,omitempty"`
	NamespaceName string                         `json:"namespaceName"`
	ServiceName   string                         `json:"serviceName"`
}

// AWSCloudMapInstanceAttribute filters Cloud Map instances by attribute.
type AWSCloudMapInstanceAttribute struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// DNSServiceDiscovery finds a node's endpoints through DNS.
type DNSServiceDiscovery struct {
	Hostname     string `json:"hostname"`
	IPPreference string `json:"ipPreference,omitempty"`
	ResponseType string `json:"responseType,omitempty"`
}

// Virtual services.

// VirtualServiceData is a virtual service.
type VirtualServiceData struct {
	MeshName           string             `json:"meshName"`
	Metadata           ResourceMetadata   `json:"metadata"`
	Spec               VirtualServiceSpec `json:"spec"`
	Status             ResourceStatus     `json:"status"`
	VirtualServiceName string             `json:"virtualServiceName"`
}

// VirtualServiceRef is a virtual service as ListVirtualServices returns it.
type VirtualServiceRef struct {
	ARN                string    `json:"arn"`
	CreatedAt          Timestamp `json:"createdAt"`
	LastUpdatedAt      Timestamp `json:"lastUpdatedAt"`
	MeshName           string    `json:"meshName"`
	MeshOwner          string    `json:"meshOwner"`
	ResourceOwner      string    `json:"resourceOwner"`
	Version            int64     `json:"version"`
	VirtualServiceName string    `json:"virtualServiceName"`
}

// VirtualServiceSpec is the specification of a virtual service.
type VirtualServiceSpec struct {
	Provider *VirtualServiceProvider `json:"provider,omitempty"`
}

// VirtualServiceProvider is a union: VirtualNode or VirtualRouter.
type VirtualServiceProvider struct {
	VirtualNode   *VirtualNodeServiceProvider   `json:"virtualNode,omitempty"`
	VirtualRouter *VirtualRouterServiceProvider `json:"virtualRouter,omitempty"`
}

// VirtualNodeServiceProvider names the providing virtual node.
type VirtualNodeServiceProvider struct {
	VirtualNodeName string `json:"virtualNodeName"`
}

// VirtualRouterServiceProvider names the providing virtual router.
type VirtualRouterServiceProvider struct {
	VirtualRouterName string `json:"virtualRouterName"`
}

// Virtual routers.

// VirtualRouterData is a virtual router.
type VirtualRouterData struct {
	MeshName          string            `json:"meshName"`
	Metadata          ResourceMetadata  `json:"metadata"`
	Spec              VirtualRouterSpec `json:"spec"`
	Status            ResourceStatus    `json:"status"`
	VirtualRouterName string            `json:"virtualRouterName"`
}

// VirtualRouterRef is a virtual router as ListVirtualRouters returns it.
type VirtualRouterRef struct {
	ARN               string    `json:"arn"`
	CreatedAt         Timestamp `json:"createdAt"`
	LastUpdatedAt     Timestamp `json:"lastUpdatedAt"`
	MeshName          string    `json:"meshName"`
	MeshOwner         string    `json:"meshOwner"`
	ResourceOwner     string    `json:"resourceOwner"`
	Version           int64     `json:"version"`
	VirtualRouterName string    `json:"virtualRouterName"`
}

// VirtualRouterSpec is the specification of a virtual router.
type VirtualRouterSpec struct {
	Listeners []VirtualRouterListener `json:"listeners"`
}

// VirtualRouterListener is a virtual router's port.
type VirtualRouterListener struct {
	PortMapping *PortMapping `json:"portMapping,omitempty"`
}

// Routes.

// RouteData is a route of a virtual router.
type RouteData struct {
	MeshName          string           `json:"meshName"`
	Metadata          ResourceMetadata `json:"metadata"`
	RouteName         string           `json:"routeName"`
	Spec              RouteSpec        `json:"spec"`
	Status            ResourceStatus   `json:"status"`
	VirtualRouterName string           `json:"virtualRouterName"`
}

// RouteRef is a route as ListRoutes returns it.
type RouteRef struct {
	ARN               string    `json:"arn"`
	CreatedAt         Timestamp `json:"createdAt"`
	LastUpdatedAt     Timestamp `json:"lastUpdatedAt"`
	MeshName          string    `json:"meshName"`
	MeshOwner         string    `json:"meshOwner"`
	ResourceOwner     string    `json:"resourceOwner"`
	RouteName         string    `json:"routeName"`
	Version           int64     `json:"version"`
	VirtualRouterName string    `json:"virtualRouterName"`
}

// RouteSpec is the specification of a route: exactly one of the route types,
// and a priority (0 is highest, 1000 lowest).
type RouteSpec struct {
	GRPCRoute  *GRPCRoute `json:"grpcRoute,omitempty"`
	HTTP2Route *HTTPRoute `json:"http2Route,omitempty"`
	HTTPRoute  *HTTPRoute `json:"httpRoute,omitempty"`
	Priority   *int32     `json:"priority,omitempty"`
	TCPRoute   *TCPRoute  `json:"tcpRoute,omitempty"`
}

// Protocol returns the protocol of the route type that is set ("http",
// "http2", "grpc", "tcp"), or "" when none is.
func (s *RouteSpec) Protocol() string {
	switch {
	case s.HTTPRoute != nil:
		return "http"
	case s.HTTP2Route != nil:
		return "http2"
	case s.GRPCRoute != nil:
		return "grpc"
	case s.TCPRoute != nil:
		return "tcp"
	}
	return ""
}

// Action returns the action of the route type that is set, or nil.
func (s *RouteSpec) Action() *RouteAction {
	switch {
	case s.HTTPRoute != nil:
		return s.HTTPRoute.Action
	case s.HTTP2Route != nil:
		return s.HTTP2Route.Action
	case s.GRPCRoute != nil:
		return s.GRPCRoute.Action
	case s.TCPRoute != nil:
		return s.TCPRoute.Action
	}
	return nil
}

// RouteAction is where a route sends traffic.
type RouteAction struct {
	WeightedTargets []WeightedTarget `json:"weightedTargets"`
}

// WeightedTarget sends a relative share (0 to 100) of a route's traffic to a
// virtual node.
type WeightedTarget struct {
	Port        *int32 `json:"port,omitempty"`
	VirtualNode string `json:"virtualNode"`
	Weight      *int32 `json:"weight,omitempty"`
}

// HTTPRoute is an http or http2 route.
type HTTPRoute struct {
	Action      *RouteAction     `json:"action,omitempty"`
	Match       *HTTPRouteMatch  `json:"match,omitempty"`
	RetryPolicy *HTTPRetryPolicy `json:"retryPolicy,omitempty"`
	Timeout     *HTTPTimeout     `json:"timeout,omitempty"`
}

// HTTPRouteMatch is what an http or http2 route matches: a Prefix or a Path,
// and optionally headers, method, query parameters, scheme and port.
type HTTPRouteMatch struct {
	Headers         []HTTPRouteHeader    `json:"headers,omitempty"`
	Method          string               `json:"method,omitempty"`
	Path            *HTTPPathMatch       `json:"path,omitempty"`
	Port            *int32               `json:"port,omitempty"`
	Prefix          string               `json:"prefix,omitempty"`
	QueryParameters []HTTPQueryParameter `json:"queryParameters,omitempty"`
	Scheme          string               `json:"scheme,omitempty"`
}

// HTTPRouteHeader matches a request header.
type HTTPRouteHeader struct {
	Invert *bool              `json:"invert,omitempty"`
	Match  *HeaderMatchMethod `json:"match,omitempty"`
	Name   string             `json:"name"`
}

// HeaderMatchMethod is a union: Exact, Prefix, Range, Regex or Suffix. It is
// also the match of gRPC metadata.
type HeaderMatchMethod struct {
	Exact  string      `json:"exact,omitempty"`
	Prefix string      `json:"prefix,omitempty"`
	Range  *MatchRange `json:"range,omitempty"`
	Regex  string      `json:"regex,omitempty"`
	Suffix string      `json:"suffix,omitempty"`
}

// MatchRange matches an integer value in [Start, End).
type MatchRange struct {
	End   *int64 `json:"end,omitempty"`
	Start *int64 `json:"start,omitempty"`
}

// HTTPPathMatch matches the whole path: Exact or Regex.
type HTTPPathMatch struct {
	Exact string `json:"exact,omitempty"`
	Regex string `json:"regex,omitempty"`
}

// HTTPQueryParameter matches a query parameter.
type HTTPQueryParameter struct {
	Match *QueryParameterMatch `json:"match,omitempty"`
	Name  string               `json:"name"`
}

// QueryParameterMatch matches a query parameter's value exactly.
type QueryParameterMatch struct {
	Exact string `json:"exact,omitempty"`
}

// HTTPRetryPolicy retries http and http2 requests.
type HTTPRetryPolicy struct {
	HTTPRetryEvents []string  `json:"httpRetryEvents,omitempty"`
	MaxRetries      *int64    `json:"maxRetries,omitempty"`
	PerRetryTimeout *Duration `json:"perRetryTimeout,omitempty"`
	TCPRetryEvents  []string  `json:"tcpRetryEvents,omitempty"`
}

// GRPCRoute is a grpc route.
type GRPCRoute struct {
	Action      *RouteAction     `json:"action,omitempty"`
	Match       *GRPCRouteMatch  `json:"match,omitempty"`
	RetryPolicy *GRPCRetryPolicy `json:"retryPolicy,omitempty"`
	Timeout     *GRPCTimeout     `json:"timeout,omitempty"`
}

// GRPCRouteMatch is what a grpc route matches.
type GRPCRouteMatch struct {
	Metadata    []GRPCRouteMetadata `json:"metadata,omitempty"`
	MethodName  string              `json:"methodName,omitempty"`
	Port        *int32              `json:"port,omitempty"`
	ServiceName string              `json:"serviceName,omitempty"`
}

// GRPCRouteMetadata matches a gRPC metadata entry.
type GRPCRouteMetadata struct {
	Invert *bool              `json:"invert,omitempty"`
	Match  *HeaderMatchMethod `json:"match,omitempty"`
	Name   string             `json:"name"`
}

// GRPCRetryPolicy retries grpc calls.
type GRPCRetryPolicy struct {
	GRPCRetryEvents []string  `json:"grpcRetryEvents,omitempty"`
	HTTPRetryEvents []string  `json:"httpRetryEvents,omitempty"`
	MaxRetries      *int64    `json:"maxRetries,omitempty"`
	PerRetryTimeout *Duration `json:"perRetryTimeout,omitempty"`
	TCPRetryEvents  []string  `json:"tcpRetryEvents,omitempty"`
}

// TCPRoute is a tcp route.
type TCPRoute struct {
	Action  *RouteAction   `json:"action,omitempty"`
	Match   *TCPRouteMatch `json:"match,omitempty"`
	Timeout *TCPTimeout    `json:"timeout,omitempty"`
}

// TCPRouteMatch matches a tcp route by port.
type TCPRouteMatch struct {
	Port *int32 `json:"port,omitempty"`
}

// State is a deep copy of every mesh with its resources, ordered by name at
// every level.
type State struct {
	Meshes []MeshState
}

// MeshState is one mesh and its resources.
type MeshState struct {
	Mesh            MeshData
	VirtualNodes    []VirtualNodeData
	VirtualServices []VirtualServiceData
	VirtualRouters  []VirtualRouterState
	VirtualGateways []VirtualGatewayState
}

// VirtualRouterState is a virtual router and its routes.
type VirtualRouterState struct {
	VirtualRouter VirtualRouterData
	Routes        []RouteData
}
