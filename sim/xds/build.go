package xds

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	router "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttp "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cache "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/meshsim/meshsim/sim/contract"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Resource names of the two listeners every virtual node's proxy
// gets, as in App Mesh's Envoy configuration: the application sends its
// outbound traffic to the egress listener, and callers reach the
// application through the ingress listener.
const (
	IngressListenerName = "lds_ingress_0.0.0.0_15000"
	EgressListenerName  = "lds_egress_0.0.0.0_15001"
	IngressRouteName    = "rds_ingress_http_15000"
	EgressRouteName     = "rds_egress_http_15001"
)

// Names of the Envoy extensions the generated configuration uses.
const (
	hcmFilterName       = "envoy.filters.network.http_connection_manager"
	routerFilterName    = "envoy.filters.http.router"
	httpProtocolOptions = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
)

// connectTimeout is the upstream connect timeout of every cluster.
const connectTimeout = time.Second

// endpointLocality is the locality every endpoint is reported in: the
// simulated world has one zone. gRPC clients require a locality and a
// non-zero locality weight.
func endpointLocality() *core.Locality {
	return &core.Locality{Region: "local", Zone: "local"}
}

// ClusterName returns the name of the egress cluster that sends traffic to
// a virtual node.
func ClusterName(mesh, virtualNode string) string {
	return "cds_egress_" + mesh + "_" + virtualNode
}

func ingressClusterName(mesh, virtualNode string, l Listener) string {
	return "cds_ingress_" + mesh + "_" + virtualNode + "_" + string(l.Protocol) + "_" + strconv.FormatUint(uint64(l.Port), 10)
}

// NodeResources is the Envoy configuration of one virtual node's proxies.
type NodeResources struct {
	Listeners []*listener.Listener
	Routes    []*route.RouteConfiguration
	Clusters  []*cluster.Cluster
	Endpoints []*endpoint.ClusterLoadAssignment
}

// Validate runs the protoc-gen-validate rules on every resource.
func (r NodeResources) Validate() error {
	var errs []error
	check := func(kind, name string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", kind, name, err))
		}
	}
	for _, l := range r.Listeners {
		check("listener", l.GetName(), l.Validate())
	}
	for _, rc := range r.Routes {
		check("route configuration", rc.GetName(), rc.Validate())
	}
	for _, c := range r.Clusters {
		check("cluster", c.GetName(), c.Validate())
	}
	for _, e := range r.Endpoints {
		check("cluster load assignment", e.GetClusterName(), e.Validate())
	}
	return errors.Join(errs...)
}

// Snapshot returns r as a go-control-plane snapshot. Each resource type
// carries its own version, a hash of its marshalled resources, so that a
// type is pushed again only when its content changes.
func (r NodeResources) Snapshot() (*cache.Snapshot, error) {
	var s cache.Snapshot
	groups := []struct {
		typ   types.ResponseType
		items []types.Resource
	}{
		{types.Listener, asResources(r.Listeners)},
		{types.Route, asResources(r.Routes)},
		{types.Cluster, asResources(r.Clusters)},
		{types.Endpoint, asResources(r.Endpoints)},
	}
	for _, g := range groups {
		v, err := version(g.items)
		if err != nil {
			return nil, err
		}
		s.Resources[g.typ] = cache.NewResources(v, g.items)
	}
	return &s, nil
}

func asResources[T types.Resource](items []T) []types.Resource {
	out := make([]types.Resource, len(items))
	for i, it := range items {
		out[i] = it
	}
	return out
}

// version hashes the deterministic encoding of items in name order.
func version(items []types.Resource) (string, error) {
	sorted := slices.Clone(items)
	slices.SortFunc(sorted, func(a, b types.Resource) int {
		return strings.Compare(cache.GetResourceName(a), cache.GetResourceName(b))
	})
	h := sha256.New()
	opts := proto.MarshalOptions{Deterministic: true}
	for _, it := range sorted {
		b, err := opts.Marshal(it)
		if err != nil {
			return "", fmt.Errorf("marshal %s: %w", cache.GetResourceName(it), err)
		}
		h.Write([]byte(strconv.Itoa(len(b))))
		h.Write([]byte{':'})
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:6]), nil
}

// Build returns the Envoy configuration of every virtual node in w, keyed
// by node id (NodeID). It is a pure function of w. Every resource it
// returns passes its Validate method.
//
// A virtual node's backends become virtual hosts of its egress route
// configuration; a backend naming a virtual service that does not exist
// (yet) gets no virtual host, so requests for it are answered 404, as
// Envoy answers a host it has no route for. Routes of protocol tcp are not
// translated: the egress listener is an HTTP connection manager.
//
// As App Mesh does, a route without a retry policy gets App Mesh's default
// one (defaultRetryPolicy). Timeouts follow the model described at
// TimeoutDisabled: an http or http2 route's per-request timeout is
// Envoy's route timeout (unset: Envoy's default of 15 s; disabled: 0),
// and a grpc route (or the route to a grpc virtual node) gets a
// max_stream_duration instead, which turns Envoy's route timeout off: its
// grpc_timeout_header_max makes the call's own deadline (the grpc-timeout
// header) bound the call, capped at the per-request timeout when one is
// set, and its max_stream_duration is that per-request timeout. Idle
// timeouts become the route's idle_timeout. The ingress route takes the
// timeouts of the virtual node's listener.
func Build(w World) (map[string]NodeResources, error) {
	out := make(map[string]NodeResources)
	meshes := make(map[string]bool)
	for _, m := range w.Meshes {
		if m.Name == "" {
			return nil, errors.New("mesh with empty name")
		}
		if meshes[m.Name] {
			return nil, fmt.Errorf("mesh %q listed twice", m.Name)
		}
		meshes[m.Name] = true
		ix, err := indexMesh(m)
		if err != nil {
			return nil, fmt.Errorf("mesh %q: %w", m.Name, err)
		}
		for i := range m.VirtualNodes {
			vn := &m.VirtualNodes[i]
			res, err := ix.buildNode(vn)
			if err != nil {
				return nil, fmt.Errorf("mesh %q virtual node %q: %w", m.Name, vn.Name, err)
			}
			if err := res.Validate(); err != nil {
				return nil, fmt.Errorf("mesh %q virtual node %q: %w", m.Name, vn.Name, err)
			}
			out[contract.NodeID(m.Name, vn.Name)] = res
		}
		for i := range m.VirtualGateways {
			gw := &m.VirtualGateways[i]
			res, err := ix.buildGateway(gw)
			if err == nil {
				err = res.Validate()
			}
			if err != nil {
				return nil, fmt.Errorf("mesh %q virtual gateway %q: %w", m.Name, gw.Name, err)
			}
			out[contract.GatewayNodeID(m.Name, gw.Name)] = res
		}
	}
	for i := range w.LoadBalancers {
		lb := &w.LoadBalancers[i]
		if lb.NodeID == "" || out[lb.NodeID].Listeners != nil {
			return nil, fmt.Errorf("load balancer %q: node id %q is empty or taken", lb.Name, lb.NodeID)
		}
		res, err := buildLoadBalancer(lb)
		if err == nil {
			err = res.Validate()
		}
		if err != nil {
			return nil, fmt.Errorf("load balancer %q: %w", lb.Name, err)
		}
		out[lb.NodeID] = res
	}
	return out, nil
}

// meshIndex finds a mesh's resources by name.
type meshIndex struct {
	mesh     string
	nodes    map[string]*VirtualNode
	services map[string]*VirtualService
	routers  map[string]*VirtualRouter
}

func indexMesh(m Mesh) (*meshIndex, error) {
	ix := &meshIndex{
		mesh:     m.Name,
		nodes:    make(map[string]*VirtualNode),
		services: make(map[string]*VirtualService),
		routers:  make(map[string]*VirtualRouter),
	}
	for i := range m.VirtualNodes {
		if err := add(ix.nodes, "virtual node", m.VirtualNodes[i].Name, &m.VirtualNodes[i]); err != nil {
			return nil, err
		}
	}
	for i := range m.VirtualServices {
		if err := add(ix.services, "virtual service", m.VirtualServices[i].Name, &m.VirtualServices[i]); err != nil {
			return nil, err
		}
	}
	for i := range m.VirtualRouters {
		if err := add(ix.routers, "virtual router", m.VirtualRouters[i].Name, &m.VirtualRouters[i]); err != nil {
			return nil, err
		}
	}
	return ix, nil
}

func add[T any](m map[string]*T, kind, name string, v *T) error {
	if name == "" {
		return fmt.Errorf("%s with empty name", kind)
	}
	if _, dup := m[name]; dup {
		return fmt.Errorf("%s %q listed twice", kind, name)
	}
	m[name] = v
	return nil
}

// httpListener returns the first listener of l that is not tcp.
func httpListener(ls []Listener) (Listener, bool) {
	for _, l := range ls {
		if l.Protocol != TCP {
			return l, true
		}
	}
	return Listener{}, false
}

func (ix *meshIndex) buildNode(vn *VirtualNode) (NodeResources, error) {
	var res NodeResources

	// Egress: one virtual host per backend virtual service.
	var vhosts []*route.VirtualHost
	targets := make(map[string]bool)
	seen := make(map[string]bool)
	for _, b := range vn.Backends {
		if seen[b] {
			continue
		}
		seen[b] = true
		vs, ok := ix.services[b]
		if !ok {
			continue
		}
		vh, err := ix.virtualHost(vs, targets)
		if err != nil {
			return res, fmt.Errorf("backend %q: %w", b, err)
		}
		if vh != nil {
			vhosts = append(vhosts, vh)
		}
	}
	egress, err := socketListener(EgressListenerName, contract.EgressPort, core.TrafficDirection_OUTBOUND, "egress", EgressRouteName)
	if err != nil {
		return res, err
	}
	res.Listeners = append(res.Listeners, egress)
	res.Routes = append(res.Routes, &route.RouteConfiguration{Name: EgressRouteName, VirtualHosts: vhosts})

	for _, name := range slices.Sorted(maps.Keys(targets)) {
		target := ix.nodes[name]
		c, err := egressCluster(ix.mesh, name, target)
		if err != nil {
			return res, err
		}
		res.Clusters = append(res.Clusters, c)
		res.Endpoints = append(res.Endpoints, loadAssignment(c.GetName(), target))
	}

	// Ingress: the node's own application, on the task's localhost.
	if l, ok := httpListener(vn.Listeners); ok {
		name := ingressClusterName(ix.mesh, vn.Name, l)
		ingress, err := socketListener(IngressListenerName, contract.IngressPort, core.TrafficDirection_INBOUND, "ingress", IngressRouteName)
		if err != nil {
			return res, err
		}
		res.Listeners = append(res.Listeners, ingress)
		action := &route.RouteAction{ClusterSpecifier: &route.RouteAction_Cluster{Cluster: name}}
		if err := setTimeouts(action, l.Protocol, l.PerRequestTimeoutMillis, l.IdleTimeoutMillis); err != nil {
			return res, fmt.Errorf("listener %d: %w", l.Port, err)
		}
		res.Routes = append(res.Routes, &route.RouteConfiguration{
			Name: IngressRouteName,
			VirtualHosts: []*route.VirtualHost{{
				Name:    vn.Name + "_ingress",
				Domains: []string{"*"},
				Routes: []*route.Route{{
					Name:   "ingress",
					Match:  &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}},
					Action: &route.Route_Route{Route: action},
				}},
			}},
		})
		c := &cluster.Cluster{
			Name:                 name,
			ConnectTimeout:       durationpb.New(connectTimeout),
			ClusterDiscoveryType: &cluster.Cluster_Type{Type: cluster.Cluster_STATIC},
			LbPolicy:             cluster.Cluster_ROUND_ROBIN,
			LoadAssignment: &endpoint.ClusterLoadAssignment{
				ClusterName: name,
				Endpoints: []*endpoint.LocalityLbEndpoints{{
					Locality:            endpointLocality(),
					LoadBalancingWeight: wrapperspb.UInt32(1),
					LbEndpoints:         []*endpoint.LbEndpoint{lbEndpoint("127.0.0.1", l.Port)},
				}},
			},
		}
		if err := setProtocolOptions(c, l.Protocol); err != nil {
			return res, err
		}
		res.Clusters = append(res.Clusters, c)
	}
	return res, nil
}

// virtualHost returns the virtual host that serves vs, adding the virtual
// nodes it may send traffic to to targets. It returns nil for a virtual
// service without a provider.
func (ix *meshIndex) virtualHost(vs *VirtualService, targets map[string]bool) (*route.VirtualHost, error) {
	vh := &route.VirtualHost{Name: vs.Name}
	var ports []uint32
	switch {
	case vs.ProviderNode != "":
		action := &route.RouteAction{
			ClusterSpecifier: &route.RouteAction_Cluster{Cluster: ClusterName(ix.mesh, vs.ProviderNode)},
			RetryPolicy:      defaultRetryPolicy(),
		}
		if n, ok := ix.nodes[vs.ProviderNode]; ok {
			for _, l := range n.Listeners {
				ports = append(ports, l.Port)
			}
			if l, ok := httpListener(n.Listeners); ok {
				if err := setTimeouts(action, l.Protocol, 0, 0); err != nil {
					return nil, err
				}
			}
		}
		targets[vs.ProviderNode] = true
		vh.Routes = []*route.Route{{
			Name:   vs.ProviderNode,
			Match:  &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}},
			Action: &route.Route_Route{Route: action},
		}}
	case vs.ProviderRouter != "":
		vr, ok := ix.routers[vs.ProviderRouter]
		if !ok {
			break // a virtual host without routes: 404 until the router exists
		}
		for _, l := range vr.Listeners {
			ports = append(ports, l.Port)
		}
		routes := slices.Clone(vr.Routes)
		slices.SortStableFunc(routes, compareRoutes)
		for i := range routes {
			r, err := ix.route(&routes[i], targets)
			if err != nil {
				return nil, fmt.Errorf("route %q: %w", routes[i].Name, err)
			}
			if r != nil {
				vh.Routes = append(vh.Routes, r)
			}
		}
	default:
		return nil, nil
	}
	vh.Domains = []string{vs.Name}
	for _, p := range ports {
		d := vs.Name + ":" + strconv.FormatUint(uint64(p), 10)
		if !slices.Contains(vh.Domains, d) {
			vh.Domains = append(vh.Domains, d)
		}
	}
	return vh, nil
}

// compareRoutes orders routes by priority (0 first, unset last), then name.
func compareRoutes(a, b Route) int {
	switch {
	case a.Priority == nil && b.Priority != nil:
		return 1
	case a.Priority != nil && b.Priority == nil:
		return -1
	case a.Priority != nil && b.Priority != nil && *a.Priority != *b.Priority:
		return cmp.Compare(*a.Priority, *b.Priority)
	}
	return strings.Compare(a.Name, b.Name)
}

// route translates an App Mesh route; it returns nil for tcp routes.
func (ix *meshIndex) route(r *Route, targets map[string]bool) (*route.Route, error) {
	m := &route.RouteMatch{}
	switch r.Protocol {
	case TCP:
		return nil, nil
	case GRPC:
		switch {
		case r.GRPCMethod != "" && r.GRPCService == "":
			return nil, errors.New("grpc method name without service name")
		case r.GRPCService != "" && r.GRPCMethod != "":
			m.PathSpecifier = &route.RouteMatch_Path{Path: "/" + r.GRPCService + "/" + r.GRPCMethod}
		case r.GRPCService != "":
			m.PathSpecifier = &route.RouteMatch_Prefix{Prefix: "/" + r.GRPCService + "/"}
		default:
			m.PathSpecifier = &route.RouteMatch_Prefix{Prefix: "/"}
		}
		m.Grpc = &route.RouteMatch_GrpcRouteMatchOptions{}
	default:
		prefix := r.Prefix
		if prefix == "" {
			prefix = "/"
		}
		m.PathSpecifier = &route.RouteMatch_Prefix{Prefix: prefix}
	}
	for _, h := range r.Headers {
		hm, err := headerMatcher(h)
		if err != nil {
			return nil, err
		}
		m.Headers = append(m.Headers, hm)
	}

	out := &route.Route{Name: r.Name, Match: m}
	var weighted []*route.WeightedCluster_ClusterWeight
	for _, t := range r.Targets {
		if t.VirtualNode == "" {
			return nil, errors.New("weighted target without virtual node")
		}
		targets[t.VirtualNode] = true
		if t.Weight > 0 {
			weighted = append(weighted, &route.WeightedCluster_ClusterWeight{
				Name:   ClusterName(ix.mesh, t.VirtualNode),
				Weight: wrapperspb.UInt32(t.Weight),
			})
		}
	}
	if len(weighted) == 0 {
		out.Action = &route.Route_DirectResponse{DirectResponse: &route.DirectResponseAction{
			Status: 503,
			Body:   &core.DataSource{Specifier: &core.DataSource_InlineString{InlineString: "no healthy upstream"}},
		}}
		return out, nil
	}
	action := &route.RouteAction{ClusterSpecifier: &route.RouteAction_WeightedClusters{
		WeightedClusters: &route.WeightedCluster{Clusters: weighted},
	}}
	action.RetryPolicy = defaultRetryPolicy()
	if r.Retry != nil {
		if rp := retryPolicy(r.Retry); rp != nil {
			action.RetryPolicy = rp
		}
	}
	if err := setTimeouts(action, r.Protocol, r.PerRequestTimeoutMillis, r.IdleTimeoutMillis); err != nil {
		return nil, err
	}
	out.Action = &route.Route_Route{Route: action}
	return out, nil
}

// setTimeouts sets the timeouts of a route action to an App Mesh route or
// listener of protocol p, as described at TimeoutDisabled and Build.
func setTimeouts(a *route.RouteAction, p Protocol, perRequestMillis, idleMillis int64) error {
	perRequest, err := timeout("per-request", perRequestMillis)
	if err != nil {
		return err
	}
	idle, err := timeout("idle", idleMillis)
	if err != nil {
		return err
	}
	if p == GRPC {
		msd := &route.RouteAction_MaxStreamDuration{GrpcTimeoutHeaderMax: durationpb.New(0)}
		if perRequestMillis > 0 {
			msd.MaxStreamDuration = perRequest
			msd.GrpcTimeoutHeaderMax = perRequest
		}
		a.MaxStreamDuration = msd
	} else {
		a.Timeout = perRequest
	}
	a.IdleTimeout = idle
	return nil
}

// timeout returns an App Mesh timeout in milliseconds as an Envoy
// duration: nil when unset, 0 when disabled.
func timeout(what string, millis int64) (*durationpb.Duration, error) {
	switch {
	case millis == 0:
		return nil, nil
	case millis == TimeoutDisabled:
		return durationpb.New(0), nil
	case millis < 0:
		return nil, fmt.Errorf("%s timeout %d ms: want > 0, 0 (unset) or TimeoutDisabled", what, millis)
	}
	return durationpb.New(time.Duration(millis) * time.Millisecond), nil
}

func headerMatcher(h HeaderMatch) (*route.HeaderMatcher, error) {
	if h.Name == "" {
		return nil, errors.New("header match without name")
	}
	set := 0
	for _, v := range []string{h.Exact, h.Prefix, h.Suffix, h.Regex} {
		if v != "" {
			set++
		}
	}
	if h.Range != nil {
		set++
	}
	if set > 1 {
		return nil, fmt.Errorf("header match %q: more than one of exact, prefix, suffix, regex and range", h.Name)
	}
	hm := &route.HeaderMatcher{Name: strings.ToLower(h.Name), InvertMatch: h.Invert}
	var sm *matcher.StringMatcher
	switch {
	case h.Exact != "":
		sm = &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Exact{Exact: h.Exact}}
	case h.Prefix != "":
		sm = &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Prefix{Prefix: h.Prefix}}
	case h.Suffix != "":
		sm = &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Suffix{Suffix: h.Suffix}}
	case h.Regex != "":
		sm = &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_SafeRegex{SafeRegex: &matcher.RegexMatcher{Regex: h.Regex}}}
	case h.Range != nil:
		if h.Range.Start >= h.Range.End {
			return nil, fmt.Errorf("header match %q: range start %d not below end %d", h.Name, h.Range.Start, h.Range.End)
		}
		hm.HeaderMatchSpecifier = &route.HeaderMatcher_RangeMatch{RangeMatch: &typev3.Int64Range{Start: h.Range.Start, End: h.Range.End}}
		return hm, nil
	}
	if sm == nil {
		hm.HeaderMatchSpecifier = &route.HeaderMatcher_PresentMatch{PresentMatch: true}
	} else {
		hm.HeaderMatchSpecifier = &route.HeaderMatcher_StringMatch{StringMatch: sm}
	}
	return hm, nil
}

// retryPolicy maps App Mesh retry events to Envoy's retry_on conditions.
// As in App Mesh, server-error and gateway-error include Envoy's reset.
func retryPolicy(p *RetryPolicy) *route.RetryPolicy {
	var on []string
	addOn := func(cs ...string) {
		for _, c := range cs {
			if !slices.Contains(on, c) {
				on = append(on, c)
			}
		}
	}
	for _, e := range p.HTTPRetryEvents {
		switch e {
		case "server-error":
			addOn("5xx", "reset")
		case "gateway-error":
			addOn("gateway-error", "reset")
		case "client-error":
			addOn("retriable-4xx")
		case "stream-error":
			addOn("refused-stream")
		}
	}
	for _, e := range p.TCPRetryEvents {
		if e == "connection-error" {
			addOn("connect-failure")
		}
	}
	for _, e := range p.GRPCRetryEvents {
		switch e {
		case "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable":
			addOn(e)
		}
	}
	if len(on) == 0 {
		return nil
	}
	rp := &route.RetryPolicy{RetryOn: strings.Join(on, ","), NumRetries: wrapperspb.UInt32(p.MaxRetries)}
	if p.PerRetryTimeoutMillis > 0 {
		rp.PerTryTimeout = durationpb.New(time.Duration(p.PerRetryTimeoutMillis) * time.Millisecond)
	}
	return rp
}

// defaultRetryPolicy is the retry policy App Mesh gives every Envoy route
// that has none of its own (meshes created since July 2020, per App Mesh's
// "Envoy defaults" page): 2 retries on connect failure, refused stream,
// reset (no response at all), HTTP 503 and gRPC UNAVAILABLE.
func defaultRetryPolicy() *route.RetryPolicy {
	return &route.RetryPolicy{
		RetryOn:              "connect-failure,refused-stream,reset,unavailable,retriable-status-codes",
		RetriableStatusCodes: []uint32{503},
		NumRetries:           wrapperspb.UInt32(2),
	}
}

var adsSource = &core.ConfigSource{
	ResourceApiVersion:    core.ApiVersion_V3,
	ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}},
}

var deterministic = proto.MarshalOptions{Deterministic: true}

func marshalAny(m proto.Message) (*anypb.Any, error) {
	a := new(anypb.Any)
	if err := anypb.MarshalFrom(a, m, deterministic); err != nil {
		return nil, fmt.Errorf("marshal %T: %w", m, err)
	}
	return a, nil
}

// socketListener returns an Envoy listener on 0.0.0.0:port whose HTTP
// connection manager takes its routes from RDS over ADS.
func socketListener(name string, port uint32, dir core.TrafficDirection, statPrefix, routeName string) (*listener.Listener, error) {
	routerAny, err := marshalAny(&router.Router{})
	if err != nil {
		return nil, err
	}
	mgr := &hcm.HttpConnectionManager{
		CodecType:  hcm.HttpConnectionManager_AUTO,
		StatPrefix: statPrefix,
		RouteSpecifier: &hcm.HttpConnectionManager_Rds{Rds: &hcm.Rds{
			ConfigSource:    adsSource,
			RouteConfigName: routeName,
		}},
		HttpFilters: []*hcm.HttpFilter{{
			Name:       routerFilterName,
			ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: routerAny},
		}},
	}
	if err := mgr.Validate(); err != nil {
		return nil, fmt.Errorf("http connection manager: %w", err)
	}
	mgrAny, err := marshalAny(mgr)
	if err != nil {
		return nil, err
	}
	return &listener.Listener{
		Name:             name,
		Address:          socketAddress("0.0.0.0", port),
		TrafficDirection: dir,
		FilterChains: []*listener.FilterChain{{
			Filters: []*listener.Filter{{
				Name:       hcmFilterName,
				ConfigType: &listener.Filter_TypedConfig{TypedConfig: mgrAny},
			}},
		}},
	}, nil
}

func socketAddress(addr string, port uint32) *core.Address {
	return &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
		Protocol:      core.SocketAddress_TCP,
		Address:       addr,
		PortSpecifier: &core.SocketAddress_PortValue{PortValue: port},
	}}}
}

func lbEndpoint(addr string, port uint32) *endpoint.LbEndpoint {
	return &endpoint.LbEndpoint{
		HealthStatus: core.HealthStatus_HEALTHY,
		HostIdentifier: &endpoint.LbEndpoint_Endpoint{Endpoint: &endpoint.Endpoint{
			Address: socketAddress(addr, port),
		}},
	}
}

// egressCluster returns the EDS cluster of a target virtual node; target
// is nil when the route names a node that does not exist (yet), which
// gives a cluster without endpoints.
func egressCluster(mesh, name string, target *VirtualNode) (*cluster.Cluster, error) {
	c := &cluster.Cluster{
		Name:                 ClusterName(mesh, name),
		ConnectTimeout:       durationpb.New(connectTimeout),
		ClusterDiscoveryType: &cluster.Cluster_Type{Type: cluster.Cluster_EDS},
		EdsClusterConfig:     &cluster.Cluster_EdsClusterConfig{EdsConfig: adsSource},
		LbPolicy:             cluster.Cluster_ROUND_ROBIN,
	}
	if target != nil {
		if l, ok := httpListener(target.Listeners); ok {
			if err := setProtocolOptions(c, l.Protocol); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// setProtocolOptions makes c speak HTTP/2 upstream when p needs it.
func setProtocolOptions(c *cluster.Cluster, p Protocol) error {
	if p != HTTP2 && p != GRPC {
		return nil
	}
	opts, err := marshalAny(&upstreamhttp.HttpProtocolOptions{
		UpstreamProtocolOptions: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_{
			ExplicitHttpConfig: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &upstreamhttp.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
					Http2ProtocolOptions: &core.Http2ProtocolOptions{},
				},
			},
		},
	})
	if err != nil {
		return err
	}
	c.TypedExtensionProtocolOptions = map[string]*anypb.Any{httpProtocolOptions: opts}
	return nil
}

// loadAssignment returns the endpoints of target (none when target is nil).
func loadAssignment(clusterName string, target *VirtualNode) *endpoint.ClusterLoadAssignment {
	cla := &endpoint.ClusterLoadAssignment{ClusterName: clusterName}
	if target == nil {
		return cla
	}
	var defaultPort uint32
	if l, ok := httpListener(target.Listeners); ok {
		defaultPort = l.Port
	}
	var lbs []*endpoint.LbEndpoint
	for _, e := range target.Endpoints {
		port := e.Port
		if port == 0 {
			port = defaultPort
		}
		if e.Address == "" || port == 0 || port > 65535 {
			continue
		}
		lbs = append(lbs, lbEndpoint(e.Address, port))
	}
	if len(lbs) > 0 {
		cla.Endpoints = []*endpoint.LocalityLbEndpoints{{
			Locality:            endpointLocality(),
			LoadBalancingWeight: wrapperspb.UInt32(1),
			LbEndpoints:         lbs,
		}}
	}
	return cla
}
