package xds

import (
	"context"
	"fmt"
	"strings"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	router "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cache "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/meshsim/meshsim/sim/contract"
)

// Proxyless gRPC clients (grpc-go's xds:/// resolver) take the same
// configuration as a virtual node's proxy, in another shape: a client that
// dials xds:///NAME asks for the Listener named NAME and needs it to be an
// API listener (it has no socket), then follows its routes to clusters and
// endpoints. It asks for every resource by name, and rejects clusters that
// are not EDS (the ingress cluster is static).
//
// A client of virtual node VN presents App Mesh's node id
// "mesh/<mesh>/virtualNode/VN", as the node's Envoy does. NodeHash tells
// the two apart by the node's user agent (grpc-go sends "gRPC Go") and
// keys the client's snapshot as ProxylessKey(node id). The server sets
// that snapshot to ProxylessResources of the node's configuration when a
// client first asks, and keeps it current from then on; proxies never see
// API listeners, clients never see socket listeners, and a world without
// proxyless clients has no proxyless snapshots.

// proxylessUserAgentPrefix starts the user agent name of the gRPC
// libraries' xDS clients: "gRPC Go", "gRPC Java", "gRPC C-core".
const proxylessUserAgentPrefix = "gRPC "

// proxylessKeySuffix marks the snapshot key of a node's proxyless
// clients.
const proxylessKeySuffix = "#proxyless"

// IsProxyless reports whether node is a proxyless gRPC client rather than
// a proxy.
func IsProxyless(node *core.Node) bool {
	return strings.HasPrefix(node.GetUserAgentName(), proxylessUserAgentPrefix)
}

// ProxylessKey is the snapshot key under which the proxyless gRPC clients
// of the virtual node with the given (normalised) node id find their
// configuration.
func ProxylessKey(nodeID string) string { return nodeID + proxylessKeySuffix }

// serveProxyless makes sure that a proxyless client's node has its
// snapshot before the cache answers the client's request. It is called
// with every request's node; for a node seen before it does nothing. A
// client whose virtual node does not exist (yet) gets an empty
// configuration until it does.
func (s *Server) serveProxyless(node *core.Node) {
	if !IsProxyless(node) {
		return
	}
	id := NormalizeNodeID(node.GetId())
	key := ProxylessKey(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.nodes[key]; ok {
		return
	}
	var base NodeResources
	if snap, ok := s.nodes[id]; ok {
		base = resourcesOf(snap)
	}
	if err := s.setProxyless(key, base); err != nil {
		s.emit(contract.EventXDSError, key, map[string]string{"node": key, "error": err.Error()})
	}
}

// setProxyless sets the snapshot of key, a ProxylessKey, to the proxyless
// configuration of base. Callers hold s.mu.
func (s *Server) setProxyless(key string, base NodeResources) error {
	p, err := ProxylessResources(base)
	if err != nil {
		return fmt.Errorf("proxyless configuration of %s: %w", key, err)
	}
	snap, err := p.Snapshot()
	if err != nil {
		return fmt.Errorf("snapshot for %s: %w", key, err)
	}
	if err := s.cache.SetSnapshot(context.Background(), key, snap); err != nil {
		return fmt.Errorf("set snapshot for %s: %w", key, err)
	}
	s.nodes[key] = snap
	s.emit(contract.EventXDSSnapshot, key, map[string]string{
		"node":     key,
		"listener": snap.GetVersion(resource.ListenerType),
		"route":    snap.GetVersion(resource.RouteType),
		"cluster":  snap.GetVersion(resource.ClusterType),
		"endpoint": snap.GetVersion(resource.EndpointType),
	})
	return nil
}

// addProxyless adds to res, built by Build, the configuration of every
// node's proxyless clients that have asked for theirs (they have a
// snapshot), so that Update keeps it current. The configuration of a node
// no longer in res is empty. Callers hold s.mu.
func (s *Server) addProxyless(res map[string]NodeResources) error {
	for key := range s.nodes {
		id, ok := strings.CutSuffix(key, proxylessKeySuffix)
		if !ok {
			continue
		}
		p, err := ProxylessResources(res[id])
		if err != nil {
			return fmt.Errorf("proxyless configuration of %s: %w", id, err)
		}
		res[key] = p
	}
	return nil
}

// resourcesOf returns the resources of snap.
func resourcesOf(snap *cache.Snapshot) NodeResources {
	var r NodeResources
	for _, it := range snap.Resources[types.Listener].Items {
		if l, ok := it.Resource.(*listener.Listener); ok {
			r.Listeners = append(r.Listeners, l)
		}
	}
	for _, it := range snap.Resources[types.Route].Items {
		if rc, ok := it.Resource.(*route.RouteConfiguration); ok {
			r.Routes = append(r.Routes, rc)
		}
	}
	for _, it := range snap.Resources[types.Cluster].Items {
		if c, ok := it.Resource.(*cluster.Cluster); ok {
			r.Clusters = append(r.Clusters, c)
		}
	}
	for _, it := range snap.Resources[types.Endpoint].Items {
		if e, ok := it.Resource.(*endpoint.ClusterLoadAssignment); ok {
			r.Endpoints = append(r.Endpoints, e)
		}
	}
	return r
}

// ProxylessResources returns the configuration that proxyless gRPC clients
// of a virtual node need, built from the node's proxy configuration r: one
// API listener for each domain of the egress route configuration's virtual
// hosts (a virtual service's name, and name:port for each of its ports),
// whose HTTP connection manager takes that route configuration over ADS,
// plus the route configuration itself and the EDS clusters and endpoints it
// sends to. A client dialing xds:///NAME therefore gets the routes, weights
// and endpoints the node's proxy uses for NAME.
func ProxylessResources(r NodeResources) (NodeResources, error) {
	var out NodeResources
	var egress *route.RouteConfiguration
	for _, rc := range r.Routes {
		if rc.GetName() == EgressRouteName {
			egress = rc
		}
	}
	if egress == nil {
		return out, nil
	}
	out.Routes = []*route.RouteConfiguration{egress}
	seen := make(map[string]bool)
	for _, vh := range egress.GetVirtualHosts() {
		for _, d := range vh.GetDomains() {
			if seen[d] || d == "*" {
				continue
			}
			seen[d] = true
			l, err := apiListener(d, EgressRouteName)
			if err != nil {
				return out, err
			}
			out.Listeners = append(out.Listeners, l)
		}
	}
	eds := make(map[string]bool)
	for _, c := range r.Clusters {
		if c.GetType() == cluster.Cluster_EDS {
			out.Clusters = append(out.Clusters, c)
			eds[c.GetName()] = true
		}
	}
	for _, e := range r.Endpoints {
		if eds[e.GetClusterName()] {
			out.Endpoints = append(out.Endpoints, e)
		}
	}
	return out, out.Validate()
}

// apiListener returns the API listener name, whose HTTP connection manager
// takes the route configuration routeName over ADS.
func apiListener(name, routeName string) (*listener.Listener, error) {
	routerAny, err := marshalAny(&router.Router{})
	if err != nil {
		return nil, err
	}
	mgr := &hcm.HttpConnectionManager{
		StatPrefix: "proxyless",
		RouteSpecifier: &hcm.HttpConnectionManager_Rds{Rds: &hcm.Rds{
			ConfigSource:    adsSource,
			RouteConfigName: routeName,
		}},
		HttpFilters: []*hcm.HttpFilter{{
			Name:       routerFilterName,
			ConfigType: &hcm.HttpFilter_TypedConfig{TypedConfig: routerAny},
		}},
	}
	mgrAny, err := marshalAny(mgr)
	if err != nil {
		return nil, err
	}
	return &listener.Listener{
		Name:        name,
		ApiListener: &listener.ApiListener{ApiListener: mgrAny},
	}, nil
}
