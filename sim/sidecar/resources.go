package sidecar

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	router "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	upstreamhttp "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// defaultConnectTimeout is Envoy's cluster connect_timeout default.
const defaultConnectTimeout = 5 * time.Second

// listenerSpec is an accepted socket listener.
type listenerSpec struct {
	name     string
	addr     string // host:port to bind
	outbound bool
	// routeName is the RDS route configuration; inline is set instead
	// when the connection manager carries its routes.
	routeName string
	inline    *routeTable
	// streamIdle and maxStreamDuration are the connection manager's
	// stream_idle_timeout and common_http_protocol_options
	// .max_stream_duration; 0 is none.
	streamIdle        time.Duration
	maxStreamDuration time.Duration
}

// parseListener translates l. It returns nil for an API listener, which
// has no socket (it configures proxyless gRPC clients). Addresses 0.0.0.0
// and :: bind bindIP, the task's address.
func parseListener(l *listener.Listener, bindIP string) (*listenerSpec, error) {
	if l.GetApiListener() != nil {
		return nil, nil
	}
	switch {
	case len(l.GetListenerFilters()) > 0:
		return nil, errors.New("listener filters are not supported")
	case l.GetDefaultFilterChain() != nil, l.GetFilterChainMatcher() != nil, l.GetUseOriginalDst().GetValue():
		return nil, errors.New("filter chain matching is not supported")
	case len(l.GetFilterChains()) != 1:
		return nil, fmt.Errorf("want exactly one filter chain, got %d", len(l.GetFilterChains()))
	}
	sa := l.GetAddress().GetSocketAddress()
	if sa == nil {
		return nil, errors.New("address: only socket addresses are supported")
	}
	if sa.GetProtocol() != core.SocketAddress_TCP {
		return nil, errors.New("address: only TCP is supported")
	}
	port, ok := sa.GetPortSpecifier().(*core.SocketAddress_PortValue)
	if !ok || port.PortValue > 65535 {
		return nil, errors.New("address: a port_value is required")
	}
	host := sa.GetAddress()
	if host == "0.0.0.0" || host == "::" || host == "" {
		host = bindIP
	}
	spec := &listenerSpec{
		name:     l.GetName(),
		addr:     net.JoinHostPort(host, strconv.FormatUint(uint64(port.PortValue), 10)),
		outbound: l.GetTrafficDirection() == core.TrafficDirection_OUTBOUND,
	}

	fc := l.GetFilterChains()[0]
	switch {
	case fc.GetFilterChainMatch() != nil:
		return nil, errors.New("filter chain matching is not supported")
	case fc.GetTransportSocket() != nil:
		return nil, errors.New("transport sockets (TLS) are not supported")
	case len(fc.GetFilters()) != 1:
		return nil, fmt.Errorf("want exactly one network filter (http_connection_manager), got %d", len(fc.GetFilters()))
	}
	var mgr hcm.HttpConnectionManager
	if err := unmarshalTyped(fc.GetFilters()[0].GetTypedConfig(), &mgr); err != nil {
		return nil, fmt.Errorf("network filter %q: %w", fc.GetFilters()[0].GetName(), err)
	}
	if err := checkHTTPFilters(mgr.GetHttpFilters()); err != nil {
		return nil, err
	}
	if err := parseConnectionManager(&mgr, spec); err != nil {
		return nil, err
	}
	switch rs := mgr.GetRouteSpecifier().(type) {
	case *hcm.HttpConnectionManager_Rds:
		if rs.Rds.GetRouteConfigName() == "" {
			return nil, errors.New("rds: empty route_config_name")
		}
		spec.routeName = rs.Rds.GetRouteConfigName()
	case *hcm.HttpConnectionManager_RouteConfig:
		t, err := compileRouteConfig(rs.RouteConfig)
		if err != nil {
			return nil, fmt.Errorf("inline route configuration: %w", err)
		}
		spec.inline = t
	default:
		return nil, fmt.Errorf("route specifier %T is not supported", rs)
	}
	return spec, nil
}

// parseConnectionManager takes the connection manager's stream timeouts,
// rejecting the settings the sidecar does not honour.
func parseConnectionManager(mgr *hcm.HttpConnectionManager, spec *listenerSpec) error {
	switch {
	case mgr.GetCodecType() == hcm.HttpConnectionManager_HTTP3:
		return errors.New("codec_type HTTP3 is not supported")
	case mgr.GetRequestTimeout().AsDuration() > 0, mgr.GetRequestHeadersTimeout().AsDuration() > 0:
		return errors.New("request_timeout and request_headers_timeout are not supported")
	}
	var err error
	spec.streamIdle = defaultStreamIdleTimeout
	if t := mgr.GetStreamIdleTimeout(); t != nil {
		if spec.streamIdle, err = duration("stream_idle_timeout", t); err != nil {
			return err
		}
	}
	if t := mgr.GetCommonHttpProtocolOptions().GetMaxStreamDuration(); t != nil {
		if spec.maxStreamDuration, err = duration("max_stream_duration", t); err != nil {
			return err
		}
	}
	return nil
}

// checkHTTPFilters accepts a filter list that ends in the router, and
// skips filters marked optional, as Envoy does for unknown ones.
func checkHTTPFilters(fs []*hcm.HttpFilter) error {
	if len(fs) == 0 {
		return errors.New("http filters: the router filter is required")
	}
	for i, f := range fs {
		last := i == len(fs)-1
		cfg := f.GetTypedConfig()
		if cfg != nil && cfg.MessageIs(&router.Router{}) {
			if !last {
				return errors.New("http filters: the router filter must be last")
			}
			var r router.Router
			if err := cfg.UnmarshalTo(&r); err != nil {
				return fmt.Errorf("http filter %q: %w", f.GetName(), err)
			}
			continue
		}
		if last {
			return fmt.Errorf("http filters: the last filter must be the router, got %q", f.GetName())
		}
		if !f.GetIsOptional() {
			return fmt.Errorf("http filter %q is not supported", f.GetName())
		}
	}
	return nil
}

func unmarshalTyped(a *anypb.Any, m proto.Message) error {
	if a == nil {
		return errors.New("no typed_config")
	}
	if !a.MessageIs(m) {
		return fmt.Errorf("typed_config %s is not supported", a.GetTypeUrl())
	}
	return a.UnmarshalTo(m)
}

// clusterSpec is an accepted cluster.
type clusterSpec struct {
	name string
	// edsName is the ClusterLoadAssignment to subscribe to; "" for a
	// static cluster, whose addresses are in static.
	edsName        string
	static         []string
	random         bool
	h2             bool
	connectTimeout time.Duration
}

// parseCluster translates c. Static endpoints at 127.0.0.1 are the
// task's own localhost, and are reached at bindIP.
func parseCluster(c *cluster.Cluster, bindIP string) (*clusterSpec, error) {
	spec := &clusterSpec{name: c.GetName(), connectTimeout: defaultConnectTimeout}
	if c.GetName() == "" {
		return nil, errors.New("empty cluster name")
	}
	switch {
	case c.GetTransportSocket() != nil || len(c.GetTransportSocketMatches()) > 0:
		return nil, errors.New("transport sockets (TLS) are not supported")
	case len(c.GetHealthChecks()) > 0:
		return nil, errors.New("active health checks are not supported")
	case c.GetOutlierDetection() != nil:
		return nil, errors.New("outlier detection is not supported")
	case c.GetLoadBalancingPolicy() != nil:
		return nil, errors.New("load_balancing_policy is not supported; use lb_policy")
	}
	switch c.GetLbPolicy() {
	case cluster.Cluster_ROUND_ROBIN:
	case cluster.Cluster_RANDOM:
		spec.random = true
	default:
		return nil, fmt.Errorf("lb_policy %s is not supported", c.GetLbPolicy())
	}
	if t := c.GetConnectTimeout(); t != nil && t.AsDuration() > 0 {
		spec.connectTimeout = t.AsDuration()
	}
	if c.GetHttp2ProtocolOptions() != nil {
		spec.h2 = true
	}
	for name, opts := range c.GetTypedExtensionProtocolOptions() {
		var po upstreamhttp.HttpProtocolOptions
		if err := unmarshalTyped(opts, &po); err != nil {
			return nil, fmt.Errorf("protocol options %q: %w", name, err)
		}
		explicit := po.GetExplicitHttpConfig()
		switch {
		case explicit == nil:
			return nil, errors.New("protocol options: only explicit_http_config is supported")
		case explicit.GetHttp2ProtocolOptions() != nil:
			spec.h2 = true
		case explicit.GetHttpProtocolOptions() != nil:
			spec.h2 = false
		default:
			return nil, errors.New("protocol options: only HTTP/1.1 and HTTP/2 are supported")
		}
	}
	switch c.GetType() {
	case cluster.Cluster_EDS:
		if c.GetClusterType() != nil {
			return nil, errors.New("custom cluster types are not supported")
		}
		spec.edsName = c.GetEdsClusterConfig().GetServiceName()
		if spec.edsName == "" {
			spec.edsName = c.GetName()
		}
	case cluster.Cluster_STATIC:
		addrs, err := parseLoadAssignment(c.GetLoadAssignment())
		if err != nil {
			return nil, fmt.Errorf("load_assignment: %w", err)
		}
		for i, a := range addrs {
			if host, port, _ := net.SplitHostPort(a); host == "127.0.0.1" {
				addrs[i] = net.JoinHostPort(bindIP, port)
			}
		}
		spec.static = addrs
	default:
		return nil, fmt.Errorf("cluster type %s is not supported (EDS and STATIC are)", c.GetType())
	}
	return spec, nil
}

// parseLoadAssignment returns the addresses of the healthy endpoints of
// the highest-priority level that has any; degraded endpoints are used
// only when no level has a healthy one. Endpoints of unequal
// load_balancing_weight appear in proportion to it, interleaved, so that
// round robin over the list is weighted round robin (the weights of an
// ELBv2 target in slow start).
func parseLoadAssignment(cla *endpoint.ClusterLoadAssignment) ([]string, error) {
	best, degraded := -1, -1
	var bestAddrs, degradedAddrs []string
	var bestWeights []uint32
	for _, loc := range cla.GetEndpoints() {
		prio := int(loc.GetPriority())
		for _, lb := range loc.GetLbEndpoints() {
			ep := lb.GetEndpoint()
			if ep == nil {
				return nil, errors.New("only inline endpoints are supported")
			}
			sa := ep.GetAddress().GetSocketAddress()
			if sa == nil {
				return nil, errors.New("only socket addresses are supported")
			}
			port, ok := sa.GetPortSpecifier().(*core.SocketAddress_PortValue)
			if !ok || port.PortValue == 0 || port.PortValue > 65535 || sa.GetAddress() == "" {
				return nil, fmt.Errorf("endpoint %q: an address and a port_value are required", sa.GetAddress())
			}
			addr := net.JoinHostPort(sa.GetAddress(), strconv.FormatUint(uint64(port.PortValue), 10))
			switch lb.GetHealthStatus() {
			case core.HealthStatus_UNKNOWN, core.HealthStatus_HEALTHY:
				if best < 0 || prio < best {
					best, bestAddrs = prio, nil
				}
				if prio == best {
					bestAddrs = append(bestAddrs, addr)
					bestWeights = append(bestWeights, lb.GetLoadBalancingWeight().GetValue())
				}
			case core.HealthStatus_DEGRADED:
				if degraded < 0 || prio < degraded {
					degraded, degradedAddrs = prio, nil
				}
				if prio == degraded {
					degradedAddrs = append(degradedAddrs, addr)
				}
			}
		}
	}
	if best >= 0 {
		return weighted(bestAddrs, bestWeights), nil
	}
	return degradedAddrs, nil
}

// weighted repeats each address in proportion to its weight (0 or unset
// counts as 1), reduced by the weights' greatest common divisor, taking
// one of each remaining address in turn.
func weighted(addrs []string, weights []uint32) []string {
	g := uint32(0)
	for i := range weights {
		weights[i] = max(weights[i], 1)
		g = gcd(g, weights[i])
	}
	if g == 0 || len(addrs) < 2 {
		return addrs
	}
	left := make([]uint32, len(weights))
	total := 0
	for i, w := range weights {
		left[i] = w / g
		total += int(left[i])
	}
	if total == len(addrs) {
		return addrs
	}
	out := make([]string, 0, total)
	for len(out) < total {
		for i := range addrs {
			if left[i] > 0 {
				out = append(out, addrs[i])
				left[i]--
			}
		}
	}
	return out
}

func gcd(a, b uint32) uint32 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
