package sim

import (
	"github.com/meshsim/meshsim/sim/appmesh"
	"github.com/meshsim/meshsim/sim/cloudmap"
	"github.com/meshsim/meshsim/sim/xds"
)

// instanceSource resolves a Cloud Map service to its healthy instances.
type instanceSource interface {
	Instances(namespaceName, serviceName string) ([]cloudmap.Instance, error)
}

// meshWorld translates the App Mesh fake's state, with the endpoints Cloud
// Map returns for each virtual node's service discovery, into the control
// plane's input. It is what App Mesh's own management service does before
// it speaks xDS.
func meshWorld(state appmesh.State, cm instanceSource) xds.World {
	var w xds.World
	for _, ms := range state.Meshes {
		m := xds.Mesh{Name: ms.Mesh.MeshName}
		for _, vn := range ms.VirtualNodes {
			m.VirtualNodes = append(m.VirtualNodes, virtualNode(vn, cm))
		}
		for _, vs := range ms.VirtualServices {
			s := xds.VirtualService{Name: vs.VirtualServiceName}
			if p := vs.Spec.Provider; p != nil {
				if p.VirtualNode != nil {
					s.ProviderNode = p.VirtualNode.VirtualNodeName
				}
				if p.VirtualRouter != nil {
					s.ProviderRouter = p.VirtualRouter.VirtualRouterName
				}
			}
			m.VirtualServices = append(m.VirtualServices, s)
		}
		for _, vr := range ms.VirtualRouters {
			r := xds.VirtualRouter{Name: vr.VirtualRouter.VirtualRouterName}
			for _, l := range vr.VirtualRouter.Spec.Listeners {
				r.Listeners = append(r.Listeners, listener(l.PortMapping))
			}
			for _, rt := range vr.Routes {
				r.Routes = append(r.Routes, route(rt))
			}
			m.VirtualRouters = append(m.VirtualRouters, r)
		}
		for _, gs := range ms.VirtualGateways {
			m.VirtualGateways = append(m.VirtualGateways, virtualGateway(gs))
		}
		w.Meshes = append(w.Meshes, m)
	}
	return w
}

func listener(pm *appmesh.PortMapping) xds.Listener {
	if pm == nil {
		return xds.Listener{}
	}
	l := xds.Listener{Protocol: xds.Protocol(pm.Protocol)}
	if pm.Port != nil {
		l.Port = uint32(*pm.Port)
	}
	return l
}

func virtualNode(vn appmesh.VirtualNodeData, cm instanceSource) xds.VirtualNode {
	n := xds.VirtualNode{Name: vn.VirtualNodeName}
	for _, l := range vn.Spec.Listeners {
		xl := listener(l.PortMapping)
		xl.PerRequestTimeoutMillis, xl.IdleTimeoutMillis = listenerTimeouts(l)
		n.Listeners = append(n.Listeners, xl)
	}
	for _, b := range vn.Spec.Backends {
		if b.VirtualService != nil {
			n.Backends = append(n.Backends, b.VirtualService.VirtualServiceName)
		}
	}
	sd := vn.Spec.ServiceDiscovery
	if sd == nil || sd.AWSCloudMap == nil {
		return n
	}
	// A namespace or service that does not exist (yet) resolves to no
	// endpoints, as App Mesh's Envoy sees it: "no healthy upstream".
	insts, err := cm.Instances(sd.AWSCloudMap.NamespaceName, sd.AWSCloudMap.ServiceName)
	if err != nil {
		return n
	}
	for _, in := range insts {
		if in.IPv4 == "" || in.Port <= 0 || in.HealthStatus == "UNHEALTHY" || !hasAttributes(in, sd.AWSCloudMap.Attributes) {
			continue
		}
		n.Endpoints = append(n.Endpoints, xds.Endpoint{InstanceID: in.ID, Address: in.IPv4, Port: uint32(in.Port)})
	}
	return n
}

// hasAttributes reports whether the instance carries every attribute the
// virtual node's Cloud Map service discovery filters on.
func hasAttributes(in cloudmap.Instance, want []appmesh.AWSCloudMapInstanceAttribute) bool {
	for _, a := range want {
		if in.Attributes[a.Key] != a.Value {
			return false
		}
	}
	return true
}

func route(rt appmesh.RouteData) xds.Route {
	spec := rt.Spec
	r := xds.Route{Name: rt.RouteName, Protocol: xds.Protocol(spec.Protocol())}
	if spec.Priority != nil {
		p := int(*spec.Priority)
		r.Priority = &p
	}
	if a := spec.Action(); a != nil {
		for _, t := range a.WeightedTargets {
			wt := xds.WeightedTarget{VirtualNode: t.VirtualNode}
			if t.Weight != nil {
				wt.Weight = uint32(*t.Weight)
			}
			r.Targets = append(r.Targets, wt)
		}
	}
	switch {
	case spec.HTTPRoute != nil:
		httpRoute(&r, spec.HTTPRoute)
	case spec.HTTP2Route != nil:
		httpRoute(&r, spec.HTTP2Route)
	case spec.GRPCRoute != nil:
		g := spec.GRPCRoute
		if m := g.Match; m != nil {
			r.GRPCService, r.GRPCMethod = m.ServiceName, m.MethodName
			for _, md := range m.Metadata {
				r.Headers = append(r.Headers, headerMatch(md.Name, md.Invert, md.Match))
			}
		}
		if p := g.RetryPolicy; p != nil {
			r.Retry = &xds.RetryPolicy{
				MaxRetries:            uint32(deref(p.MaxRetries)),
				PerRetryTimeoutMillis: p.PerRetryTimeout.Milliseconds(),
				HTTPRetryEvents:       p.HTTPRetryEvents,
				TCPRetryEvents:        p.TCPRetryEvents,
				GRPCRetryEvents:       p.GRPCRetryEvents,
			}
		}
		if t := g.Timeout; t != nil {
			r.PerRequestTimeoutMillis, r.IdleTimeoutMillis = timeout(t.PerRequest), timeout(t.Idle)
		}
	case spec.TCPRoute != nil:
		if t := spec.TCPRoute.Timeout; t != nil {
			r.IdleTimeoutMillis = timeout(t.Idle)
		}
	}
	return r
}

func httpRoute(r *xds.Route, h *appmesh.HTTPRoute) {
	if m := h.Match; m != nil {
		r.Prefix = m.Prefix
		for _, hd := range m.Headers {
			r.Headers = append(r.Headers, headerMatch(hd.Name, hd.Invert, hd.Match))
		}
	}
	if p := h.RetryPolicy; p != nil {
		r.Retry = &xds.RetryPolicy{
			MaxRetries:            uint32(deref(p.MaxRetries)),
			PerRetryTimeoutMillis: p.PerRetryTimeout.Milliseconds(),
			HTTPRetryEvents:       p.HTTPRetryEvents,
			TCPRetryEvents:        p.TCPRetryEvents,
		}
	}
	if t := h.Timeout; t != nil {
		r.PerRequestTimeoutMillis, r.IdleTimeoutMillis = timeout(t.PerRequest), timeout(t.Idle)
	}
}

func headerMatch(name string, invert *bool, m *appmesh.HeaderMatchMethod) xds.HeaderMatch {
	h := xds.HeaderMatch{Name: name, Invert: invert != nil && *invert}
	if m != nil {
		h.Exact, h.Prefix, h.Suffix, h.Regex = m.Exact, m.Prefix, m.Suffix, m.Regex
		if rg := m.Range; rg != nil {
			h.Range = &xds.MatchRange{Start: deref(rg.Start), End: deref(rg.End)}
		}
	}
	return h
}

// timeout turns an App Mesh duration into the control plane's
// milliseconds: 0 when unset, xds.TimeoutDisabled when set to 0.
func timeout(d *appmesh.Duration) int64 {
	if d == nil || d.Value == nil {
		return 0
	}
	if *d.Value == 0 {
		return xds.TimeoutDisabled
	}
	return d.Milliseconds()
}

// listenerTimeouts are a virtual node listener's timeouts for its
// protocol.
func listenerTimeouts(l appmesh.Listener) (perRequest, idle int64) {
	t := l.Timeout
	if t == nil {
		return 0, 0
	}
	switch {
	case t.HTTP != nil:
		return timeout(t.HTTP.PerRequest), timeout(t.HTTP.Idle)
	case t.HTTP2 != nil:
		return timeout(t.HTTP2.PerRequest), timeout(t.HTTP2.Idle)
	case t.GRPC != nil:
		return timeout(t.GRPC.PerRequest), timeout(t.GRPC.Idle)
	case t.TCP != nil:
		return 0, timeout(t.TCP.Idle)
	}
	return 0, 0
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// virtualGateway translates a virtual gateway and its gateway routes.
func virtualGateway(gs appmesh.VirtualGatewayState) xds.VirtualGateway {
	g := xds.VirtualGateway{Name: gs.VirtualGateway.VirtualGatewayName}
	for _, l := range gs.VirtualGateway.Spec.Listeners {
		g.Listeners = append(g.Listeners, listener(l.PortMapping))
	}
	for _, gr := range gs.GatewayRoutes {
		g.Routes = append(g.Routes, gatewayRoute(gr))
	}
	return g
}

// gatewayRoute translates a gateway route with App Mesh's defaults: the
// Host is rewritten to the target virtual service's name, and a matched
// prefix to "/", unless the route's rewrite disables them.
func gatewayRoute(gr appmesh.GatewayRouteData) xds.GatewayRoute {
	spec := gr.Spec
	r := xds.GatewayRoute{Name: gr.GatewayRouteName, Protocol: xds.Protocol(spec.Protocol()), RewriteHostname: true}
	if spec.Priority != nil {
		p := int(*spec.Priority)
		r.Priority = &p
	}
	if t := spec.Target(); t != nil && t.VirtualService != nil {
		r.VirtualService = t.VirtualService.VirtualServiceName
	}
	var host *appmesh.GatewayRouteHostnameMatch
	var hostRewrite *appmesh.GatewayRouteHostnameRewrite
	switch {
	case spec.HTTPRoute != nil:
		host, hostRewrite = httpGatewayRoute(&r, spec.HTTPRoute)
	case spec.HTTP2Route != nil:
		host, hostRewrite = httpGatewayRoute(&r, spec.HTTP2Route)
	case spec.GRPCRoute != nil:
		if m := spec.GRPCRoute.Match; m != nil {
			host, r.GRPCService = m.Hostname, m.ServiceName
			for _, md := range m.Metadata {
				r.Headers = append(r.Headers, headerMatch(md.Name, md.Invert, md.Match))
			}
		}
		if a := spec.GRPCRoute.Action; a != nil && a.Rewrite != nil {
			hostRewrite = a.Rewrite.Hostname
		}
	}
	if host != nil {
		r.HostnameExact, r.HostnameSuffix = host.Exact, host.Suffix
	}
	if hostRewrite != nil && hostRewrite.DefaultTargetHostname == "DISABLED" {
		r.RewriteHostname = false
	}
	return r
}

// httpGatewayRoute translates an http or http2 gateway route's match and
// path rewrites into r, and returns its hostname match and rewrite.
func httpGatewayRoute(r *xds.GatewayRoute, h *appmesh.HTTPGatewayRoute) (*appmesh.GatewayRouteHostnameMatch, *appmesh.GatewayRouteHostnameRewrite) {
	var rw *appmesh.HTTPGatewayRouteRewrite
	if h.Action != nil {
		rw = h.Action.Rewrite
	}
	m := h.Match
	if m == nil {
		return nil, nil
	}
	r.Prefix, r.Method = m.Prefix, m.Method
	if m.Path != nil {
		r.PathExact, r.PathRegex = m.Path.Exact, m.Path.Regex
	}
	for _, hd := range m.Headers {
		r.Headers = append(r.Headers, headerMatch(hd.Name, hd.Invert, hd.Match))
	}
	for _, q := range m.QueryParameters {
		qm := xds.QueryParameterMatch{Name: q.Name}
		if q.Match != nil {
			qm.Exact = q.Match.Exact
		}
		r.QueryParameters = append(r.QueryParameters, qm)
	}
	if r.Prefix != "" {
		def := "/"
		r.PrefixRewrite = &def // App Mesh's default: the matched prefix becomes "/"
		if rw != nil && rw.Prefix != nil {
			switch {
			case rw.Prefix.Value != "":
				r.PrefixRewrite = &rw.Prefix.Value
			case rw.Prefix.DefaultPrefix == "DISABLED":
				r.PrefixRewrite = nil
			}
		}
	}
	if rw != nil && rw.Path != nil {
		r.PathRewrite = rw.Path.Exact
	}
	if rw == nil {
		return m.Hostname, nil
	}
	return m.Hostname, rw.Hostname
}
