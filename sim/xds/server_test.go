package xds

import (
	"context"
	"net"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/events"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

// startServer serves s on a loopback port until the test ends.
func startServer(t *testing.T, s *Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return lis.Addr().String()
}

// adsStream is a raw ADS client stream for one node.
type adsStream struct {
	t    *testing.T
	st   discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	node *core.Node
}

func dialADS(t *testing.T, addr, nodeID string) *adsStream {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); conn.Close() })
	st, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &adsStream{t: t, st: st, node: &core.Node{Id: nodeID}}
}

func (a *adsStream) send(typ, version, nonce string, names []string, nack string) {
	a.t.Helper()
	req := &discovery.DiscoveryRequest{Node: a.node, TypeUrl: typ, VersionInfo: version, ResponseNonce: nonce, ResourceNames: names}
	if nack != "" {
		req.ErrorDetail = &status.Status{Code: 3, Message: nack}
	}
	if err := a.st.Send(req); err != nil {
		a.t.Fatal(err)
	}
}

func (a *adsStream) recv() *discovery.DiscoveryResponse {
	a.t.Helper()
	type result struct {
		r   *discovery.DiscoveryResponse
		err error
	}
	ch := make(chan result, 1)
	go func() {
		r, err := a.st.Recv()
		ch <- result{r, err}
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			a.t.Fatal(res.err)
		}
		return res.r
	case <-time.After(polltest.Limit):
		a.t.Fatalf("no ADS response within %v", polltest.Limit)
		return nil
	}
}

// waitEvent returns the first event of type typ on sub that satisfies ok.
func waitEvent(t *testing.T, sub <-chan events.Event, typ contract.EventType, ok func(events.Event) bool) events.Event {
	t.Helper()
	deadline := time.After(polltest.Limit)
	for {
		select {
		case e := <-sub:
			if (typ == "" || e.Type == typ) && (ok == nil || ok(e)) {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event within %v", typ, polltest.Limit)
			return events.Event{}
		}
	}
}

func TestServerLateNodeGetsConfigByARN(t *testing.T) {
	bus := events.NewBus(0)
	s := NewServer(Options{Bus: bus})
	if err := s.Update(context.Background(), bookingWorld()); err != nil {
		t.Fatal(err)
	}
	addr := startServer(t, s)

	// The proxy connects after the snapshot was set, naming itself by ARN.
	a := dialADS(t, addr, "arn:aws:appmesh:us-east-1:000000000000:mesh/bookingapp/virtualNode/home")
	a.send(resource.ListenerType, "", "", nil, "")
	r := a.recv()
	if r.GetTypeUrl() != resource.ListenerType || len(r.GetResources()) != 2 {
		t.Fatalf("got %s with %d resources, want 2 listeners", r.GetTypeUrl(), len(r.GetResources()))
	}
	e := waitEvent(t, bus.Subscribe(context.Background(), 0), contract.EventXDSPush, nil)
	if e.Resource != "mesh/bookingapp/virtualNode/home" || e.Detail[contract.DetailVersion] != r.GetVersionInfo() || e.Detail[contract.DetailTypeURL] != resource.ListenerType {
		t.Errorf("push event = %+v", e)
	}

	// Only the named resources come back for a by-name request (ads=false).
	a.send(resource.EndpointType, "", "", []string{ClusterName("bookingapp", "movie-v2")}, "")
	r = a.recv()
	if r.GetTypeUrl() != resource.EndpointType || len(r.GetResources()) != 1 {
		t.Fatalf("got %s with %d resources, want 1 endpoint", r.GetTypeUrl(), len(r.GetResources()))
	}
}

func TestServerAckNackAndNoRepushOfRejectedVersion(t *testing.T) {
	bus := events.NewBus(0)
	sub := bus.Subscribe(context.Background(), 0)
	s := NewServer(Options{Bus: bus})
	w := bookingWorld()
	if err := s.Update(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	addr := startServer(t, s)
	home := contract.NodeID("bookingapp", "home")
	a := dialADS(t, addr, home)

	a.send(resource.RouteType, "", "", []string{EgressRouteName}, "")
	r1 := a.recv()
	a.send(resource.RouteType, r1.GetVersionInfo(), r1.GetNonce(), []string{EgressRouteName}, "")
	ack := waitEvent(t, sub, contract.EventXDSAck, nil)
	if ack.Resource != home || ack.Detail[contract.DetailVersion] != r1.GetVersionInfo() || ack.Detail[contract.DetailTypeURL] != resource.RouteType {
		t.Errorf("ack event = %+v", ack)
	}

	// A new version is pushed; the proxy rejects it.
	w.Meshes[0].VirtualRouters[0].Routes[0].Targets[0].Weight = 50
	if err := s.Update(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	r2 := a.recv()
	if r2.GetVersionInfo() == r1.GetVersionInfo() {
		t.Fatal("weight change did not change the route version")
	}
	a.send(resource.RouteType, r1.GetVersionInfo(), r2.GetNonce(), []string{EgressRouteName}, "cannot apply")
	nack := waitEvent(t, sub, contract.EventXDSNack, nil)
	if nack.Detail[contract.DetailVersion] != r2.GetVersionInfo() || nack.Detail[contract.DetailError] != "cannot apply" {
		t.Errorf("nack event = %+v", nack)
	}

	// The server must not answer the NACK with the rejected version again;
	// the next response is the next change.
	w.Meshes[0].VirtualRouters[0].Routes[0].Targets[0].Weight = 60
	if err := s.Update(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	r3 := a.recv()
	if r3.GetVersionInfo() == r2.GetVersionInfo() || r3.GetVersionInfo() == r1.GetVersionInfo() {
		t.Fatalf("after NACK got version %s again, want the next change", r3.GetVersionInfo())
	}
}

func TestServerUpdatePushesOnlyChangedNodes(t *testing.T) {
	bus := events.NewBus(0)
	sub := bus.Subscribe(context.Background(), 0)
	s := NewServer(Options{Bus: bus})
	ctx := context.Background()
	update := func(w World) []string {
		t.Helper()
		if err := s.Update(ctx, w); err != nil {
			t.Fatal(err)
		}
		return snapshotNodes(t, bus, sub)
	}
	w := bookingWorld()
	if got := update(w); len(got) != 5 {
		t.Fatalf("first Update set snapshots for %v, want 5 nodes", got)
	}
	if got := update(w); len(got) != 0 {
		t.Fatalf("an unchanged world set snapshots for %v", got)
	}
	// Only home's routes mention the movie router.
	w.Meshes[0].VirtualRouters[0].Routes[0].Targets[0].Weight = 10
	if got := update(w); len(got) != 1 || got[0] != contract.NodeID("bookingapp", "home") {
		t.Fatalf("weight change set snapshots for %v, want home only", got)
	}
	// A node that disappears is cleared.
	w.Meshes[0].VirtualNodes = w.Meshes[0].VirtualNodes[:4] // drop ticket-v1
	update(w)
	if _, err := s.cache.GetSnapshot(contract.NodeID("bookingapp", "ticket-v1")); err == nil {
		t.Error("snapshot of removed node ticket-v1 still set")
	}
}

// snapshotNodes returns the nodes of the xds.snapshot events on sub up to
// a marker emitted now.
func snapshotNodes(t *testing.T, bus *events.Bus, sub <-chan events.Event) []string {
	t.Helper()
	bus.Emit(events.Event{Source: "test", Type: "test.marker"})
	var out []string
	for {
		e := waitEvent(t, sub, "", func(events.Event) bool { return true })
		switch e.Type {
		case "test.marker":
			return out
		case contract.EventXDSSnapshot:
			out = append(out, e.Resource)
		}
	}
}
