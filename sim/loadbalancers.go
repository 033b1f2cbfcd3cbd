package sim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/ecs"
	"github.com/meshsim/meshsim/sim/elbv2"
	"github.com/meshsim/meshsim/sim/xds"
)

// lbProxies runs each load balancer's data plane as a task of one
// container, the sidecar image with the load balancer's node id, on the
// world's runtime: so a load balancer is a proxy fed over xDS like every
// sidecar, in either runtime, at an address of its own (its DNSName).
type lbProxies struct {
	rt Runtime

	mu    sync.Mutex
	tasks map[string]string // node id → task id
}

var _ elbv2.Proxies = (*lbProxies)(nil)

// StartProxy implements elbv2.Proxies.
func (p *lbProxies) StartProxy(ctx context.Context, nodeID string) (string, error) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	name := strings.ReplaceAll(strings.TrimPrefix(nodeID, "loadbalancer/"), "/", "-")
	spec := ecs.TaskSpec{
		TaskID:  id,
		TaskARN: awsproto.ARN(awsproto.DefaultRegion, "ecs", "task/elbv2/"+id),
		Cluster: "elbv2", Service: name, Family: "elbv2-" + name, Revision: 1,
		Containers: []ecs.ContainerSpec{{
			Name: "proxy", Image: contract.SidecarImage, Essential: true,
			Env: map[string]string{contract.EnvResourceARN: nodeID},
			// The runtime picks an address where the admin port is free
			// (the listeners come later, through xDS).
			Ports:       []ecs.PortMapping{{ContainerPort: contract.AdminPort, Protocol: "tcp"}},
			StopTimeout: 5 * time.Second,
		}},
	}
	st, err := p.rt.Start(ctx, spec, func(ecs.TaskReport) {})
	if err != nil {
		return "", fmt.Errorf("load balancer proxy %s: %w", nodeID, err)
	}
	p.mu.Lock()
	p.tasks[nodeID] = id
	p.mu.Unlock()
	return st.IP, nil
}

// StopProxy implements elbv2.Proxies.
func (p *lbProxies) StopProxy(ctx context.Context, nodeID string) error {
	p.mu.Lock()
	id, ok := p.tasks[nodeID]
	delete(p.tasks, nodeID)
	p.mu.Unlock()
	if !ok {
		return nil
	}
	return p.rt.Stop(ctx, id, 5*time.Second)
}

// loadBalancerWorld translates the ELBv2 fake's state into the control
// plane's load balancers.
func loadBalancerWorld(st elbv2.State) []xds.LoadBalancer {
	var out []xds.LoadBalancer
	for _, lb := range st.LoadBalancers {
		x := xds.LoadBalancer{NodeID: lb.NodeID, Name: lb.Name}
		seen := map[string]bool{}
		for _, l := range lb.Listeners {
			xl := xds.LBListener{Port: uint32(l.Port)}
			for _, r := range l.Rules {
				xr, ok := lbRule(r, st.TargetGroups)
				if !ok {
					continue
				}
				xl.Rules = append(xl.Rules, xr)
				for _, t := range r.Action.ForwardTargets() {
					tg, ok := st.TargetGroups[t.TargetGroupArn]
					if !ok || seen[tg.Name] {
						continue
					}
					seen[tg.Name] = true
					xt := xds.TargetGroup{Name: tg.Name}
					for _, tt := range tg.Targets {
						xt.Targets = append(xt.Targets, xds.LBTarget{Address: tt.IP, Port: uint32(tt.Port), Weight: tt.Weight})
					}
					x.TargetGroups = append(x.TargetGroups, xt)
				}
			}
			x.Listeners = append(x.Listeners, xl)
		}
		out = append(out, x)
	}
	return out
}

// lbRule translates one rule; a rule whose action the data plane cannot
// take is left out (ok false).
func lbRule(r elbv2.RuleState, groups map[string]elbv2.TargetGroupState) (xds.LBRule, bool) {
	xr := xds.LBRule{Name: r.ARN}
	for _, c := range r.Conditions {
		switch c.Field {
		case "path-pattern":
			xr.Paths = c.PathPatternConfig.Values
		case "host-header":
			xr.Hosts = c.HostHeaderConfig.Values
		case "http-request-method":
			xr.Methods = c.HTTPRequestMethodConfig.Values
		case "http-header":
			xr.Headers = append(xr.Headers, xds.LBHeader{Name: c.HTTPHeaderConfig.HTTPHeaderName, Values: c.HTTPHeaderConfig.Values})
		}
	}
	switch r.Action.Type {
	case "fixed-response":
		var status uint32
		_, _ = fmt.Sscan(r.Action.FixedResponseConfig.StatusCode, &status)
		xr.FixedStatus, xr.FixedBody = status, r.Action.FixedResponseConfig.MessageBody
		return xr, true
	case "forward":
		for _, t := range r.Action.ForwardTargets() {
			tg, ok := groups[t.TargetGroupArn]
			if !ok {
				continue
			}
			xr.Targets = append(xr.Targets, xds.LBWeight{TargetGroup: tg.Name, Weight: uint32(*t.Weight)})
		}
		for _, t := range xr.Targets {
			if t.Weight > 0 {
				return xr, true
			}
		}
	}
	return xr, false
}
