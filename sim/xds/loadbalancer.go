package xds

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// LoadBalancer is an ELBv2 load balancer: its proxy (the embedded sidecar
// in an ingress role, node NodeID) serves each listener on the load
// balancer's address and routes requests by the listener's rules to the
// weighted target groups, as the load balancer would.
type LoadBalancer struct {
	// NodeID is the proxy's node id ("loadbalancer/app/NAME/ID").
	NodeID    string
	Name      string
	Listeners []LBListener
	// TargetGroups are the groups the rules forward to, with the targets
	// that take new requests (healthy, not draining).
	TargetGroups []TargetGroup
}

// LBListener is a listener: its rules in evaluation order, the default
// rule last.
type LBListener struct {
	Port  uint32
	Rules []LBRule
}

// LBRule is a listener rule. Its conditions all must match; within one,
// any value matches. Values use ELBv2's wildcards: * (any characters) and
// ? (one character); paths match case-sensitively, hosts, header values
// and methods case-insensitively.
type LBRule struct {
	Name    string
	Paths   []string
	Hosts   []string
	Headers []LBHeader
	Methods []string
	// FixedStatus, when not 0, answers with this status and FixedBody
	// instead of forwarding.
	FixedStatus uint32
	FixedBody   string
	// Targets are the weighted target groups it forwards to.
	Targets []LBWeight
}

// LBWeight is a target group (by name) and its weight in a rule.
type LBWeight struct {
	TargetGroup string
	Weight      uint32
}

// LBHeader is an http-header condition.
type LBHeader struct {
	Name   string
	Values []string
}

// TargetGroup is a target group with the targets that take requests.
type TargetGroup struct {
	Name    string
	HTTP2   bool
	Targets []LBTarget
}

// LBTarget is a target; Weight (1-100) is below 100 during slow start.
type LBTarget struct {
	Address string
	Port    uint32
	Weight  uint32
}

// LoadBalancerClusterName is the cluster of a target group.
func LoadBalancerClusterName(targetGroup string) string { return "cds_tg_" + targetGroup }

// LoadBalancerRouteName is the route configuration of a listener.
func LoadBalancerRouteName(port uint32) string {
	return "rds_lb_http_" + strconv.FormatUint(uint64(port), 10)
}

// buildLoadBalancer returns the resources of a load balancer's proxy.
func buildLoadBalancer(lb *LoadBalancer) (NodeResources, error) {
	var res NodeResources
	groups := map[string]*TargetGroup{}
	for i := range lb.TargetGroups {
		tg := &lb.TargetGroups[i]
		if groups[tg.Name] != nil {
			return res, fmt.Errorf("target group %q listed twice", tg.Name)
		}
		groups[tg.Name] = tg
	}
	for _, l := range lb.Listeners {
		name := "lds_lb_0.0.0.0_" + strconv.FormatUint(uint64(l.Port), 10)
		sl, err := socketListener(name, l.Port, core.TrafficDirection_INBOUND, "lb_"+lb.Name, LoadBalancerRouteName(l.Port))
		if err != nil {
			return res, err
		}
		res.Listeners = append(res.Listeners, sl)
		vh := &route.VirtualHost{Name: lb.Name + "_" + strconv.FormatUint(uint64(l.Port), 10), Domains: []string{"*"}}
		for _, r := range l.Rules {
			rt, err := lbRoute(r, groups)
			if err != nil {
				return res, fmt.Errorf("listener %d rule %q: %w", l.Port, r.Name, err)
			}
			vh.Routes = append(vh.Routes, rt)
		}
		res.Routes = append(res.Routes, &route.RouteConfiguration{Name: LoadBalancerRouteName(l.Port), VirtualHosts: []*route.VirtualHost{vh}})
	}
	for _, tg := range lb.TargetGroups {
		c := &cluster.Cluster{
			Name:                 LoadBalancerClusterName(tg.Name),
			ConnectTimeout:       durationpb.New(connectTimeout),
			ClusterDiscoveryType: &cluster.Cluster_Type{Type: cluster.Cluster_EDS},
			EdsClusterConfig:     &cluster.Cluster_EdsClusterConfig{EdsConfig: adsSource},
			LbPolicy:             cluster.Cluster_ROUND_ROBIN,
		}
		if tg.HTTP2 {
			if err := setProtocolOptions(c, HTTP2); err != nil {
				return res, err
			}
		}
		res.Clusters = append(res.Clusters, c)
		cla := &endpoint.ClusterLoadAssignment{ClusterName: c.Name}
		var eps []*endpoint.LbEndpoint
		for _, t := range tg.Targets {
			if t.Address == "" || t.Port == 0 || t.Port > 65535 {
				continue
			}
			ep := lbEndpoint(t.Address, t.Port)
			ep.LoadBalancingWeight = wrapperspb.UInt32(max(1, min(t.Weight, 100)))
			eps = append(eps, ep)
		}
		if len(eps) > 0 {
			cla.Endpoints = []*endpoint.LocalityLbEndpoints{{Locality: endpointLocality(), LoadBalancingWeight: wrapperspb.UInt32(1), LbEndpoints: eps}}
		}
		res.Endpoints = append(res.Endpoints, cla)
	}
	return res, nil
}

// lbRoute translates one rule. ELBv2 has no retries: the route sets a
// policy of none (Envoy would otherwise retry nothing either).
func lbRoute(r LBRule, groups map[string]*TargetGroup) (*route.Route, error) {
	m := &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}}
	if len(r.Paths) > 0 {
		m.PathSpecifier = &route.RouteMatch_SafeRegex{SafeRegex: &matcher.RegexMatcher{Regex: wildcards(r.Paths)}}
	}
	if len(r.Hosts) > 0 {
		m.Headers = append(m.Headers, regexHeader(":authority", "(?i)"+wildcards(r.Hosts)+`(:[0-9]+)?`))
	}
	if len(r.Methods) > 0 {
		m.Headers = append(m.Headers, regexHeader(":method", wildcards(r.Methods)))
	}
	for _, h := range r.Headers {
		if h.Name == "" || len(h.Values) == 0 {
			return nil, errors.New("an http-header condition needs a name and values")
		}
		m.Headers = append(m.Headers, regexHeader(strings.ToLower(h.Name), "(?i)"+wildcards(h.Values)))
	}
	rt := &route.Route{Name: r.Name, Match: m}
	if r.FixedStatus != 0 {
		rt.Action = &route.Route_DirectResponse{DirectResponse: &route.DirectResponseAction{
			Status: r.FixedStatus,
			Body:   &core.DataSource{Specifier: &core.DataSource_InlineString{InlineString: r.FixedBody}},
		}}
		if r.FixedBody == "" {
			rt.GetDirectResponse().Body = nil
		}
		return rt, nil
	}
	var weighted []*route.WeightedCluster_ClusterWeight
	for _, t := range r.Targets {
		if groups[t.TargetGroup] == nil {
			return nil, fmt.Errorf("target group %q is not listed", t.TargetGroup)
		}
		if t.Weight == 0 {
			continue
		}
		weighted = append(weighted, &route.WeightedCluster_ClusterWeight{Name: LoadBalancerClusterName(t.TargetGroup), Weight: wrapperspb.UInt32(t.Weight)})
	}
	if len(weighted) == 0 {
		return nil, errors.New("no target group with a weight above 0")
	}
	action := &route.RouteAction{
		ClusterSpecifier: &route.RouteAction_WeightedClusters{WeightedClusters: &route.WeightedCluster{Clusters: weighted}},
		Timeout:          durationpb.New(0), // an ALB bounds requests by its idle timeout only
	}
	if len(weighted) == 1 {
		action.ClusterSpecifier = &route.RouteAction_Cluster{Cluster: weighted[0].Name}
	}
	rt.Action = &route.Route_Route{Route: action}
	return rt, nil
}

func regexHeader(name, re string) *route.HeaderMatcher {
	return &route.HeaderMatcher{Name: name, HeaderMatchSpecifier: &route.HeaderMatcher_StringMatch{StringMatch: &matcher.StringMatcher{
		MatchPattern: &matcher.StringMatcher_SafeRegex{SafeRegex: &matcher.RegexMatcher{Regex: re}},
	}}}
}

// wildcards turns ELBv2 patterns (* any characters, ? one) into an RE2
// alternation.
func wildcards(patterns []string) string {
	alts := make([]string, len(patterns))
	for i, p := range patterns {
		q := regexp.QuoteMeta(p)
		q = strings.ReplaceAll(q, `\*`, ".*")
		q = strings.ReplaceAll(q, `\?`, ".")
		alts[i] = q
	}
	return "(?:" + strings.Join(alts, "|") + ")"
}
