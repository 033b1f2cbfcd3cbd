package xds

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	clusterservice "github.com/envoyproxy/go-control-plane/envoy/service/cluster/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	endpointservice "github.com/envoyproxy/go-control-plane/envoy/service/endpoint/v3"
	listenerservice "github.com/envoyproxy/go-control-plane/envoy/service/listener/v3"
	routeservice "github.com/envoyproxy/go-control-plane/envoy/service/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cache "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/log"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	server "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/events"
)

// Options configure a Server.
type Options struct {
	// Bus receives the server's events (source "xds"); nil means none.
	Bus *events.Bus
	// Logger receives go-control-plane's log; nil discards it.
	Logger *slog.Logger
}

// Server is the control plane: it holds one snapshot per virtual node in a
// go-control-plane snapshot cache and serves it over ADS and the
// per-type discovery services. The cache runs with ads=false, so it answers
// requests that name a subset of a type's resources (as gRPC clients send
// them); see the research notes.
//
// Events: contract.EventXDSSnapshot when a node's configuration changes, contract.EventXDSPush
// when a response is sent, contract.EventXDSAck and contract.EventXDSNack when a proxy accepts
// or rejects one.
type Server struct {
	cache cache.SnapshotCache
	xds   server.Server
	bus   *events.Bus

	mu    sync.Mutex // serialises Update
	nodes map[string]*cache.Snapshot

	smu     sync.Mutex
	streams map[int64]*streamState
}

// streamState is what the server remembers about one xDS stream: per type
// URL, the last response sent.
type streamState struct {
	sent map[string]*sentResponse
}

type sentResponse struct {
	nonce, version string
	answered       bool
}

// NewServer returns a control plane with no configuration.
func NewServer(opts Options) *Server {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{
		cache:   cache.NewSnapshotCache(false, NodeHash{}, slogAdapter{logger}),
		bus:     opts.Bus,
		nodes:   make(map[string]*cache.Snapshot),
		streams: make(map[int64]*streamState),
	}
	s.xds = server.NewServer(context.Background(), s.cache, server.CallbackFuncs{
		StreamOpenFunc:     s.onStreamOpen,
		StreamClosedFunc:   s.onStreamClosed,
		StreamRequestFunc:  s.onStreamRequest,
		StreamResponseFunc: s.onStreamResponse,
	})
	return s
}

// Update builds the configuration of every virtual node in w and publishes
// it. Only nodes whose resources changed get a new snapshot (and only the
// changed types a new version); nodes no longer in w are removed. A node's
// snapshot is kept even if no proxy asked for it yet, so a proxy that
// connects later gets it at once.
func (s *Server) Update(ctx context.Context, w World) error {
	res, err := Build(w)
	if err != nil {
		return fmt.Errorf("build xds configuration: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.addProxyless(res); err != nil {
		return fmt.Errorf("build xds configuration: %w", err)
	}
	for node, r := range res {
		snap, err := r.Snapshot()
		if err != nil {
			return fmt.Errorf("snapshot for %s: %w", node, err)
		}
		if prev, ok := s.nodes[node]; ok && sameVersions(prev, snap) {
			continue
		}
		if err := s.cache.SetSnapshot(ctx, node, snap); err != nil {
			return fmt.Errorf("set snapshot for %s: %w", node, err)
		}
		s.nodes[node] = snap
		s.emit(contract.EventXDSSnapshot, node, map[string]string{
			"node":     node,
			"listener": snap.GetVersion(resource.ListenerType),
			"route":    snap.GetVersion(resource.RouteType),
			"cluster":  snap.GetVersion(resource.ClusterType),
			"endpoint": snap.GetVersion(resource.EndpointType),
		})
	}
	for node := range s.nodes {
		if _, ok := res[node]; !ok {
			s.cache.ClearSnapshot(node)
			delete(s.nodes, node)
			s.emit(contract.EventXDSSnapshotCleared, node, map[string]string{"node": node})
		}
	}
	return nil
}

func sameVersions(a, b *cache.Snapshot) bool {
	for t := range types.UnknownType {
		if a.Resources[t].Version != b.Resources[t].Version {
			return false
		}
	}
	return true
}

// Register registers the aggregated discovery service and the listener,
// route, cluster and endpoint discovery services on g.
func (s *Server) Register(g *grpc.Server) {
	discovery.RegisterAggregatedDiscoveryServiceServer(g, s.xds)
	listenerservice.RegisterListenerDiscoveryServiceServer(g, s.xds)
	routeservice.RegisterRouteDiscoveryServiceServer(g, s.xds)
	clusterservice.RegisterClusterDiscoveryServiceServer(g, s.xds)
	endpointservice.RegisterEndpointDiscoveryServiceServer(g, s.xds)
}

// Serve serves the discovery services on lis with its own gRPC server
// until ctx is done, then stops it (closing open streams) and returns nil.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	g := grpc.NewServer()
	s.Register(g)
	errc := make(chan error, 1)
	go func() { errc <- g.Serve(lis) }()
	select {
	case <-ctx.Done():
		g.Stop()
		<-errc
		return nil
	case err := <-errc:
		return fmt.Errorf("xds server: %w", err)
	}
}

func (s *Server) onStreamOpen(_ context.Context, id int64, _ string) error {
	s.smu.Lock()
	s.streams[id] = &streamState{sent: make(map[string]*sentResponse)}
	s.smu.Unlock()
	return nil
}

func (s *Server) onStreamClosed(id int64, _ *core.Node) {
	s.smu.Lock()
	delete(s.streams, id)
	s.smu.Unlock()
}

// onStreamRequest reports ACKs and NACKs. A NACK carries the version the
// proxy last accepted; the request is rewritten to carry the rejected
// version instead, so that the cache does not answer it with the same
// rejected configuration again but waits for the next change.
func (s *Server) onStreamRequest(id int64, req *discovery.DiscoveryRequest) error {
	s.serveProxyless(req.GetNode())
	if req.GetResponseNonce() == "" {
		return nil
	}
	s.smu.Lock()
	var last sentResponse
	found := false
	if st, ok := s.streams[id]; ok {
		if sr, ok := st.sent[req.GetTypeUrl()]; ok && sr.nonce == req.GetResponseNonce() && !sr.answered {
			sr.answered = true
			last, found = *sr, true
		}
	}
	s.smu.Unlock()
	if !found {
		return nil // a stale nonce, or a subscription change after an ACK
	}
	node := NodeHash{}.ID(req.GetNode())
	if d := req.GetErrorDetail(); d != nil {
		req.VersionInfo = last.version
		s.emit(contract.EventXDSNack, node, map[string]string{
			"node":    node,
			"version": last.version,
			"typeUrl": req.GetTypeUrl(),
			"error":   d.GetMessage(),
		})
		return nil
	}
	s.emit(contract.EventXDSAck, node, map[string]string{
		"node":    node,
		"version": req.GetVersionInfo(),
		"typeUrl": req.GetTypeUrl(),
	})
	return nil
}

func (s *Server) onStreamResponse(_ context.Context, id int64, req *discovery.DiscoveryRequest, resp *discovery.DiscoveryResponse) {
	s.smu.Lock()
	if st, ok := s.streams[id]; ok {
		st.sent[resp.GetTypeUrl()] = &sentResponse{nonce: resp.GetNonce(), version: resp.GetVersionInfo()}
	}
	s.smu.Unlock()
	node := NodeHash{}.ID(req.GetNode())
	s.emit(contract.EventXDSPush, node, map[string]string{
		"node":      node,
		"version":   resp.GetVersionInfo(),
		"typeUrl":   resp.GetTypeUrl(),
		"resources": fmt.Sprint(len(resp.GetResources())),
	})
}

func (s *Server) emit(typ contract.EventType, node string, detail map[string]string) {
	if s.bus == nil {
		return
	}
	s.bus.Emit(events.Event{Source: contract.SourceXDS, Type: typ, Resource: node, Detail: detail})
}

// slogAdapter lets go-control-plane log through slog.
type slogAdapter struct{ l *slog.Logger }

var _ log.Logger = slogAdapter{}

func (a slogAdapter) logf(level slog.Level, format string, args []any) {
	if a.l.Enabled(context.Background(), level) {
		a.l.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (a slogAdapter) Debugf(format string, args ...any) { a.logf(slog.LevelDebug, format, args) }
func (a slogAdapter) Infof(format string, args ...any)  { a.logf(slog.LevelInfo, format, args) }
func (a slogAdapter) Warnf(format string, args ...any)  { a.logf(slog.LevelWarn, format, args) }
func (a slogAdapter) Errorf(format string, args ...any) { a.logf(slog.LevelError, format, args) }
