package sidecar

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/meshsim/meshsim/sim/contract"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/anypb"
)

// Reconnect back-off of the ADS stream.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// typeState is the client's state of one resource type: the last
// version it accepted, the last nonce it received on the current stream
// and, for RDS and EDS, the names it subscribes to.
type typeState struct {
	url       string
	version   string
	nonce     string
	names     []string
	accepted  bool
	requested bool // a request was sent on the current stream
}

// adsClient is a State-of-the-World ADS client. One goroutine runs it;
// only that goroutine touches its fields.
type adsClient struct {
	p    *Proxy
	conn *grpc.ClientConn
	node *core.Node

	lds, rds, cds, eds *typeState

	listeners map[string]*listenerSpec
	routes    map[string]*routeTable
	clusters  map[string]*clusterSpec
	endpoints map[string][]string // by EDS service name
	ready     bool
}

func newADSClient(p *Proxy, conn *grpc.ClientConn) *adsClient {
	return &adsClient{
		p:    p,
		conn: conn,
		node: &core.Node{
			Id:            p.cfg.NodeID,
			UserAgentName: "meshsim-sidecar",
		},
		lds:       &typeState{url: resource.ListenerType},
		rds:       &typeState{url: resource.RouteType},
		cds:       &typeState{url: resource.ClusterType},
		eds:       &typeState{url: resource.EndpointType},
		listeners: make(map[string]*listenerSpec),
		routes:    make(map[string]*routeTable),
		clusters:  make(map[string]*clusterSpec),
		endpoints: make(map[string][]string),
	}
}

// run keeps an ADS stream open until ctx is done, reconnecting with
// jittered exponential back-off.
func (c *adsClient) run(ctx context.Context) {
	backoff := minBackoff
	for {
		progressed, err := c.stream(ctx)
		if ctx.Err() != nil {
			return
		}
		if progressed {
			backoff = minBackoff
		}
		c.p.emit(contract.EventSidecarDisconnected, map[string]string{"error": err.Error()})
		t := time.NewTimer(backoff/2 + rand.N(backoff/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// stream runs one ADS stream until it fails. progressed reports whether
// it delivered any response.
func (c *adsClient) stream(ctx context.Context) (progressed bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := discovery.NewAggregatedDiscoveryServiceClient(c.conn).StreamAggregatedResources(ctx)
	if err != nil {
		return false, fmt.Errorf("open ADS stream: %w", err)
	}
	for _, ts := range []*typeState{c.lds, c.rds, c.cds, c.eds} {
		ts.nonce, ts.requested = "", false
	}
	for _, ts := range []*typeState{c.lds, c.cds, c.rds, c.eds} {
		if (ts == c.rds || ts == c.eds) && len(ts.names) == 0 {
			continue
		}
		if err := c.send(st, ts, nil); err != nil {
			return false, err
		}
	}
	for {
		resp, err := st.Recv()
		if err != nil {
			return progressed, fmt.Errorf("ADS stream: %w", err)
		}
		progressed = true
		if err := c.handle(st, resp); err != nil {
			return progressed, err
		}
	}
}

type adsStream = discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient

// send sends a request for ts: an ACK of ts.version, or a NACK when
// rejected is not nil.
func (c *adsClient) send(st adsStream, ts *typeState, rejected error) error {
	req := &discovery.DiscoveryRequest{
		VersionInfo:   ts.version,
		Node:          c.node,
		ResourceNames: ts.names,
		TypeUrl:       ts.url,
		ResponseNonce: ts.nonce,
	}
	if rejected != nil {
		req.ErrorDetail = &status.Status{Code: int32(codes.InvalidArgument), Message: rejected.Error()}
	}
	ts.requested = true
	if err := st.Send(req); err != nil {
		return fmt.Errorf("ADS send %s: %w", ts.url, err)
	}
	return nil
}

// handle applies one response and answers it with an ACK, or with a NACK
// that keeps the last good configuration.
func (c *adsClient) handle(st adsStream, resp *discovery.DiscoveryResponse) error {
	var ts *typeState
	var apply func([]*anypb.Any) error
	switch resp.GetTypeUrl() {
	case resource.ListenerType:
		ts, apply = c.lds, c.applyListeners
	case resource.RouteType:
		ts, apply = c.rds, c.applyRoutes
	case resource.ClusterType:
		ts, apply = c.cds, c.applyClusters
	case resource.EndpointType:
		ts, apply = c.eds, c.applyEndpoints
	default:
		return nil // never subscribed to
	}
	ts.nonce = resp.GetNonce()
	if err := apply(resp.GetResources()); err != nil {
		c.p.emit(contract.EventSidecarXDSNack, map[string]string{
			"typeUrl": ts.url, "version": resp.GetVersionInfo(), "error": err.Error(),
		})
		return c.send(st, ts, err)
	}
	ts.version, ts.accepted = resp.GetVersionInfo(), true
	c.p.emit(contract.EventSidecarXDSApplied, map[string]string{"typeUrl": ts.url, "version": ts.version})
	if err := c.send(st, ts, nil); err != nil {
		return err
	}
	if err := c.resubscribe(st); err != nil {
		return err
	}
	if !c.ready && c.complete() {
		c.ready = true
		close(c.p.ready)
		c.p.emit(contract.EventSidecarReady, nil)
	}
	return nil
}

// resubscribe updates the RDS and EDS subscriptions to the route
// configurations the listeners use and the EDS clusters.
func (c *adsClient) resubscribe(st adsStream) error {
	var routes []string
	for _, l := range c.listeners {
		if l.inline == nil && !slices.Contains(routes, l.routeName) {
			routes = append(routes, l.routeName)
		}
	}
	slices.Sort(routes)
	var eds []string
	for _, cl := range c.clusters {
		if cl.edsName != "" && !slices.Contains(eds, cl.edsName) {
			eds = append(eds, cl.edsName)
		}
	}
	slices.Sort(eds)

	for _, u := range []struct {
		ts   *typeState
		want []string
		drop func(string)
	}{
		{c.rds, routes, func(n string) { delete(c.routes, n) }},
		{c.eds, eds, func(n string) { delete(c.endpoints, n) }},
	} {
		if slices.Equal(u.want, u.ts.names) {
			continue
		}
		for _, n := range u.ts.names {
			if !slices.Contains(u.want, n) {
				u.drop(n)
			}
		}
		u.ts.names = u.want
		if len(u.want) == 0 && !u.ts.requested {
			continue
		}
		if err := c.send(st, u.ts, nil); err != nil {
			return err
		}
	}
	return nil
}

// complete reports whether every type has arrived and every listener's
// routes and every cluster's endpoints are known.
func (c *adsClient) complete() bool {
	if !c.lds.accepted || !c.cds.accepted {
		return false
	}
	for _, l := range c.listeners {
		if _, ok := c.routes[l.routeName]; l.inline == nil && !ok {
			return false
		}
	}
	for _, cl := range c.clusters {
		if _, ok := c.endpoints[cl.edsName]; cl.edsName != "" && !ok {
			return false
		}
	}
	return true
}

func (c *adsClient) applyListeners(res []*anypb.Any) error {
	specs := make(map[string]*listenerSpec)
	for _, a := range res {
		var l listener.Listener
		if err := unmarshalTyped(a, &l); err != nil {
			return err
		}
		s, err := parseListener(&l, c.p.bindIP)
		if err != nil {
			return fmt.Errorf("listener %q: %w", l.GetName(), err)
		}
		if s == nil {
			continue
		}
		if _, dup := specs[s.name]; dup {
			return fmt.Errorf("listener %q listed twice", s.name)
		}
		specs[s.name] = s
	}
	plan, err := c.p.planListeners(specs)
	if err != nil {
		return err
	}
	c.listeners = specs
	c.publish()
	c.p.commitListeners(plan)
	return nil
}

func (c *adsClient) applyRoutes(res []*anypb.Any) error {
	next := maps.Clone(c.routes)
	for _, a := range res {
		var rc route.RouteConfiguration
		if err := unmarshalTyped(a, &rc); err != nil {
			return err
		}
		if !slices.Contains(c.rds.names, rc.GetName()) {
			continue
		}
		t, err := compileRouteConfig(&rc)
		if err != nil {
			return fmt.Errorf("route configuration %q: %w", rc.GetName(), err)
		}
		next[rc.GetName()] = t
	}
	c.routes = next
	c.publish()
	return nil
}

func (c *adsClient) applyClusters(res []*anypb.Any) error {
	specs := make(map[string]*clusterSpec)
	for _, a := range res {
		var cl cluster.Cluster
		if err := unmarshalTyped(a, &cl); err != nil {
			return err
		}
		s, err := parseCluster(&cl, c.p.bindIP)
		if err != nil {
			return fmt.Errorf("cluster %q: %w", cl.GetName(), err)
		}
		if _, dup := specs[s.name]; dup {
			return fmt.Errorf("cluster %q listed twice", s.name)
		}
		specs[s.name] = s
	}
	c.clusters = specs
	c.publish()
	return nil
}

func (c *adsClient) applyEndpoints(res []*anypb.Any) error {
	next := maps.Clone(c.endpoints)
	for _, a := range res {
		var cla endpoint.ClusterLoadAssignment
		if err := unmarshalTyped(a, &cla); err != nil {
			return err
		}
		if !slices.Contains(c.eds.names, cla.GetClusterName()) {
			continue
		}
		addrs, err := parseLoadAssignment(&cla)
		if err != nil {
			return fmt.Errorf("cluster load assignment %q: %w", cla.GetClusterName(), err)
		}
		next[cla.GetClusterName()] = addrs
	}
	c.endpoints = next
	c.publish()
	return nil
}

// publish swaps in a routing snapshot built from the accepted resources.
func (c *adsClient) publish() {
	snap := &snapshot{
		listeners: make(map[string]*listenerState, len(c.listeners)),
		clusters:  make(map[string]*upstream, len(c.clusters)),
	}
	for name, l := range c.listeners {
		rt := l.inline
		if rt == nil {
			rt = c.routes[l.routeName]
		}
		snap.listeners[name] = &listenerState{routes: rt, streamIdle: l.streamIdle, maxStreamDuration: l.maxStreamDuration, outbound: l.outbound}
	}
	for name, cs := range c.clusters {
		addrs := cs.static
		if cs.edsName != "" {
			addrs = c.endpoints[cs.edsName]
		}
		up := &upstream{
			name:           name,
			addrs:          addrs,
			random:         cs.random,
			transport:      c.p.transport(transportKey{h2: cs.h2, connectTimeout: cs.connectTimeout}),
			h2:             cs.h2,
			connectTimeout: cs.connectTimeout,
		}
		snap.clusters[name] = up
	}
	c.p.state.Store(snap)
}
