package sidecar

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/durationpb"
)

// routeTable is a compiled RouteConfiguration. It is immutable.
type routeTable struct {
	name   string
	exact  map[string]*virtualHost
	suffix []wildcardHost // "*.example.com", longest first
	prefix []wildcardHost // "example.*", longest first
	any    *virtualHost   // "*"
}

type wildcardHost struct {
	part string
	vh   *virtualHost
}

type virtualHost struct {
	name   string
	routes []*compiledRoute
}

type pathKind uint8

const (
	pathPrefix pathKind = iota
	pathExact
	pathRegex
	pathSeparatedPrefix
)

// compiledRoute is one route: what it matches and what it does.
type compiledRoute struct {
	name       string
	kind       pathKind
	path       string
	re         *regexp.Regexp
	ignoreCase bool
	grpc       bool
	headers    []headerMatch

	direct   *directReply
	clusters []weightedCluster
	total    uint64
	retry    *retryPolicy

	// rewritePrefix, or else rewriteRE with rewriteWith, rewrite the path
	// of the forwarded request; rewriteHost, when set, its Host.
	rewritePrefix string
	rewriteRE     *regexp.Regexp
	rewriteWith   string
	rewriteHost   string

	timeout time.Duration // route timeout, from the end of the request; 0: none
	idle    time.Duration // overrides the listener's stream idle timeout when idleSet
	idleSet bool
	stream  *streamDuration // nil: no max_stream_duration, the route timeout applies
}

// streamDuration is a compiled RouteAction.MaxStreamDuration.
type streamDuration struct {
	max              time.Duration // when maxSet; 0 disables the listener's
	maxSet           bool
	grpcHeaderMax    time.Duration // when grpcHeaderMaxSet; 0: no cap
	grpcHeaderMaxSet bool
	grpcHeaderOffset time.Duration
}

type directReply struct {
	status int
	body   string
}

type weightedCluster struct {
	name   string
	weight uint64
}

// pick chooses a cluster at random in proportion to the weights, as Envoy
// does for each request.
func (r *compiledRoute) pick() string {
	if len(r.clusters) == 1 {
		return r.clusters[0].name
	}
	n := rand.Uint64N(r.total)
	for _, c := range r.clusters {
		if n < c.weight {
			return c.name
		}
		n -= c.weight
	}
	return r.clusters[len(r.clusters)-1].name
}

// find returns the virtual host serving host: an exact domain first, then
// the longest suffix and prefix wildcards, each tried with the host as
// given and without its port, then "*".
func (t *routeTable) find(host string) *virtualHost {
	host = strings.ToLower(host)
	if vh := t.lookup(host); vh != nil {
		return vh
	}
	if h, ok := stripPort(host); ok {
		if vh := t.lookup(h); vh != nil {
			return vh
		}
	}
	return t.any
}

func (t *routeTable) lookup(host string) *virtualHost {
	if vh, ok := t.exact[host]; ok {
		return vh
	}
	for _, w := range t.suffix {
		if len(host) > len(w.part) && strings.HasSuffix(host, w.part) {
			return w.vh
		}
	}
	for _, w := range t.prefix {
		if len(host) > len(w.part) && strings.HasPrefix(host, w.part) {
			return w.vh
		}
	}
	return nil
}

// stripPort returns host without a trailing ":port".
func stripPort(host string) (string, bool) {
	i := strings.LastIndexByte(host, ':')
	if i < 0 || strings.IndexByte(host[i:], ']') >= 0 {
		return "", false
	}
	if host[0] != '[' && strings.IndexByte(host[:i], ':') >= 0 {
		return "", false // a bare IPv6 address
	}
	h := host[:i]
	if len(h) >= 2 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	return h, true
}

// routed is what routing reads of a request, from either server: the
// net/http one (HTTP/2, gRPC) or the HTTP/1.1 one.
type routed interface {
	// escapedPath is the request's path as sent, without the query.
	escapedPath() string
	// header returns the value of a canonical header name, one of the
	// pseudo-headers :authority, :method, :path and :scheme, or a query
	// parameter's first value (queryPrefix and its name), joining repeated
	// headers with ",", as Envoy does.
	header(name string) (string, bool)
	isGRPC() bool
}

// stdRequest is a net/http request as routing reads it.
type stdRequest struct{ *http.Request }

func (r stdRequest) escapedPath() string { return r.URL.EscapedPath() }
func (r stdRequest) isGRPC() bool        { return isGRPC(r.Request) }

func (r stdRequest) header(name string) (string, bool) {
	switch name {
	case ":authority":
		return r.Host, true
	case ":method":
		return r.Method, true
	case ":path":
		return r.URL.RequestURI(), true
	case ":scheme":
		return "http", true
	}
	if q, ok := strings.CutPrefix(name, queryPrefix); ok {
		vs, ok := r.URL.Query()[q]
		if !ok || len(vs) == 0 {
			return "", false
		}
		return vs[0], true
	}
	vs, ok := r.Header[name]
	if !ok {
		return "", false
	}
	if len(vs) == 1 {
		return vs[0], true
	}
	return strings.Join(vs, ","), true
}

// match returns the first route of vh that matches r, or nil.
func (vh *virtualHost) match(r routed) *compiledRoute {
	for _, rt := range vh.routes {
		if rt.matches(r) {
			return rt
		}
	}
	return nil
}

func (rt *compiledRoute) matches(r routed) bool {
	path := r.escapedPath()
	switch rt.kind {
	case pathPrefix:
		if !hasPrefix(path, rt.path, rt.ignoreCase) {
			return false
		}
	case pathSeparatedPrefix:
		if !hasPrefix(path, rt.path, rt.ignoreCase) || (len(path) > len(rt.path) && path[len(rt.path)] != '/') {
			return false
		}
	case pathExact:
		if len(path) != len(rt.path) || !hasPrefix(path, rt.path, rt.ignoreCase) {
			return false
		}
	case pathRegex:
		if !rt.re.MatchString(path) {
			return false
		}
	}
	if rt.grpc && !r.isGRPC() {
		return false
	}
	for i := range rt.headers {
		if !rt.headers[i].matches(r) {
			return false
		}
	}
	return true
}

func hasPrefix(s, prefix string, ignoreCase bool) bool {
	if len(s) < len(prefix) {
		return false
	}
	if ignoreCase {
		return strings.EqualFold(s[:len(prefix)], prefix)
	}
	return s[:len(prefix)] == prefix
}

func isGRPC(r *http.Request) bool {
	ct := r.Header["Content-Type"]
	return len(ct) > 0 && strings.HasPrefix(ct[0], "application/grpc")
}

type headerKind uint8

const (
	headerPresent headerKind = iota
	headerExact
	headerPrefix
	headerSuffix
	headerContains
	headerRegex
	headerRange
)

// headerMatch is a compiled HeaderMatcher, with Envoy's semantics for
// missing headers and invert_match.
type headerMatch struct {
	name         string // canonical, or a pseudo-header
	kind         headerKind
	value        string
	re           *regexp.Regexp
	ignoreCase   bool
	present      bool
	start, end   int64
	invert       bool
	missingEmpty bool
}

func (h *headerMatch) matches(r routed) bool {
	v, ok := r.header(h.name)
	if !ok && !h.missingEmpty {
		if h.invert {
			return h.kind == headerPresent && h.present
		}
		return h.kind == headerPresent && !h.present
	}
	var m bool
	switch h.kind {
	case headerPresent:
		m = ok == h.present
	case headerExact:
		if h.ignoreCase {
			m = strings.EqualFold(v, h.value)
		} else {
			m = v == h.value
		}
	case headerPrefix:
		m = hasPrefix(v, h.value, h.ignoreCase)
	case headerSuffix:
		m = len(v) >= len(h.value) && hasPrefix(v[len(v)-len(h.value):], h.value, h.ignoreCase)
	case headerContains:
		if h.ignoreCase {
			m = strings.Contains(strings.ToLower(v), strings.ToLower(h.value))
		} else {
			m = strings.Contains(v, h.value)
		}
	case headerRegex:
		m = h.re.MatchString(v)
	case headerRange:
		n, err := strconv.ParseInt(v, 10, 64)
		m = err == nil && n >= h.start && n < h.end
	}
	return m != h.invert
}

// compileRouteConfig compiles rc, rejecting what the sidecar cannot
// honour.
func compileRouteConfig(rc *route.RouteConfiguration) (*routeTable, error) {
	if len(rc.GetRequestHeadersToAdd()) > 0 || len(rc.GetResponseHeadersToAdd()) > 0 ||
		len(rc.GetRequestHeadersToRemove()) > 0 || len(rc.GetResponseHeadersToRemove()) > 0 {
		return nil, errors.New("header mutations are not supported")
	}
	t := &routeTable{name: rc.GetName(), exact: make(map[string]*virtualHost)}
	seen := make(map[string]bool)
	for _, v := range rc.GetVirtualHosts() {
		vh, err := compileVirtualHost(v)
		if err != nil {
			return nil, fmt.Errorf("virtual host %q: %w", v.GetName(), err)
		}
		for _, d := range v.GetDomains() {
			d = strings.ToLower(d)
			if seen[d] {
				return nil, fmt.Errorf("virtual host %q: domain %q is not unique in the route configuration", v.GetName(), d)
			}
			seen[d] = true
			switch {
			case d == "*":
				t.any = vh
			case strings.HasPrefix(d, "*"):
				t.suffix = append(t.suffix, wildcardHost{d[1:], vh})
			case strings.HasSuffix(d, "*"):
				t.prefix = append(t.prefix, wildcardHost{d[:len(d)-1], vh})
			case strings.Contains(d, "*"):
				return nil, fmt.Errorf("virtual host %q: domain %q: a wildcard must be a prefix or a suffix", v.GetName(), d)
			default:
				t.exact[d] = vh
			}
		}
	}
	longestFirst := func(a, b wildcardHost) int { return len(b.part) - len(a.part) }
	slices.SortStableFunc(t.suffix, longestFirst)
	slices.SortStableFunc(t.prefix, longestFirst)
	return t, nil
}

func compileVirtualHost(v *route.VirtualHost) (*virtualHost, error) {
	if len(v.GetDomains()) == 0 {
		return nil, errors.New("no domains")
	}
	if len(v.GetRequestHeadersToAdd()) > 0 || len(v.GetResponseHeadersToAdd()) > 0 ||
		len(v.GetRequestHeadersToRemove()) > 0 || len(v.GetResponseHeadersToRemove()) > 0 {
		return nil, errors.New("header mutations are not supported")
	}
	if v.GetRequireTls() != route.VirtualHost_NONE {
		return nil, errors.New("require_tls is not supported")
	}
	var vhRetry *retryPolicy
	if p := v.GetRetryPolicy(); p != nil {
		var err error
		if vhRetry, err = compileRetryPolicy(p); err != nil {
			return nil, err
		}
	}
	vh := &virtualHost{name: v.GetName()}
	for i, r := range v.GetRoutes() {
		cr, err := compileRoute(r, vhRetry)
		if err != nil {
			return nil, fmt.Errorf("route %d %q: %w", i, r.GetName(), err)
		}
		vh.routes = append(vh.routes, cr)
	}
	return vh, nil
}

func compileRoute(r *route.Route, vhRetry *retryPolicy) (*compiledRoute, error) {
	m := r.GetMatch()
	if m == nil {
		return nil, errors.New("no match")
	}
	switch {
	case len(m.GetCookies()) > 0:
		return nil, errors.New("cookie matching is not supported")
	case m.GetRuntimeFraction() != nil:
		return nil, errors.New("runtime_fraction is not supported")
	case m.GetTlsContext() != nil, len(m.GetDynamicMetadata()) > 0, len(m.GetFilterState()) > 0:
		return nil, errors.New("tls_context, dynamic_metadata and filter_state matching are not supported")
	case len(r.GetRequestHeadersToAdd()) > 0 || len(r.GetResponseHeadersToAdd()) > 0 ||
		len(r.GetRequestHeadersToRemove()) > 0 || len(r.GetResponseHeadersToRemove()) > 0:
		return nil, errors.New("header mutations are not supported")
	}
	cr := &compiledRoute{name: r.GetName(), grpc: m.GetGrpc() != nil}
	if cs := m.GetCaseSensitive(); cs != nil && !cs.GetValue() {
		cr.ignoreCase = true
	}
	switch ps := m.GetPathSpecifier().(type) {
	case *route.RouteMatch_Prefix:
		cr.kind, cr.path = pathPrefix, ps.Prefix
	case *route.RouteMatch_Path:
		cr.kind, cr.path = pathExact, ps.Path
	case *route.RouteMatch_PathSeparatedPrefix:
		cr.kind, cr.path = pathSeparatedPrefix, ps.PathSeparatedPrefix
	case *route.RouteMatch_SafeRegex:
		re, err := compileRegex(ps.SafeRegex.GetRegex(), cr.ignoreCase)
		if err != nil {
			return nil, err
		}
		cr.kind, cr.re = pathRegex, re
	default:
		return nil, fmt.Errorf("path specifier %T is not supported", ps)
	}
	for _, h := range m.GetHeaders() {
		hm, err := compileHeaderMatch(h)
		if err != nil {
			return nil, fmt.Errorf("header %q: %w", h.GetName(), err)
		}
		cr.headers = append(cr.headers, hm)
	}
	for _, q := range m.GetQueryParameters() {
		qm, err := compileQueryMatch(q)
		if err != nil {
			return nil, fmt.Errorf("query parameter %q: %w", q.GetName(), err)
		}
		cr.headers = append(cr.headers, qm)
	}

	switch a := r.GetAction().(type) {
	case *route.Route_DirectResponse:
		d := &directReply{status: int(a.DirectResponse.GetStatus())}
		if b := a.DirectResponse.GetBody(); b != nil {
			switch {
			case b.GetInlineString() != "":
				d.body = b.GetInlineString()
			case len(b.GetInlineBytes()) > 0:
				d.body = string(b.GetInlineBytes())
			default:
				return nil, errors.New("direct response body: only inline bodies are supported")
			}
		}
		if d.status < 200 || d.status > 599 {
			return nil, fmt.Errorf("direct response status %d out of range", d.status)
		}
		cr.direct = d
	case *route.Route_Route:
		if err := compileAction(cr, a.Route, vhRetry); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("action %T is not supported", a)
	}
	return cr, nil
}

func compileAction(cr *compiledRoute, a *route.RouteAction, vhRetry *retryPolicy) error {
	switch {
	case a.GetPathRewrite() != "", a.GetPathRewritePolicy() != nil:
		return errors.New("path_rewrite and path_rewrite_policy are not supported; use prefix_rewrite or regex_rewrite")
	case len(a.GetRequestMirrorPolicies()) > 0:
		return errors.New("request mirroring is not supported")
	case a.GetHedgePolicy() != nil, a.GetRetryPolicyTypedConfig() != nil:
		return errors.New("hedging and typed retry policies are not supported")
	case a.GetMaxGrpcTimeout() != nil, a.GetGrpcTimeoutOffset() != nil:
		return errors.New("max_grpc_timeout and grpc_timeout_offset are not supported; use max_stream_duration")
	}
	switch cs := a.GetClusterSpecifier().(type) {
	case *route.RouteAction_Cluster:
		cr.clusters = []weightedCluster{{name: cs.Cluster, weight: 1}}
		cr.total = 1
	case *route.RouteAction_WeightedClusters:
		for _, c := range cs.WeightedClusters.GetClusters() {
			if c.GetClusterHeader() != "" {
				return errors.New("weighted cluster_header is not supported")
			}
			w := uint64(c.GetWeight().GetValue())
			if w == 0 {
				continue
			}
			cr.clusters = append(cr.clusters, weightedCluster{name: c.GetName(), weight: w})
			cr.total += w
		}
		if cr.total == 0 {
			return errors.New("weighted clusters: total weight must be greater than 0")
		}
	default:
		return fmt.Errorf("cluster specifier %T is not supported", cs)
	}
	if err := compileRewrites(cr, a); err != nil {
		return err
	}
	if err := compileTimeouts(cr, a); err != nil {
		return err
	}
	cr.retry = vhRetry
	if p := a.GetRetryPolicy(); p != nil {
		rp, err := compileRetryPolicy(p)
		if err != nil {
			return err
		}
		cr.retry = rp
	}
	return nil
}

// compileTimeouts compiles the route's timeout, idle_timeout and
// max_stream_duration. As in Envoy, a max_stream_duration turns the route
// timeout off.
func compileTimeouts(cr *compiledRoute, a *route.RouteAction) error {
	var err error
	cr.timeout = defaultRouteTimeout
	if t := a.GetTimeout(); t != nil {
		if cr.timeout, err = duration("timeout", t); err != nil {
			return err
		}
	}
	if t := a.GetIdleTimeout(); t != nil {
		if cr.idle, err = duration("idle_timeout", t); err != nil {
			return err
		}
		cr.idleSet = true
	}
	msd := a.GetMaxStreamDuration()
	if msd == nil {
		return nil
	}
	sd := &streamDuration{}
	if t := msd.GetMaxStreamDuration(); t != nil {
		if sd.max, err = duration("max_stream_duration", t); err != nil {
			return err
		}
		sd.maxSet = true
	}
	if t := msd.GetGrpcTimeoutHeaderMax(); t != nil {
		if sd.grpcHeaderMax, err = duration("grpc_timeout_header_max", t); err != nil {
			return err
		}
		sd.grpcHeaderMaxSet = true
	}
	if t := msd.GetGrpcTimeoutHeaderOffset(); t != nil {
		if sd.grpcHeaderOffset, err = duration("grpc_timeout_header_offset", t); err != nil {
			return err
		}
	}
	cr.stream, cr.timeout = sd, 0
	return nil
}

// duration converts a protobuf duration, which must be valid and not
// negative.
func duration(field string, d *durationpb.Duration) (time.Duration, error) {
	if err := d.CheckValid(); err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	t := d.AsDuration()
	if t < 0 {
		return 0, fmt.Errorf("%s: negative duration %v", field, t)
	}
	return t, nil
}

func compileRegex(expr string, ignoreCase bool) (*regexp.Regexp, error) {
	flags := ""
	if ignoreCase {
		flags = "(?i)"
	}
	re, err := regexp.Compile(flags + "^(?:" + expr + ")$")
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", expr, err)
	}
	return re, nil
}

func compileHeaderMatch(h *route.HeaderMatcher) (headerMatch, error) {
	name := strings.ToLower(h.GetName())
	if name == "" {
		return headerMatch{}, errors.New("empty header name")
	}
	if !strings.HasPrefix(name, ":") {
		name = http.CanonicalHeaderKey(name)
	} else if name == ":path" || name == ":method" || name == ":authority" || name == ":scheme" {
		// served by routed.header
	} else {
		return headerMatch{}, fmt.Errorf("pseudo-header %q is not supported", name)
	}
	hm := headerMatch{name: name, invert: h.GetInvertMatch(), missingEmpty: h.GetTreatMissingHeaderAsEmpty()}
	switch s := h.GetHeaderMatchSpecifier().(type) {
	case nil:
		hm.kind, hm.present = headerPresent, true
	case *route.HeaderMatcher_PresentMatch:
		hm.kind, hm.present = headerPresent, s.PresentMatch
	case *route.HeaderMatcher_ExactMatch:
		hm.kind, hm.value = headerExact, s.ExactMatch
	case *route.HeaderMatcher_PrefixMatch:
		hm.kind, hm.value = headerPrefix, s.PrefixMatch
	case *route.HeaderMatcher_SuffixMatch:
		hm.kind, hm.value = headerSuffix, s.SuffixMatch
	case *route.HeaderMatcher_ContainsMatch:
		hm.kind, hm.value = headerContains, s.ContainsMatch
	case *route.HeaderMatcher_SafeRegexMatch:
		re, err := compileRegex(s.SafeRegexMatch.GetRegex(), false)
		if err != nil {
			return hm, err
		}
		hm.kind, hm.re = headerRegex, re
	case *route.HeaderMatcher_RangeMatch:
		hm.kind, hm.start, hm.end = headerRange, s.RangeMatch.GetStart(), s.RangeMatch.GetEnd()
	case *route.HeaderMatcher_StringMatch:
		sm := s.StringMatch
		hm.ignoreCase = sm.GetIgnoreCase()
		switch p := sm.GetMatchPattern().(type) {
		case *matcher.StringMatcher_Exact:
			hm.kind, hm.value = headerExact, p.Exact
		case *matcher.StringMatcher_Prefix:
			hm.kind, hm.value = headerPrefix, p.Prefix
		case *matcher.StringMatcher_Suffix:
			hm.kind, hm.value = headerSuffix, p.Suffix
		case *matcher.StringMatcher_Contains:
			hm.kind, hm.value = headerContains, p.Contains
		case *matcher.StringMatcher_SafeRegex:
			re, err := compileRegex(p.SafeRegex.GetRegex(), hm.ignoreCase)
			if err != nil {
				return hm, err
			}
			hm.kind, hm.re = headerRegex, re
		default:
			return hm, fmt.Errorf("string match %T is not supported", p)
		}
	default:
		return hm, fmt.Errorf("header match %T is not supported", s)
	}
	return hm, nil
}

// retryOn is a set of Envoy retry_on conditions.
type retryOn uint32

const (
	retry5xx retryOn = 1 << iota
	retryGatewayError
	retryReset
	retryConnectFailure
	retryRetriable4xx
	retryRefusedStream
	retryStatusCodes
	retryGRPCCancelled
	retryGRPCDeadlineExceeded
	retryGRPCInternal
	retryGRPCResourceExhausted
	retryGRPCUnavailable
)

var retryConditions = map[string]retryOn{
	"5xx":                    retry5xx,
	"gateway-error":          retryGatewayError,
	"reset":                  retryReset,
	"reset-before-request":   retryReset,
	"connect-failure":        retryConnectFailure,
	"retriable-4xx":          retryRetriable4xx,
	"refused-stream":         retryRefusedStream,
	"retriable-status-codes": retryStatusCodes,
	"cancelled":              retryGRPCCancelled,
	"deadline-exceeded":      retryGRPCDeadlineExceeded,
	"internal":               retryGRPCInternal,
	"resource-exhausted":     retryGRPCResourceExhausted,
	"unavailable":            retryGRPCUnavailable,
}

// retryPolicy is a compiled RetryPolicy.
type retryPolicy struct {
	on          retryOn
	numRetries  int
	perTry      time.Duration
	base, max   time.Duration
	statusCodes []int
}

func compileRetryPolicy(p *route.RetryPolicy) (*retryPolicy, error) {
	rp := &retryPolicy{numRetries: 1, base: 25 * time.Millisecond}
	for c := range strings.SplitSeq(p.GetRetryOn(), ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		bit, ok := retryConditions[c]
		if !ok {
			return nil, fmt.Errorf("retry_on %q is not supported", c)
		}
		rp.on |= bit
	}
	if n := p.GetNumRetries(); n != nil {
		rp.numRetries = int(n.GetValue())
	}
	if t := p.GetPerTryTimeout(); t != nil {
		var err error
		if rp.perTry, err = duration("per_try_timeout", t); err != nil {
			return nil, err
		}
	}
	if b := p.GetRetryBackOff(); b != nil {
		if d := b.GetBaseInterval(); d != nil && d.AsDuration() > 0 {
			rp.base = d.AsDuration()
		}
		if d := b.GetMaxInterval(); d != nil && d.AsDuration() > 0 {
			rp.max = d.AsDuration()
		}
	}
	if rp.max == 0 {
		rp.max = 10 * rp.base
	}
	for _, c := range p.GetRetriableStatusCodes() {
		rp.statusCodes = append(rp.statusCodes, int(c))
	}
	if len(p.GetRetriableHeaders()) > 0 || len(p.GetRetriableRequestHeaders()) > 0 || p.GetRetryPriority() != nil ||
		len(p.GetRetryHostPredicate()) > 0 || p.GetRateLimitedRetryBackOff() != nil || p.GetPerTryIdleTimeout() != nil {
		return nil, errors.New("retry policy: only retry_on, num_retries, per_try_timeout, retry_back_off and retriable_status_codes are supported")
	}
	return rp, nil
}

// retryResponse reports whether a response with this status (and gRPC
// status from a trailers-only response) should be retried.
func (p *retryPolicy) retryResponse(res *http.Response) bool {
	gs := ""
	if v := res.Header["Grpc-Status"]; len(v) > 0 {
		gs = v[0]
	}
	return p.retryStatus(res.StatusCode, gs)
}

// retryStatus reports whether a response with HTTP status s and gRPC
// status gs ("" when none) should be retried.
func (p *retryPolicy) retryStatus(s int, gs string) bool {
	switch {
	case p.on&retry5xx != 0 && s >= 500:
		return true
	case p.on&retryGatewayError != 0 && (s == 502 || s == 503 || s == 504):
		return true
	case p.on&retryRetriable4xx != 0 && s == 409:
		return true
	case p.on&retryStatusCodes != 0 && slices.Contains(p.statusCodes, s):
		return true
	}
	switch gs {
	case "1":
		return p.on&retryGRPCCancelled != 0
	case "4":
		return p.on&retryGRPCDeadlineExceeded != 0
	case "8":
		return p.on&retryGRPCResourceExhausted != 0
	case "13":
		return p.on&retryGRPCInternal != 0
	case "14":
		return p.on&retryGRPCUnavailable != 0
	}
	return false
}

// retryError reports whether a failed attempt should be retried:
// connectFailure when no connection was made, timedOut when the per-try
// timeout expired, otherwise a reset before the response headers.
func (p *retryPolicy) retryError(connectFailure, timedOut bool) bool {
	switch {
	case connectFailure:
		return p.on&(retryConnectFailure|retry5xx|retryGatewayError|retryReset) != 0
	case timedOut:
		return p.on&(retry5xx|retryGatewayError|retryReset) != 0
	default:
		return p.on&(retry5xx|retryGatewayError|retryReset|retryRefusedStream) != 0
	}
}

// backoff returns Envoy's fully jittered exponential back-off before
// retry n (from 1).
func (p *retryPolicy) backoff(n int) time.Duration {
	limit := p.base << min(n-1, 20)
	if limit <= 0 || limit > p.max {
		limit = p.max
	}
	return rand.N(limit) + 1
}

// queryPrefix marks a headerMatch that matches a query parameter (the
// rest of its name) rather than a header.
const queryPrefix = "?"

// compileQueryMatch compiles a query parameter matcher as a headerMatch of
// the parameter's first value, with Envoy's semantics: a string match or
// present_match (presence when neither is set).
func compileQueryMatch(q *route.QueryParameterMatcher) (headerMatch, error) {
	if q.GetName() == "" {
		return headerMatch{}, errors.New("empty query parameter name")
	}
	h := &route.HeaderMatcher{Name: ":path"}
	switch s := q.GetQueryParameterMatchSpecifier().(type) {
	case nil:
		h.HeaderMatchSpecifier = &route.HeaderMatcher_PresentMatch{PresentMatch: true}
	case *route.QueryParameterMatcher_PresentMatch:
		h.HeaderMatchSpecifier = &route.HeaderMatcher_PresentMatch{PresentMatch: s.PresentMatch}
	case *route.QueryParameterMatcher_StringMatch:
		h.HeaderMatchSpecifier = &route.HeaderMatcher_StringMatch{StringMatch: s.StringMatch}
	default:
		return headerMatch{}, fmt.Errorf("query parameter match %T is not supported", s)
	}
	hm, err := compileHeaderMatch(h)
	hm.name = queryPrefix + q.GetName()
	return hm, err
}

// envoySubstitution turns an Envoy regex_rewrite substitution (\1 for a
// capture group) into a Go regexp template (${1}).
var envoySubstitution = regexp.MustCompile(`\\([0-9])`)

// compileRewrites compiles the route's path rewrite (prefix_rewrite, which
// replaces the prefix the route matched, or regex_rewrite, which replaces
// every match of its RE2 pattern in the path, query string excluded) and
// its host rewrite (host_rewrite_literal), as Envoy applies them to the
// request it forwards.
func compileRewrites(cr *compiledRoute, a *route.RouteAction) error {
	switch {
	case a.GetPrefixRewrite() != "" && a.GetRegexRewrite() != nil:
		return errors.New("prefix_rewrite and regex_rewrite are exclusive")
	case a.GetPrefixRewrite() != "":
		if cr.kind != pathPrefix && cr.kind != pathSeparatedPrefix {
			return errors.New("prefix_rewrite needs a prefix match")
		}
		cr.rewritePrefix = a.GetPrefixRewrite()
	case a.GetRegexRewrite() != nil:
		rr := a.GetRegexRewrite()
		// Unlike a match, a rewrite's pattern is not anchored: it replaces
		// every part of the path it matches.
		re, err := regexp.Compile(rr.GetPattern().GetRegex())
		if err != nil {
			return fmt.Errorf("regex_rewrite: pattern %q: %w", rr.GetPattern().GetRegex(), err)
		}
		with := strings.ReplaceAll(rr.GetSubstitution(), "$", "$$")
		cr.rewriteRE, cr.rewriteWith = re, envoySubstitution.ReplaceAllString(with, `$${$1}`)
	}
	switch h := a.GetHostRewriteSpecifier().(type) {
	case nil:
	case *route.RouteAction_HostRewriteLiteral:
		cr.rewriteHost = h.HostRewriteLiteral
	default:
		return fmt.Errorf("host rewrite %T is not supported; use host_rewrite_literal", h)
	}
	return nil
}

// rewritePath returns the escaped path a request for path is forwarded
// with.
func (rt *compiledRoute) rewritePath(path string) string {
	switch {
	case rt.rewritePrefix != "" && len(path) >= len(rt.path):
		return rt.rewritePrefix + path[len(rt.path):]
	case rt.rewriteRE != nil:
		return rt.rewriteRE.ReplaceAllString(path, rt.rewriteWith)
	}
	return path
}
