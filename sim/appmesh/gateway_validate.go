package appmesh

import "strings"

// gatewayProtocols are the protocols of a virtual gateway's listener.
var gatewayProtocols = []string{"http", "http2", "grpc"}

// virtualGatewaySpec checks a virtual gateway: one listener of protocol
// http, http2 or grpc, with the listener options a virtual node's
// listener has (no outlier detection, no timeouts), backend defaults and
// logging.
func (c *checker) virtualGatewaySpec(s *VirtualGatewaySpec) {
	if s.Listeners == nil {
		s.Listeners = []VirtualGatewayListener{}
	}
	if len(s.Listeners) != 1 {
		c.add("spec.listeners", "must have exactly 1 listener, not %d", len(s.Listeners))
	}
	for i, l := range s.Listeners {
		p := item("spec.listeners", i)
		proto := ""
		if c.required(p+".portMapping", l.PortMapping != nil) {
			between(c, p+".portMapping.port", l.PortMapping.Port, 1, 65535, true)
			c.enum(p+".portMapping.protocol", l.PortMapping.Protocol, true, gatewayProtocols...)
			proto = l.PortMapping.Protocol
		}
		if hc := l.HealthCheck; hc != nil {
			c.healthCheck(p+".healthCheck", hc)
			c.enum(p+".healthCheck.protocol", hc.Protocol, false, gatewayProtocols...)
		}
		if cp := l.ConnectionPool; cp != nil && cp.TCP != nil {
			c.add(p+".connectionPool.tcp", "is not a virtual gateway connection pool (grpc, http or http2)")
		} else {
			c.connectionPool(p+".connectionPool", cp, proto)
		}
		c.listenerTLS(p+".tls", l.TLS)
	}
	if s.BackendDefaults != nil {
		c.clientPolicy("spec.backendDefaults.clientPolicy", s.BackendDefaults.ClientPolicy)
	}
	if lg := s.Logging; lg != nil && lg.AccessLog != nil {
		if c.oneOf("spec.logging.accessLog", count(lg.AccessLog.File != nil), "file") {
			c.length("spec.logging.accessLog.file.path", lg.AccessLog.File.Path, 1, 255)
		}
	}
}

// gatewayRouteSpec checks a gateway route: exactly one route type, its
// match, its target and its rewrites.
func (c *checker) gatewayRouteSpec(s *GatewayRouteSpec) {
	between(c, "spec.priority", s.Priority, 0, 1000, false)
	if !c.oneOf("spec", count(s.HTTPRoute != nil, s.HTTP2Route != nil, s.GRPCRoute != nil), "httpRoute", "http2Route", "grpcRoute") {
		return
	}
	switch {
	case s.HTTPRoute != nil:
		c.httpGatewayRoute("spec.httpRoute", s.HTTPRoute)
	case s.HTTP2Route != nil:
		c.httpGatewayRoute("spec.http2Route", s.HTTP2Route)
	default:
		c.grpcGatewayRoute("spec.grpcRoute", s.GRPCRoute)
	}
}

func (c *checker) gatewayTarget(path string, t *GatewayRouteTarget) {
	if !c.required(path, t != nil) {
		return
	}
	if c.required(path+".virtualService", t.VirtualService != nil) {
		c.name(path+".virtualService.virtualServiceName", t.VirtualService.VirtualServiceName)
	}
	between(c, path+".port", t.Port, 1, 65535, false)
}

func (c *checker) hostnameMatch(path string, h *GatewayRouteHostnameMatch) {
	if h == nil {
		return
	}
	if c.oneOf(path, count(h.Exact != "", h.Suffix != ""), "exact", "suffix") {
		c.length(path+".exact", h.Exact, 0, 253)
		c.length(path+".suffix", h.Suffix, 0, 253)
	}
}

func (c *checker) hostnameRewrite(path string, h *GatewayRouteHostnameRewrite) {
	if h != nil {
		c.enum(path+".defaultTargetHostname", h.DefaultTargetHostname, false, "ENABLED", "DISABLED")
	}
}

func (c *checker) httpGatewayRoute(path string, r *HTTPGatewayRoute) {
	if c.required(path+".action", r.Action != nil) {
		c.gatewayTarget(path+".action.target", r.Action.Target)
	}
	if !c.required(path+".match", r.Match != nil) {
		return
	}
	m, p := r.Match, path+".match"
	switch n := count(m.Prefix != "", m.Path != nil); {
	case n > 1:
		c.add(p, "must set prefix or path, not both")
	case n == 0 && m.Hostname == nil:
		c.add(p, "must set prefix, path or hostname")
	}
	if m.Prefix != "" && !strings.HasPrefix(m.Prefix, "/") {
		c.add(p+".prefix", "must start with \"/\", not %q", m.Prefix)
	}
	if m.Path != nil && c.oneOf(p+".path", count(m.Path.Exact != "", m.Path.Regex != ""), "exact", "regex") {
		c.length(p+".path.exact", m.Path.Exact, 0, 255)
		if m.Path.Exact != "" && !strings.HasPrefix(m.Path.Exact, "/") {
			c.add(p+".path.exact", "must start with \"/\", not %q", m.Path.Exact)
		}
		c.length(p+".path.regex", m.Path.Regex, 0, 255)
	}
	c.hostnameMatch(p+".hostname", m.Hostname)
	listSize(c, p+".headers", m.Headers, 1, 10)
	for i, h := range m.Headers {
		c.length(item(p+".headers", i)+".name", h.Name, 1, 50)
		c.headerMatch(item(p+".headers", i)+".match", h.Match)
	}
	c.enum(p+".method", m.Method, false, "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
	between(c, p+".port", m.Port, 1, 65535, false)
	listSize(c, p+".queryParameters", m.QueryParameters, 1, 10)
	for i, q := range m.QueryParameters {
		c.required(item(p+".queryParameters", i)+".name", q.Name != "")
	}
	if r.Action != nil && r.Action.Rewrite != nil {
		c.httpRewrite(path+".action.rewrite", r.Action.Rewrite, m)
	}
}

// httpRewrite checks an http gateway route's rewrite against its match: a
// prefix rewrite needs a prefix match, a path rewrite a path match.
func (c *checker) httpRewrite(path string, rw *HTTPGatewayRouteRewrite, m *HTTPGatewayRouteMatch) {
	c.hostnameRewrite(path+".hostname", rw.Hostname)
	if px := rw.Prefix; px != nil {
		if c.oneOf(path+".prefix", count(px.DefaultPrefix != "", px.Value != ""), "defaultPrefix", "value") {
			c.enum(path+".prefix.defaultPrefix", px.DefaultPrefix, false, "ENABLED", "DISABLED")
			if px.Value != "" && !strings.HasPrefix(px.Value, "/") {
				c.add(path+".prefix.value", "must start with \"/\", not %q", px.Value)
			}
			c.length(path+".prefix.value", px.Value, 0, 255)
		}
		if m.Prefix == "" {
			c.add(path+".prefix", "needs a prefix match (match.prefix)")
		}
	}
	if pt := rw.Path; pt != nil {
		c.length(path+".path.exact", pt.Exact, 1, 255)
		if pt.Exact != "" && !strings.HasPrefix(pt.Exact, "/") {
			c.add(path+".path.exact", "must start with \"/\", not %q", pt.Exact)
		}
		if m.Path == nil {
			c.add(path+".path", "needs a path match (match.path)")
		}
	}
}

func (c *checker) grpcGatewayRoute(path string, r *GRPCGatewayRoute) {
	if c.required(path+".action", r.Action != nil) {
		c.gatewayTarget(path+".action.target", r.Action.Target)
		if rw := r.Action.Rewrite; rw != nil {
			c.hostnameRewrite(path+".action.rewrite.hostname", rw.Hostname)
		}
	}
	if !c.required(path+".match", r.Match != nil) {
		return
	}
	m, p := r.Match, path+".match"
	c.hostnameMatch(p+".hostname", m.Hostname)
	listSize(c, p+".metadata", m.Metadata, 1, 10)
	for i, md := range m.Metadata {
		c.length(item(p+".metadata", i)+".name", md.Name, 1, 50)
		c.headerMatch(item(p+".metadata", i)+".match", md.Match)
	}
	between(c, p+".port", m.Port, 1, 65535, false)
}
