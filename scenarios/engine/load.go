package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/meshsim/meshsim/loadgen"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/grpcapp/echopb"
	"github.com/meshsim/meshsim/sim/poll"
)

// loadPlan is the load a run drives through its ingress: HTTP requests, or
// gRPC unary calls and long-lived streams.
type loadPlan struct {
	sc     *scenarios.Scenario
	meters *meters
	// HTTP
	target, host string
	// targets, in a migration: App Mesh's ingress, then Service Connect's.
	targets []loadgen.HTTPTarget
	// gRPC
	grpc bool
	gt   loadgen.GRPCTarget
	// call is the user's gRPC method (load.grpcMethod), resolved once the
	// data plane answers; nil for the sample's Echo.
	call *loadgen.GRPCCall
	// tasks attributes the requests to versions by the endpoint the
	// ingress forwarded to, when the measured service is the user's.
	tasks *taskBook
	// clients, with routing route53, is the population the HTTP load
	// comes from, resolving target's name through the world's name server.
	clients *loadgen.Clients
}

// planDNSLoad plans routing route53's load: HTTP requests to the record's
// name at the rolled service's port, from a population of clients that
// resolve it through dnsServer.
func planDNSLoad(sc *scenarios.Scenario, m *meters, wld *world, dnsServer string) *loadPlan {
	svc, _ := sc.Service(sc.Rollout.Service)
	target := fmt.Sprintf("http://%s:%d%s", wld.recordName(), svc.Port, sc.Load.Path)
	return &loadPlan{sc: sc, meters: m, target: target, clients: dnsClients(sc, dnsServer)}
}

// planLoad plans the scenario's load once the ingress task runs at ip
// (and, in a migration, the Service Connect twin's ingress at twinIP); the
// generators report their sends to m.
func planLoad(sc *scenarios.Scenario, opts Options, m *meters, wld *world, ip, twinIP string) *loadPlan {
	in, _ := sc.Service(sc.Ingress.Service)
	if wld.migration() {
		// Load is split between the two stacks' ingresses by the step's
		// weights, as a load balancer's weighted target groups split it.
		p := &loadPlan{sc: sc, meters: m}
		for _, t := range []struct {
			ip string
			sc bool
		}{{ip, false}, {twinIP, true}} {
			target, host := wld.ingressTarget(t.ip, t.sc)
			p.targets = append(p.targets, loadgen.HTTPTarget{URL: target, Host: host})
		}
		return p
	}
	if in.Protocol != scenarios.ProtocolGRPC || wld.serviceConnect() {
		// With Service Connect the ingress is an HTTP front service, even
		// in front of a gRPC service (the echo tutorial's client).
		target, host := wld.ingressTarget(ip, wld.serviceConnect())
		return &loadPlan{sc: sc, meters: m, target: target, host: host, tasks: wld.tasks}
	}
	authority := fmt.Sprintf("%s:%d", wld.virtualServiceName(in.Name), in.Port)
	p := &loadPlan{sc: sc, meters: m, grpc: true, gt: loadgen.GRPCTarget{Address: fmt.Sprintf("%s:%d", ip, egressPort), Authority: authority}}
	if sc.Load.Client == "proxyless" {
		p.gt = loadgen.GRPCTarget{
			Address: "xds:///" + authority,
			XDS:     &loadgen.XDSClient{Server: opts.XDSAddress, NodeID: contract.NodeID(sc.Mesh, sc.Ingress.Name), NewResolver: opts.XDSResolver},
		}
	}
	return p
}

func (p *loadPlan) describe() string {
	if len(p.targets) > 0 {
		return fmt.Sprintf("%s (Host %s) and %s", p.targets[0].URL, p.targets[0].Host, p.targets[1].URL)
	}
	if p.grpc {
		return "gRPC " + p.gt.String()
	}
	if p.host != "" {
		return p.target + " (Host " + p.host + ")"
	}
	if p.clients != nil {
		return fmt.Sprintf("%s (%d clients resolving through %s)", p.target, p.clients.Count, p.clients.DNSServer)
	}
	return p.target
}

// ready waits until the data plane answers through the ingress.
func (p *loadPlan) ready(ctx context.Context) error {
	if p.grpc {
		return p.readyGRPC(ctx)
	}
	for _, t := range p.targets {
		if err := waitDataPlane(ctx, &http.Client{Timeout: time.Second}, t.URL, t.Host, p.sc.Load.Measure); err != nil {
			return err
		}
	}
	if len(p.targets) > 0 {
		return nil
	}
	measure := p.sc.Load.Measure
	if attributed(p.sc) {
		measure = ""
	}
	client := &http.Client{Timeout: time.Second}
	if p.clients != nil {
		// Resolve as the load will, without caching the first answer.
		one := loadgen.Clients{Count: 1, DNSServer: p.clients.DNSServer, Cache: loadgen.CacheNone, NoKeepAlive: true}
		rt, closeIdle, err := one.Transport()
		if err != nil {
			return err
		}
		defer closeIdle()
		client.Transport = rt
	}
	return waitDataPlane(ctx, client, p.target, p.host, measure)
}

func (p *loadPlan) readyGRPC(ctx context.Context) error {
	if p.gt.XDS != nil && p.gt.XDS.Server == "" {
		return errors.New("load.client proxyless needs the control plane's address (engine Options.XDSAddress)")
	}
	conn, err := p.gt.Dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	client := echopb.NewEchoClient(conn)
	var protoset []byte
	if p.sc.Load.Protoset != "" {
		if protoset, err = os.ReadFile(p.sc.Load.Protoset); err != nil {
			return fmt.Errorf("load.protoset: %w", err)
		}
	}
	var last error
	err = poll.Until(ctx, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if m := p.sc.Load.GRPCMethod; m != "" {
			// The user's method, described by the server's reflection
			// service (through the data plane) or the protoset.
			if p.call == nil {
				p.call, last = loadgen.NewGRPCCall(cctx, conn, m, p.sc.Load.GRPCRequest, protoset)
				if last != nil {
					return false, nil
				}
			}
			last = conn.Invoke(cctx, "/"+strings.TrimPrefix(m, "/"), p.call.Request(), p.call.NewResponse())
			return last == nil, nil
		}
		_, last = client.Echo(cctx, &echopb.EchoRequest{Name: "meshsim"})
		return last == nil, nil
	})
	if err != nil {
		return fmt.Errorf("the data plane did not answer gRPC through %s; last: %v", p.gt, last)
	}
	return nil
}

// run drives the load until ctx is done: step names the step in force,
// pick (in a migration) the stack a request goes to.
func (p *loadPlan) run(ctx context.Context, step, pick func() int, sink loadgen.Sink) (loadgen.Summary, error) {
	sc := p.sc
	if !p.grpc {
		cfg := loadgen.HTTPConfig{
			Target: p.target, Host: p.host, Method: http.MethodGet,
			Rate: sc.Load.Rate, Timeout: sc.Load.Timeout, MeasuredService: sc.Load.Measure,
			Meter: &p.meters.http, Clients: p.clients,
		}
		if len(p.targets) > 0 {
			cfg.Targets, cfg.Pick = p.targets, pick
		}
		if p.tasks != nil && attributed(sc) {
			cfg.Attribute = p.tasks.attribute
		}
		reqs, err := httpRequests(sc.Load)
		if err != nil {
			return loadgen.Summary{}, err
		}
		cfg.Requests = reqs
		return loadgen.RunHTTP(ctx, cfg, step, sink)
	}
	var (
		wg        sync.WaitGroup
		streamErr error
	)
	if n := sc.Load.Streams; n > 0 {
		cfg := loadgen.StreamConfig{Target: p.gt, Connections: sc.Load.Connections, Meter: &p.meters.chat}
		switch sc.Load.StreamKind {
		case "chat":
			cfg.Chat = n
		case "both":
			cfg.Chat, cfg.Subscribe = n/2, n-n/2
		default:
			cfg.Subscribe = n
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, streamErr = loadgen.RunStreams(ctx, cfg, step, sink)
		}()
	}
	sum, err := loadgen.RunGRPCUnary(ctx, loadgen.GRPCUnaryConfig{
		Target: p.gt, Rate: sc.Load.Rate, Timeout: sc.Load.Timeout, Connections: sc.Load.Connections,
		Meter: &p.meters.unary, Call: p.call,
	}, step, sink)
	wg.Wait()
	if err == nil && streamErr != nil && !errors.Is(streamErr, context.Canceled) {
		err = fmt.Errorf("streams: %w", streamErr)
	}
	return sum, err
}

// waitDataPlane sends requests through the ingress until one is answered by
// the measured service, so load starts on a mesh that routes.
func waitDataPlane(ctx context.Context, client *http.Client, target, host, measure string) error {
	// An empty measure waits for an answer the ingress proxy attributes
	// (the measured service is the user's, which names no version).
	var last string
	err := poll.Until(ctx, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return false, err
		}
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		resp.Body.Close()
		chain := resp.Header.Get(contract.HeaderChain)
		attributed := measure == "" && resp.Header.Get(contract.HeaderUpstreamEndpoint) != ""
		if resp.StatusCode == http.StatusOK && (attributed || strings.Contains(","+chain, ","+measure+"/")) {
			return true, nil
		}
		last = fmt.Sprintf("status %d, chain %q", resp.StatusCode, chain)
		return false, nil
	})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("the data plane did not answer through %s (Host %s); last: %s", target, host, last)
	}
	return err
}
