// Package sidecarbench stands up what the sidecar's benchmarks measure,
// for `go test -bench` and `meshsim bench` alike: a control plane with
// sidecars on their own loopback addresses, a sidecar routing 50/50 to two
// HTTP backends, the propagation of a route change to many sidecars, and
// gRPC streams held open through a sidecar and directly (see StartGRPC).
package sidecarbench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/events"
	"github.com/meshsim/meshsim/sim/sidecar"
	"github.com/meshsim/meshsim/sim/xds"
)

// Mesh, Service and Host name the benchmark's world: clients reach
// Service's router (two weighted versions) through their sidecars, with
// Host as the request's Host header. The gRPC world's service is
// GRPCService, which its clients call with GRPCAuthority.
const (
	Mesh          = "bench"
	Service       = "movie.bench.local"
	Host          = Service + ":8080"
	GRPCService   = "echo.bench.local"
	GRPCAuthority = GRPCService + ":9090"
)

// World is a control plane and the sidecars connected to it.
type World struct {
	Bus      *events.Bus
	CP       *xds.Server
	Sidecars []*sidecar.Proxy
	world    xds.World
	stop     []func()
}

// Close stops the sidecars and the control plane.
func (w *World) Close() {
	for i := len(w.stop) - 1; i >= 0; i-- {
		w.stop[i]()
	}
}

// Start starts a control plane serving a world where clients client-0 …
// client-(n-1) call Service, split by weights w1:w2 between endpoints v1
// and v2, and one sidecar per client, each on its own loopback address.
func Start(ctx context.Context, n int, v1, v2 xds.Endpoint, w1, w2 uint32) (*World, error) {
	return start(ctx, world(n, httpService, v1, v2, w1, w2))
}

// start starts a control plane serving world and a sidecar for each of
// its client nodes.
func start(ctx context.Context, world xds.World) (*World, error) {
	n := clients(world)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	bus := events.NewBus(0)
	w := &World{Bus: bus, CP: xds.NewServer(xds.Options{Bus: bus}), world: world}
	cctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = w.CP.Serve(cctx, ln)
	}()
	w.stop = append(w.stop, func() { cancel(); <-done })
	if err := w.CP.Update(ctx, w.world); err != nil {
		w.Close()
		return nil, err
	}
	ips, err := loopbackIPs(n)
	if err != nil {
		w.Close()
		return nil, err
	}
	for i := range n {
		p, err := sidecar.Start(context.Background(), sidecar.Config{
			NodeID: contract.NodeID(Mesh, clientNode(i)), XDSAddress: ln.Addr().String(), BindIP: ips[i],
		})
		if err != nil {
			w.Close()
			return nil, err
		}
		w.stop = append(w.stop, func() { p.Close() })
		w.Sidecars = append(w.Sidecars, p)
	}
	for _, p := range w.Sidecars {
		select {
		case <-p.Ready():
		case <-ctx.Done():
			w.Close()
			return nil, fmt.Errorf("sidecars not ready: %w", ctx.Err())
		}
	}
	return w, nil
}

// service is the called service of a benchmark's world: its name (also
// the prefix of its nodes' and router's names), virtual service, port and
// protocol, and its route's path prefix.
type service struct {
	name, virtualService string
	port                 uint32
	protocol             xds.Protocol
	prefix               string
}

var (
	httpService = service{name: "movie", virtualService: Service, port: 8080, protocol: xds.HTTP, prefix: "/"}
	grpcService = service{name: "echo", virtualService: GRPCService, port: 9090, protocol: xds.GRPC}
)

// world is clients client-0 … client-(n-1) of svc, whose router splits
// it by weights w1:w2 between endpoints v1 and v2.
func world(n int, svc service, v1, v2 xds.Endpoint, w1, w2 uint32) xds.World {
	l := []xds.Listener{{Port: svc.port, Protocol: svc.protocol}}
	m := xds.Mesh{
		Name: Mesh,
		VirtualNodes: []xds.VirtualNode{
			{Name: svc.name + "-v1", Listeners: l, Endpoints: []xds.Endpoint{v1}},
			{Name: svc.name + "-v2", Listeners: l, Endpoints: []xds.Endpoint{v2}},
		},
		VirtualServices: []xds.VirtualService{{Name: svc.virtualService, ProviderRouter: svc.name + "-router"}},
		VirtualRouters: []xds.VirtualRouter{{
			Name: svc.name + "-router", Listeners: l,
			Routes: []xds.Route{{
				Name: svc.name, Protocol: svc.protocol, Prefix: svc.prefix,
				Targets: []xds.WeightedTarget{{VirtualNode: svc.name + "-v1", Weight: w1}, {VirtualNode: svc.name + "-v2", Weight: w2}},
			}},
		}},
	}
	client := []xds.Listener{{Port: 8080, Protocol: xds.HTTP}}
	for i := range n {
		m.VirtualNodes = append(m.VirtualNodes, xds.VirtualNode{Name: clientNode(i), Listeners: client, Backends: []string{svc.virtualService}})
	}
	return xds.World{Meshes: []xds.Mesh{m}}
}

// clientNode names the i-th client's virtual node.
func clientNode(i int) string { return "client-" + strconv.Itoa(i) }

// clients counts the client nodes of a world made by world.
func clients(w xds.World) int { return len(w.Meshes[0].VirtualNodes) - 2 }

// loopbackIPs returns n loopback addresses on which the sidecar's fixed
// ports are free, one per sidecar as each task has its own address.
func loopbackIPs(n int) ([]string, error) {
	var ips []string
	for i := 1; len(ips) < n && i < 4*n+16; i++ {
		ip := fmt.Sprintf("127.9.%d.%d", i/250, 1+i%250)
		free := true
		for _, port := range []int{contract.IngressPort, contract.EgressPort, contract.AdminPort} {
			ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
			if err != nil {
				free = false
				break
			}
			ln.Close()
		}
		if free {
			ips = append(ips, ip)
		}
	}
	if len(ips) < n {
		return nil, fmt.Errorf("only %d loopback addresses with the sidecar ports free, want %d", len(ips), n)
	}
	return ips, nil
}

// Change is one route change's propagation.
type Change struct {
	Took time.Duration // from Update to the last sidecar's ACK
	CPU  time.Duration // the process's CPU time meanwhile
}

// ChangeRoute sets the router's weights to w1:w2 and waits until every
// sidecar has ACKed the route configuration that results.
func (w *World) ChangeRoute(ctx context.Context, w1, w2 uint32) (Change, error) {
	targets := w.world.Meshes[0].VirtualRouters[0].Routes[0].Targets
	targets[0].Weight, targets[1].Weight = w1, w2
	want, err := routeVersions(w.world, len(w.Sidecars))
	if err != nil {
		return Change{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	sub := w.Bus.Subscribe(ctx, 0)
	cpu0, start := ProcessCPU(), time.Now()
	if err := w.CP.Update(ctx, w.world); err != nil {
		return Change{}, err
	}
	for len(want) > 0 {
		select {
		case e := <-sub:
			if e.Type == contract.EventXDSAck && e.Detail[contract.DetailTypeURL] == resource.RouteType &&
				want[e.Resource] == e.Detail[contract.DetailVersion] {
				delete(want, e.Resource)
			}
		case <-ctx.Done():
			return Change{}, fmt.Errorf("%d sidecars did not ACK the route change: %w", len(want), ctx.Err())
		}
	}
	return Change{Took: time.Since(start), CPU: ProcessCPU() - cpu0}, nil
}

// routeVersions returns the route configuration version each client node
// gets from w.
func routeVersions(w xds.World, n int) (map[string]string, error) {
	res, err := xds.Build(w)
	if err != nil {
		return nil, err
	}
	want := make(map[string]string, n)
	for i := range n {
		node := contract.NodeID(Mesh, clientNode(i))
		r, ok := res[node]
		if !ok {
			return nil, errors.New("no resources for " + node)
		}
		snap, err := r.Snapshot()
		if err != nil {
			return nil, err
		}
		want[node] = snap.GetVersion(resource.RouteType)
	}
	return want, nil
}

// Quantile returns the q quantile (0..1) of ds, which it sorts.
func Quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[int(q*float64(len(ds)-1)+0.5)]
}

// ProcessCPU returns the CPU time (user and system) the process has used.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
