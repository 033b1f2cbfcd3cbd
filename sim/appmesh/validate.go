package appmesh

import (
	"fmt"
	"regexp"
	"strings"
)

// checker collects what is wrong with a request, each problem naming the
// field by its JSON path, and turns them into one BadRequestException.
type checker struct {
	problems []string
}

func (c *checker) add(path, format string, args ...any) {
	c.problems = append(c.problems, path+": "+fmt.Sprintf(format, args...))
}

func (c *checker) err() error {
	switch len(c.problems) {
	case 0:
		return nil
	case 1:
		return badRequest("1 validation error detected: %s", c.problems[0])
	}
	return badRequest("%d validation errors detected: %s", len(c.problems), strings.Join(c.problems, "; "))
}

// required reports ok, recording a problem when it is false.
func (c *checker) required(path string, ok bool) bool {
	if !ok {
		c.add(path, "is required")
	}
	return ok
}

func (c *checker) length(path, s string, min, max int) {
	if len(s) < min || len(s) > max {
		if s == "" {
			c.add(path, "is required")
			return
		}
		c.add(path, "must be %d to %d characters long, not %d", min, max, len(s))
	}
}

// namePattern is what meshsim accepts as the name of a mesh, virtual node,
// virtual service, virtual router or route. The API model gives only the
// length (1 to 255); the characters are those AWS's own examples, the App
// Mesh controller and DNS-style virtual service names use: a letter or digit,
// then letters, digits, '.', '_' and '-'. A name becomes part of an ARN and
// of Envoy's configuration, so '/', "..", spaces, control and invisible
// characters (NUL, newline, U+202E) are refused rather than stored.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (c *checker) name(path, s string) {
	c.length(path, s, 1, 255)
	if s != "" && len(s) <= 255 && !namePattern.MatchString(s) {
		c.add(path, "%q is not a valid name: use a letter or digit, then letters, digits, '.', '_' or '-'", s)
	}
}

func (c *checker) enum(path, s string, required bool, allowed ...string) {
	if s == "" {
		if required {
			c.add(path, "is required (one of %s)", strings.Join(allowed, ", "))
		}
		return
	}
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	c.add(path, "must be one of %s, not %q", strings.Join(allowed, ", "), s)
}

// between checks an optional or required number against [min, max].
func between[T int32 | int64](c *checker, path string, v *T, min, max T, required bool) {
	if v == nil {
		if required {
			c.add(path, "is required")
		}
		return
	}
	if *v < min || *v > max {
		c.add(path, "must be between %d and %d, not %d", min, max, *v)
	}
}

// atLeast checks an optional or required number against a minimum.
func atLeast[T int32 | int64](c *checker, path string, v *T, min T, required bool) {
	if v == nil {
		if required {
			c.add(path, "is required")
		}
		return
	}
	if *v < min {
		c.add(path, "must be at least %d, not %d", min, *v)
	}
}

// oneOf records a problem unless exactly one member of a union is set.
func (c *checker) oneOf(path string, set int, members ...string) bool {
	if set != 1 {
		c.add(path, "must set exactly one of %s (%d set)", strings.Join(members, ", "), set)
		return false
	}
	return true
}

// listSize checks the length of an optional list that the model bounds.
func listSize[T any](c *checker, path string, list []T, min, max int) {
	if list != nil && (len(list) < min || len(list) > max) {
		c.add(path, "must have %d to %d members, not %d", min, max, len(list))
	}
}

func count(set ...bool) int {
	n := 0
	for _, s := range set {
		if s {
			n++
		}
	}
	return n
}

func item(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

var (
	protocols     = []string{"http", "http2", "grpc", "tcp"}
	ipPreferences = []string{"IPv6_PREFERRED", "IPv4_PREFERRED", "IPv4_ONLY", "IPv6_ONLY"}
)

func (c *checker) tags(tags []TagRef) {
	listSize(c, "tags", tags, 0, 50)
	for i, t := range tags {
		c.length(item("tags", i)+".key", t.Key, 1, 128)
		if len(t.Value) > 256 {
			c.add(item("tags", i)+".value", "must be at most 256 characters")
		}
	}
}

func (c *checker) duration(path string, d *Duration, required bool) {
	if d == nil {
		if required {
			c.add(path, "is required")
		}
		return
	}
	atLeast(c, path+".value", d.Value, 0, true)
	c.enum(path+".unit", d.Unit, true, "s", "ms")
}

// portMapping checks a listener's port mapping and returns its protocol.
func (c *checker) portMapping(path string, pm *PortMapping) string {
	if !c.required(path, pm != nil) {
		return ""
	}
	between(c, path+".port", pm.Port, 1, 65535, true)
	c.enum(path+".protocol", pm.Protocol, true, protocols...)
	return pm.Protocol
}

func (c *checker) meshSpec(s *MeshSpec) {
	if s.EgressFilter != nil {
		c.enum("spec.egressFilter.type", s.EgressFilter.Type, true, "ALLOW_ALL", "DROP_ALL")
	}
	if s.ServiceDiscovery != nil {
		c.enum("spec.serviceDiscovery.ipPreference", s.ServiceDiscovery.IPPreference, false, ipPreferences...)
	}
}

func (c *checker) virtualNodeSpec(s *VirtualNodeSpec) {
	ports := make(map[int32]bool)
	for i, l := range s.Listeners {
		p := item("spec.listeners", i)
		proto := c.portMapping(p+".portMapping", l.PortMapping)
		if l.PortMapping != nil && l.PortMapping.Port != nil {
			if ports[*l.PortMapping.Port] {
				c.add(p+".portMapping.port", "port %d is used by another listener", *l.PortMapping.Port)
			}
			ports[*l.PortMapping.Port] = true
		}
		c.healthCheck(p+".healthCheck", l.HealthCheck)
		c.outlierDetection(p+".outlierDetection", l.OutlierDetection)
		c.connectionPool(p+".connectionPool", l.ConnectionPool, proto)
		c.listenerTimeout(p+".timeout", l.Timeout, proto)
		c.listenerTLS(p+".tls", l.TLS)
	}
	for i, b := range s.Backends {
		p := item("spec.backends", i)
		if c.oneOf(p, count(b.VirtualService != nil), "virtualService") {
			c.required(p+".virtualService.virtualServiceName", b.VirtualService.VirtualServiceName != "")
			c.clientPolicy(p+".virtualService.clientPolicy", b.VirtualService.ClientPolicy)
		}
	}
	if s.BackendDefaults != nil {
		c.clientPolicy("spec.backendDefaults.clientPolicy", s.BackendDefaults.ClientPolicy)
	}
	if sd := s.ServiceDiscovery; sd != nil {
		if c.oneOf("spec.serviceDiscovery", count(sd.AWSCloudMap != nil, sd.DNS != nil), "awsCloudMap", "dns") {
			if cm := sd.AWSCloudMap; cm != nil {
				p := "spec.serviceDiscovery.awsCloudMap"
				c.length(p+".namespaceName", cm.NamespaceName, 1, 1024)
				c.length(p+".serviceName", cm.ServiceName, 1, 1024)
				c.enum(p+".ipPreference", cm.IPPreference, false, ipPreferences...)
				for i, a := range cm.Attributes {
					c.length(item(p+".attributes", i)+".key", a.Key, 1, 255)
					c.length(item(p+".attributes", i)+".value", a.Value, 1, 1024)
				}
			}
			if d := sd.DNS; d != nil {
				p := "spec.serviceDiscovery.dns"
				c.required(p+".hostname", d.Hostname != "")
				c.enum(p+".responseType", d.ResponseType, false, "LOADBALANCER", "ENDPOINTS")
				c.enum(p+".ipPreference", d.IPPreference, false, ipPreferences...)
			}
		}
	} else if len(s.Listeners) > 0 {
		c.add("spec.serviceDiscovery", "is required when the virtual node has a listener")
	}
	if lg := s.Logging; lg != nil && lg.AccessLog != nil {
		p := "spec.logging.accessLog"
		if c.oneOf(p, count(lg.AccessLog.File != nil), "file") {
			c.length(p+".file.path", lg.AccessLog.File.Path, 1, 255)
			if fm := lg.AccessLog.File.Format; fm != nil && c.oneOf(p+".file.format", count(fm.JSON != nil, fm.Text != nil), "json", "text") {
				if fm.Text != nil {
					c.length(p+".file.format.text", *fm.Text, 1, 1000)
				}
				listSize(c, p+".file.format.json", fm.JSON, 1, 100)
				for i, j := range fm.JSON {
					c.length(item(p+".file.format.json", i)+".key", j.Key, 1, 100)
					c.length(item(p+".file.format.json", i)+".value", j.Value, 1, 100)
				}
			}
		}
	}
}

func (c *checker) healthCheck(path string, hc *HealthCheckPolicy) {
	if hc == nil {
		return
	}
	between(c, path+".healthyThreshold", hc.HealthyThreshold, 2, 10, true)
	between(c, path+".unhealthyThreshold", hc.UnhealthyThreshold, 2, 10, true)
	between(c, path+".intervalMillis", hc.IntervalMillis, 5000, 300000, true)
	between(c, path+".timeoutMillis", hc.TimeoutMillis, 2000, 60000, true)
	c.enum(path+".protocol", hc.Protocol, true, protocols...)
	between(c, path+".port", hc.Port, 1, 65535, false)
}

func (c *checker) outlierDetection(path string, od *OutlierDetection) {
	if od == nil {
		return
	}
	atLeast(c, path+".maxServerErrors", od.MaxServerErrors, 1, true)
	c.duration(path+".interval", od.Interval, true)
	c.duration(path+".baseEjectionDuration", od.BaseEjectionDuration, true)
	between(c, path+".maxEjectionPercent", od.MaxEjectionPercent, 0, 100, true)
}

func (c *checker) connectionPool(path string, cp *VirtualNodeConnectionPool, proto string) {
	if cp == nil {
		return
	}
	if !c.oneOf(path, count(cp.GRPC != nil, cp.HTTP != nil, cp.HTTP2 != nil, cp.TCP != nil), "grpc", "http", "http2", "tcp") {
		return
	}
	var member string
	switch {
	case cp.HTTP != nil:
		member = "http"
		atLeast(c, path+".http.maxConnections", cp.HTTP.MaxConnections, 1, true)
		atLeast(c, path+".http.maxPendingRequests", cp.HTTP.MaxPendingRequests, 1, false)
	case cp.HTTP2 != nil:
		member = "http2"
		atLeast(c, path+".http2.maxRequests", cp.HTTP2.MaxRequests, 1, true)
	case cp.GRPC != nil:
		member = "grpc"
		atLeast(c, path+".grpc.maxRequests", cp.GRPC.MaxRequests, 1, true)
	case cp.TCP != nil:
		member = "tcp"
		atLeast(c, path+".tcp.maxConnections", cp.TCP.MaxConnections, 1, true)
	}
	if proto != "" && member != proto {
		c.add(path+"."+member, "does not match the listener protocol %s", proto)
	}
}

func (c *checker) listenerTimeout(path string, t *ListenerTimeout, proto string) {
	if t == nil {
		return
	}
	if !c.oneOf(path, count(t.GRPC != nil, t.HTTP != nil, t.HTTP2 != nil, t.TCP != nil), "grpc", "http", "http2", "tcp") {
		return
	}
	var member string
	switch {
	case t.HTTP != nil:
		member = "http"
		c.duration(path+".http.idle", t.HTTP.Idle, false)
		c.duration(path+".http.perRequest", t.HTTP.PerRequest, false)
	case t.HTTP2 != nil:
		member = "http2"
		c.duration(path+".http2.idle", t.HTTP2.Idle, false)
		c.duration(path+".http2.perRequest", t.HTTP2.PerRequest, false)
	case t.GRPC != nil:
		member = "grpc"
		c.duration(path+".grpc.idle", t.GRPC.Idle, false)
		c.duration(path+".grpc.perRequest", t.GRPC.PerRequest, false)
	case t.TCP != nil:
		member = "tcp"
		c.duration(path+".tcp.idle", t.TCP.Idle, false)
	}
	if proto != "" && member != proto {
		c.add(path+"."+member, "does not match the listener protocol %s", proto)
	}
}

func (c *checker) listenerTLS(path string, t *ListenerTLS) {
	if t == nil {
		return
	}
	c.enum(path+".mode", t.Mode, true, "STRICT", "PERMISSIVE", "DISABLED")
	if c.required(path+".certificate", t.Certificate != nil) {
		cert := t.Certificate
		if c.oneOf(path+".certificate", count(cert.ACM != nil, cert.File != nil, cert.SDS != nil), "acm", "file", "sds") {
			switch {
			case cert.ACM != nil:
				c.required(path+".certificate.acm.certificateArn", cert.ACM.CertificateARN != "")
			case cert.File != nil:
				c.length(path+".certificate.file.certificateChain", cert.File.CertificateChain, 1, 255)
				c.length(path+".certificate.file.privateKey", cert.File.PrivateKey, 1, 255)
			case cert.SDS != nil:
				c.required(path+".certificate.sds.secretName", cert.SDS.SecretName != "")
			}
		}
	}
	if v := t.Validation; v != nil {
		p := path + ".validation"
		if c.required(p+".trust", v.Trust != nil) && c.oneOf(p+".trust", count(v.Trust.File != nil, v.Trust.SDS != nil), "file", "sds") {
			c.trustFile(p+".trust.file", v.Trust.File)
			c.trustSDS(p+".trust.sds", v.Trust.SDS)
		}
		c.subjectAlternativeNames(p+".subjectAlternativeNames", v.SubjectAlternativeNames)
	}
}

func (c *checker) clientPolicy(path string, cp *ClientPolicy) {
	if cp == nil || cp.TLS == nil {
		return
	}
	p := path + ".tls"
	t := cp.TLS
	for i, port := range t.Ports {
		if port < 1 || port > 65535 {
			c.add(item(p+".ports", i), "must be between 1 and 65535, not %d", port)
		}
	}
	if cert := t.Certificate; cert != nil && c.oneOf(p+".certificate", count(cert.File != nil, cert.SDS != nil), "file", "sds") {
		if cert.File != nil {
			c.length(p+".certificate.file.certificateChain", cert.File.CertificateChain, 1, 255)
			c.length(p+".certificate.file.privateKey", cert.File.PrivateKey, 1, 255)
		} else {
			c.required(p+".certificate.sds.secretName", cert.SDS.SecretName != "")
		}
	}
	if !c.required(p+".validation", t.Validation != nil) {
		return
	}
	v := t.Validation
	if c.required(p+".validation.trust", v.Trust != nil) &&
		c.oneOf(p+".validation.trust", count(v.Trust.ACM != nil, v.Trust.File != nil, v.Trust.SDS != nil), "acm", "file", "sds") {
		if v.Trust.ACM != nil {
			n := len(v.Trust.ACM.CertificateAuthorityARNs)
			if n < 1 || n > 3 {
				c.add(p+".validation.trust.acm.certificateAuthorityArns", "must have 1 to 3 members, not %d", n)
			}
		}
		c.trustFile(p+".validation.trust.file", v.Trust.File)
		c.trustSDS(p+".validation.trust.sds", v.Trust.SDS)
	}
	c.subjectAlternativeNames(p+".validation.subjectAlternativeNames", v.SubjectAlternativeNames)
}

func (c *checker) trustFile(path string, t *TLSValidationContextFileTrust) {
	if t != nil {
		c.length(path+".certificateChain", t.CertificateChain, 1, 255)
	}
}

func (c *checker) trustSDS(path string, t *TLSValidationContextSDSTrust) {
	if t != nil {
		c.required(path+".secretName", t.SecretName != "")
	}
}

func (c *checker) subjectAlternativeNames(path string, s *SubjectAlternativeNames) {
	if s == nil {
		return
	}
	if c.required(path+".match", s.Match != nil) {
		for i, n := range s.Match.Exact {
			c.length(item(path+".match.exact", i), n, 1, 254)
		}
	}
}

func (c *checker) virtualServiceSpec(s *VirtualServiceSpec) {
	p := s.Provider
	if p == nil {
		return
	}
	if !c.oneOf("spec.provider", count(p.VirtualNode != nil, p.VirtualRouter != nil), "virtualNode", "virtualRouter") {
		return
	}
	if p.VirtualNode != nil {
		c.name("spec.provider.virtualNode.virtualNodeName", p.VirtualNode.VirtualNodeName)
	} else {
		c.name("spec.provider.virtualRouter.virtualRouterName", p.VirtualRouter.VirtualRouterName)
	}
}

func (c *checker) virtualRouterSpec(s *VirtualRouterSpec) {
	if len(s.Listeners) == 0 {
		c.add("spec.listeners", "must have at least one listener")
	}
	ports := make(map[int32]bool)
	for i, l := range s.Listeners {
		p := item("spec.listeners", i) + ".portMapping"
		c.portMapping(p, l.PortMapping)
		if l.PortMapping != nil && l.PortMapping.Port != nil {
			if ports[*l.PortMapping.Port] {
				c.add(p+".port", "port %d is used by another listener", *l.PortMapping.Port)
			}
			ports[*l.PortMapping.Port] = true
		}
	}
}

func (c *checker) routeSpec(s *RouteSpec) {
	between(c, "spec.priority", s.Priority, 0, 1000, false)
	if !c.oneOf("spec", count(s.HTTPRoute != nil, s.HTTP2Route != nil, s.GRPCRoute != nil, s.TCPRoute != nil),
		"httpRoute", "http2Route", "grpcRoute", "tcpRoute") {
		return
	}
	switch {
	case s.HTTPRoute != nil:
		c.httpRoute("spec.httpRoute", s.HTTPRoute)
	case s.HTTP2Route != nil:
		c.httpRoute("spec.http2Route", s.HTTP2Route)
	case s.GRPCRoute != nil:
		c.grpcRoute("spec.grpcRoute", s.GRPCRoute)
	case s.TCPRoute != nil:
		c.tcpRoute("spec.tcpRoute", s.TCPRoute)
	}
}

func (c *checker) action(path string, a *RouteAction) {
	if !c.required(path, a != nil) {
		return
	}
	p := path + ".weightedTargets"
	n := len(a.WeightedTargets)
	if n < 1 || n > 10 {
		c.add(p, "must have 1 to 10 targets, not %d", n)
		return
	}
	total := int32(0)
	seen := make(map[string]bool)
	for i, t := range a.WeightedTargets {
		tp := item(p, i)
		c.name(tp+".virtualNode", t.VirtualNode)
		between(c, tp+".weight", t.Weight, 0, 100, true)
		between(c, tp+".port", t.Port, 1, 65535, false)
		if t.Weight != nil && *t.Weight > 0 {
			total += *t.Weight
		}
		key := t.VirtualNode
		if t.Port != nil {
			key += fmt.Sprintf(":%d", *t.Port)
		}
		if seen[key] {
			c.add(tp+".virtualNode", "virtual node %s is already a target of this route", t.VirtualNode)
		}
		seen[key] = true
	}
	if total == 0 {
		c.add(p, "at least one target must have a weight above 0")
	}
}

func (c *checker) headerMatch(path string, m *HeaderMatchMethod) {
	if m == nil {
		return
	}
	set := count(m.Exact != "", m.Prefix != "", m.Range != nil, m.Regex != "", m.Suffix != "")
	if !c.oneOf(path, set, "exact", "prefix", "range", "regex", "suffix") {
		return
	}
	c.length(path+".exact", m.Exact, 0, 255)
	c.length(path+".prefix", m.Prefix, 0, 255)
	c.length(path+".regex", m.Regex, 0, 255)
	c.length(path+".suffix", m.Suffix, 0, 255)
	if r := m.Range; r != nil {
		c.required(path+".range.start", r.Start != nil)
		c.required(path+".range.end", r.End != nil)
		if r.Start != nil && r.End != nil && *r.Start >= *r.End {
			c.add(path+".range", "start (%d) must be less than end (%d)", *r.Start, *r.End)
		}
	}
}

var (
	httpRetryEvents = []string{"server-error", "gateway-error", "client-error", "stream-error"}
	grpcRetryEvents = []string{"cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable"}
)

func (c *checker) retryEvents(path string, events []string, max int, allowed []string) {
	listSize(c, path, events, 1, max)
	for i, e := range events {
		c.enum(item(path, i), e, true, allowed...)
	}
}

func (c *checker) httpRoute(path string, r *HTTPRoute) {
	c.action(path+".action", r.Action)
	if c.required(path+".match", r.Match != nil) {
		m := r.Match
		p := path + ".match"
		if c.oneOf(p, count(m.Prefix != "", m.Path != nil), "prefix", "path") {
			if m.Prefix != "" && !strings.HasPrefix(m.Prefix, "/") {
				c.add(p+".prefix", "must start with \"/\", not %q", m.Prefix)
			}
			if m.Path != nil && c.oneOf(p+".path", count(m.Path.Exact != "", m.Path.Regex != ""), "exact", "regex") {
				if m.Path.Exact != "" {
					c.length(p+".path.exact", m.Path.Exact, 1, 255)
					if !strings.HasPrefix(m.Path.Exact, "/") {
						c.add(p+".path.exact", "must start with \"/\", not %q", m.Path.Exact)
					}
				}
				c.length(p+".path.regex", m.Path.Regex, 0, 255)
			}
		}
		listSize(c, p+".headers", m.Headers, 1, 10)
		for i, h := range m.Headers {
			c.length(item(p+".headers", i)+".name", h.Name, 1, 50)
			c.headerMatch(item(p+".headers", i)+".match", h.Match)
		}
		c.enum(p+".method", m.Method, false, "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
		c.enum(p+".scheme", m.Scheme, false, "http", "https")
		between(c, p+".port", m.Port, 1, 65535, false)
		listSize(c, p+".queryParameters", m.QueryParameters, 1, 10)
		for i, q := range m.QueryParameters {
			c.required(item(p+".queryParameters", i)+".name", q.Name != "")
		}
	}
	if rp := r.RetryPolicy; rp != nil {
		p := path + ".retryPolicy"
		atLeast(c, p+".maxRetries", rp.MaxRetries, 0, true)
		c.duration(p+".perRetryTimeout", rp.PerRetryTimeout, true)
		c.retryEvents(p+".httpRetryEvents", rp.HTTPRetryEvents, 25, httpRetryEvents)
		c.retryEvents(p+".tcpRetryEvents", rp.TCPRetryEvents, 1, []string{"connection-error"})
		if len(rp.HTTPRetryEvents)+len(rp.TCPRetryEvents) == 0 {
			c.add(p, "must set httpRetryEvents or tcpRetryEvents")
		}
	}
	if t := r.Timeout; t != nil {
		c.duration(path+".timeout.idle", t.Idle, false)
		c.duration(path+".timeout.perRequest", t.PerRequest, false)
	}
}

func (c *checker) grpcRoute(path string, r *GRPCRoute) {
	c.action(path+".action", r.Action)
	if c.required(path+".match", r.Match != nil) {
		m := r.Match
		p := path + ".match"
		if m.MethodName != "" {
			c.length(p+".methodName", m.MethodName, 1, 50)
			if m.ServiceName == "" {
				c.add(p+".methodName", "requires serviceName")
			}
		}
		listSize(c, p+".metadata", m.Metadata, 1, 10)
		for i, md := range m.Metadata {
			c.length(item(p+".metadata", i)+".name", md.Name, 1, 50)
			c.headerMatch(item(p+".metadata", i)+".match", md.Match)
		}
		between(c, p+".port", m.Port, 1, 65535, false)
	}
	if rp := r.RetryPolicy; rp != nil {
		p := path + ".retryPolicy"
		atLeast(c, p+".maxRetries", rp.MaxRetries, 0, true)
		c.duration(p+".perRetryTimeout", rp.PerRetryTimeout, true)
		c.retryEvents(p+".grpcRetryEvents", rp.GRPCRetryEvents, 5, grpcRetryEvents)
		c.retryEvents(p+".httpRetryEvents", rp.HTTPRetryEvents, 25, httpRetryEvents)
		c.retryEvents(p+".tcpRetryEvents", rp.TCPRetryEvents, 1, []string{"connection-error"})
		if len(rp.GRPCRetryEvents)+len(rp.HTTPRetryEvents)+len(rp.TCPRetryEvents) == 0 {
			c.add(p, "must set grpcRetryEvents, httpRetryEvents or tcpRetryEvents")
		}
	}
	if t := r.Timeout; t != nil {
		c.duration(path+".timeout.idle", t.Idle, false)
		c.duration(path+".timeout.perRequest", t.PerRequest, false)
	}
}

func (c *checker) tcpRoute(path string, r *TCPRoute) {
	c.action(path+".action", r.Action)
	if r.Match != nil {
		between(c, path+".match.port", r.Match.Port, 1, 65535, false)
	}
	if r.Timeout != nil {
		c.duration(path+".timeout.idle", r.Timeout.Idle, false)
	}
}
