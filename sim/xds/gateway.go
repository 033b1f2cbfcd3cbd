package xds

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
)

// GatewayListenerName and GatewayRouteConfigName name the listener of a
// virtual gateway's proxy on port, and its route configuration, as App
// Mesh's Envoy configuration of a gateway names them.
func GatewayListenerName(port uint32) string { return fmt.Sprintf("lds_ingress_0.0.0.0_%d", port) }

// GatewayRouteConfigName names the route configuration of a virtual
// gateway's listener.
func GatewayRouteConfigName(l Listener) string {
	return fmt.Sprintf("rds_ingress_%s_%d", l.Protocol, l.Port)
}

// buildGateway returns the configuration of a virtual gateway's proxy: a
// listener per gateway listener, whose routes are the gateway routes of
// its protocol, each composed with the routes of its target virtual
// service (gateway route → virtual service → virtual router's routes →
// weighted virtual nodes), and the clusters of every virtual node they may
// send traffic to. The listener is outbound: the proxy forwards to the
// mesh's endpoints itself, as the sidecar's egress listener does.
func (ix *meshIndex) buildGateway(gw *VirtualGateway) (NodeResources, error) {
	var res NodeResources
	targets := make(map[string]bool)
	grs := slices.Clone(gw.Routes)
	slices.SortStableFunc(grs, compareGatewayRoutes)
	for _, l := range gw.Listeners {
		if l.Protocol == TCP || l.Port == 0 || l.Port > 65535 {
			return res, fmt.Errorf("listener %s %d: a virtual gateway listens on an http, http2 or grpc port", l.Protocol, l.Port)
		}
		rcName := GatewayRouteConfigName(l)
		ln, err := socketListener(GatewayListenerName(l.Port), l.Port, core.TrafficDirection_OUTBOUND, "gateway", rcName)
		if err != nil {
			return res, err
		}
		vh := &route.VirtualHost{Name: gw.Name, Domains: []string{"*"}}
		for i := range grs {
			if grs[i].Protocol != l.Protocol {
				continue
			}
			rs, err := ix.gatewayRoute(&grs[i], targets)
			if err != nil {
				return res, fmt.Errorf("gateway route %q: %w", grs[i].Name, err)
			}
			vh.Routes = append(vh.Routes, rs...)
		}
		res.Listeners = append(res.Listeners, ln)
		res.Routes = append(res.Routes, &route.RouteConfiguration{Name: rcName, VirtualHosts: []*route.VirtualHost{vh}})
	}
	for _, name := range slices.Sorted(maps.Keys(targets)) {
		target := ix.nodes[name]
		c, err := egressCluster(ix.mesh, name, target)
		if err != nil {
			return res, err
		}
		res.Clusters = append(res.Clusters, c)
		res.Endpoints = append(res.Endpoints, loadAssignment(c.GetName(), target))
	}
	return res, nil
}

// compareGatewayRoutes orders gateway routes by priority (0 first, unset
// last), then name.
func compareGatewayRoutes(a, b GatewayRoute) int {
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

// gatewayRoute translates a gateway route into Envoy routes: one to the
// provider node of its target virtual service, or one per route of the
// provider router whose match can hold for a request the gateway route
// matched (after its rewrites). A target that does not exist (yet) gets
// no route, so its requests are answered 404.
func (ix *meshIndex) gatewayRoute(gr *GatewayRoute, targets map[string]bool) ([]*route.Route, error) {
	base, err := gatewayMatch(gr)
	if err != nil {
		return nil, err
	}
	vs, ok := ix.services[gr.VirtualService]
	if !ok {
		return nil, nil
	}
	if vs.ProviderNode != "" {
		action := &route.RouteAction{
			ClusterSpecifier: &route.RouteAction_Cluster{Cluster: ClusterName(ix.mesh, vs.ProviderNode)},
			RetryPolicy:      defaultRetryPolicy(),
		}
		if err := setTimeouts(action, gr.Protocol, 0, 0); err != nil {
			return nil, err
		}
		targets[vs.ProviderNode] = true
		gatewayRewrites(action, gr, vs.Name)
		return []*route.Route{{Name: gr.Name, Match: base, Action: &route.Route_Route{Route: action}}}, nil
	}
	vr, ok := ix.routers[vs.ProviderRouter]
	if !ok {
		return nil, nil
	}
	rrs := slices.Clone(vr.Routes)
	slices.SortStableFunc(rrs, compareRoutes)
	var out []*route.Route
	for i := range rrs {
		rr := &rrs[i]
		if rr.Protocol == TCP || (rr.Protocol == GRPC) != (gr.Protocol == GRPC) {
			continue
		}
		matches, err := composeMatch(gr, base, rr)
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			r, err := ix.route(rr, targets)
			if err != nil {
				return nil, fmt.Errorf("route %q: %w", rr.Name, err)
			}
			r.Name, r.Match = gr.Name+"/"+rr.Name, m
			if a := r.GetRoute(); a != nil {
				gatewayRewrites(a, gr, vs.Name)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// gatewayMatch is the Envoy match of a gateway route on its own.
func gatewayMatch(gr *GatewayRoute) (*route.RouteMatch, error) {
	m := &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}}
	switch {
	case gr.Protocol == GRPC:
		m.Grpc = &route.RouteMatch_GrpcRouteMatchOptions{}
		if gr.GRPCService != "" {
			m.PathSpecifier = &route.RouteMatch_Prefix{Prefix: "/" + gr.GRPCService + "/"}
		}
	case gr.Prefix != "":
		m.PathSpecifier = &route.RouteMatch_Prefix{Prefix: gr.Prefix}
	case gr.PathExact != "":
		m.PathSpecifier = &route.RouteMatch_Path{Path: gr.PathExact}
	case gr.PathRegex != "":
		m.PathSpecifier = &route.RouteMatch_SafeRegex{SafeRegex: &matcher.RegexMatcher{Regex: gr.PathRegex}}
	}
	host := ""
	switch {
	case gr.HostnameExact != "":
		host = "^" + regexp.QuoteMeta(strings.ToLower(gr.HostnameExact))
	case gr.HostnameSuffix != "":
		host = "^.*" + regexp.QuoteMeta(strings.ToLower(gr.HostnameSuffix))
	}
	if host != "" {
		m.Headers = append(m.Headers, stringHeader(":authority", &matcher.StringMatcher{
			MatchPattern: &matcher.StringMatcher_SafeRegex{SafeRegex: &matcher.RegexMatcher{Regex: host + `(:[0-9]+)?$`}}, IgnoreCase: true}))
	}
	if gr.Method != "" {
		m.Headers = append(m.Headers, stringHeader(":method", &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Exact{Exact: gr.Method}}))
	}
	for _, h := range gr.Headers {
		hm, err := headerMatcher(h)
		if err != nil {
			return nil, err
		}
		m.Headers = append(m.Headers, hm)
	}
	for _, q := range gr.QueryParameters {
		if q.Name == "" {
			return nil, errors.New("query parameter match without name")
		}
		qm := &route.QueryParameterMatcher{Name: q.Name,
			QueryParameterMatchSpecifier: &route.QueryParameterMatcher_PresentMatch{PresentMatch: true}}
		if q.Exact != "" {
			qm.QueryParameterMatchSpecifier = &route.QueryParameterMatcher_StringMatch{StringMatch: &matcher.StringMatcher{
				MatchPattern: &matcher.StringMatcher_Exact{Exact: q.Exact}}}
		}
		m.QueryParameters = append(m.QueryParameters, qm)
	}
	return m, nil
}

func stringHeader(name string, sm *matcher.StringMatcher) *route.HeaderMatcher {
	return &route.HeaderMatcher{Name: name, HeaderMatchSpecifier: &route.HeaderMatcher_StringMatch{StringMatch: sm}}
}

// composeMatch returns the Envoy matches of requests that the gateway
// route gr matches (base) and that the virtual router's route rr then
// matches, after gr's rewrites: rr's headers are added, and rr's path
// condition, which applies to the rewritten path, is carried back to the
// path the client sent. None when no request can match both.
func composeMatch(gr *GatewayRoute, base *route.RouteMatch, rr *Route) ([]*route.RouteMatch, error) {
	m := proto.Clone(base).(*route.RouteMatch)
	for _, h := range rr.Headers {
		hm, err := headerMatcher(h)
		if err != nil {
			return nil, err
		}
		m.Headers = append(m.Headers, hm)
	}
	if rr.Protocol == GRPC {
		switch {
		case rr.GRPCService == "":
		case gr.GRPCService != "" && gr.GRPCService != rr.GRPCService:
			return nil, nil
		case rr.GRPCMethod != "":
			m.PathSpecifier = &route.RouteMatch_Path{Path: "/" + rr.GRPCService + "/" + rr.GRPCMethod}
		default:
			m.PathSpecifier = &route.RouteMatch_Prefix{Prefix: "/" + rr.GRPCService + "/"}
		}
		return []*route.RouteMatch{m}, nil
	}
	pr := rr.Prefix
	if pr == "" || pr == "/" {
		return []*route.RouteMatch{m}, nil
	}
	switch {
	case gr.PathExact != "":
		path := cmp.Or(gr.PathRewrite, gr.PathExact)
		if !strings.HasPrefix(path, pr) {
			return nil, nil
		}
		return []*route.RouteMatch{m}, nil
	case gr.Prefix != "":
		var out []*route.RouteMatch
		for _, p := range composedPrefixes(gr.Prefix, gr.PrefixRewrite, pr) {
			c := proto.Clone(m).(*route.RouteMatch)
			c.PathSpecifier = &route.RouteMatch_Prefix{Prefix: p}
			out = append(out, c)
		}
		return out, nil
	}
	// A regex or a hostname alone: the path is not rewritten, so rr's
	// prefix applies to it as the client sent it.
	m.Headers = append(m.Headers, stringHeader(":path", &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Prefix{Prefix: pr}}))
	return []*route.RouteMatch{m}, nil
}

// composedPrefixes returns the prefixes of the paths a client sends that a
// gateway route matching prefix p, rewritten as rewrite says, turns into
// paths with prefix pr (longer than "/").
func composedPrefixes(p string, rewrite *string, pr string) []string {
	q := p
	if rewrite != nil {
		q = *rewrite
	}
	switch {
	case q == "/" && rewrite != nil:
		// The matched prefix and the slash after it become "/": the rest
		// of the path must start with pr's rest.
		if strings.HasSuffix(p, "/") {
			return []string{p + pr[1:]}
		}
		return []string{p + "/" + pr[1:], p + pr[1:]}
	case len(pr) <= len(q):
		if strings.HasPrefix(q, pr) {
			return []string{p}
		}
		return nil
	case strings.HasPrefix(pr, q):
		return []string{p + pr[len(q):]}
	}
	return nil
}

// gatewayRewrites sets a gateway route's rewrites on an Envoy route
// action: the Host becomes the target virtual service's name; the matched
// prefix is replaced (regex_rewrite anchored at the start, so that the
// rewrite does not depend on how the route's match was composed), or an
// exactly matched path.
func gatewayRewrites(a *route.RouteAction, gr *GatewayRoute, virtualService string) {
	if gr.RewriteHostname {
		a.HostRewriteSpecifier = &route.RouteAction_HostRewriteLiteral{HostRewriteLiteral: virtualService}
	}
	var pattern, with string
	switch {
	case gr.PathExact != "" && gr.PathRewrite != "":
		pattern, with = "^.*$", gr.PathRewrite
	case gr.Prefix != "" && gr.PrefixRewrite != nil && *gr.PrefixRewrite == "/":
		pattern, with = "^"+regexp.QuoteMeta(strings.TrimSuffix(gr.Prefix, "/"))+"/?", "/"
	case gr.Prefix != "" && gr.PrefixRewrite != nil:
		pattern, with = "^"+regexp.QuoteMeta(gr.Prefix), *gr.PrefixRewrite
	default:
		return
	}
	a.RegexRewrite = &matcher.RegexMatchAndSubstitute{Pattern: &matcher.RegexMatcher{Regex: pattern}, Substitution: with}
}
