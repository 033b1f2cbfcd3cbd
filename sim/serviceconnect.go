package sim

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/meshsim/meshsim/sim/ecs"
	"github.com/meshsim/meshsim/sim/xds"
)

// serviceConnectWorld translates the Service Connect configuration of the
// ECS services, and the traffic weights of their revisions, into the
// control plane's input, as ECS's Service Connect management plane does for
// its proxies. Each namespace becomes a mesh; each ECS service in it a
// virtual node (the node of its injected proxy) that can call every client
// alias in the namespace; each client alias a virtual service whose router
// splits traffic between the revisions serving it, by the weights ECS
// asks for (a revision is a virtual node whose endpoints are the Cloud Map
// instances of that deployment).
func serviceConnectWorld(traffic []ecs.ServiceTraffic, cm instanceSource) []xds.Mesh {
	meshes := map[string]*xds.Mesh{}
	aliases := map[string][]string{} // namespace → virtual service names
	mesh := func(ns string) *xds.Mesh {
		m := meshes[ns]
		if m == nil {
			m = &xds.Mesh{Name: ns}
			meshes[ns] = m
		}
		return m
	}
	for _, st := range traffic {
		sc := st.ServiceConnect
		if sc == nil {
			continue
		}
		m := mesh(sc.Namespace)
		client := xds.VirtualNode{Name: st.Service}
		for _, svc := range sc.Services {
			client.Listeners = append(client.Listeners, xds.Listener{Port: svc.ContainerPort, Protocol: protocol(svc.AppProtocol)})
			revNodes := revisionNodes(st, svc, sc.Namespace, cm)
			m.VirtualNodes = append(m.VirtualNodes, revNodes...)
			for _, alias := range svc.ClientAliases {
				name := alias.DNSName
				if name == "" {
					name = svc.DiscoveryName + "." + sc.Namespace
				}
				router := xds.VirtualRouter{
					Name:      fmt.Sprintf("%s-%d", name, alias.Port),
					Listeners: []xds.Listener{{Port: alias.Port, Protocol: protocol(svc.AppProtocol)}},
				}
				if h := alias.TestTrafficHeader; h != nil {
					r := revisionRoute("test", revNodes, st.Revisions, func(r ecs.RevisionTraffic) float64 { return r.TestWeight }, svc)
					zero := 0
					r.Priority = &zero
					r.Headers = []xds.HeaderMatch{{Name: h.Name, Exact: h.Exact}}
					router.Routes = append(router.Routes, r)
				}
				def := revisionRoute("production", revNodes, st.Revisions, func(r ecs.RevisionTraffic) float64 { return r.ProductionWeight }, svc)
				one := 1
				def.Priority = &one
				router.Routes = append(router.Routes, def)
				m.VirtualRouters = append(m.VirtualRouters, router)
				m.VirtualServices = append(m.VirtualServices, xds.VirtualService{Name: name, ProviderRouter: router.Name})
				aliases[sc.Namespace] = append(aliases[sc.Namespace], name)
			}
		}
		m.VirtualNodes = append(m.VirtualNodes, client)
	}
	// Every proxy in a namespace can reach every client alias in it.
	var out []xds.Mesh
	names := make([]string, 0, len(meshes))
	for ns := range meshes {
		names = append(names, ns)
	}
	sort.Strings(names)
	for _, ns := range names {
		m := meshes[ns]
		for i := range m.VirtualNodes {
			if !strings.Contains(m.VirtualNodes[i].Name, revisionSep) {
				m.VirtualNodes[i].Backends = aliases[ns]
			}
		}
		out = append(out, *m)
	}
	return out
}

// revisionSep separates a service's name from its revision in the names of
// revision nodes; ECS service names cannot contain it.
const revisionSep = "~"

// revisionNodes returns one virtual node per revision of st serving svc,
// with the Cloud Map instances registered for that revision's deployment.
func revisionNodes(st ecs.ServiceTraffic, svc ecs.ServiceConnectService, namespace string, cm instanceSource) []xds.VirtualNode {
	insts, err := cm.Instances(namespace, svc.DiscoveryName)
	if err != nil {
		insts = nil // not registered yet: no endpoints, "no healthy upstream"
	}
	var nodes []xds.VirtualNode
	for _, rev := range st.Revisions {
		n := xds.VirtualNode{
			Name:      revisionNode(st.Service, svc.DiscoveryName, rev.DeploymentID),
			Listeners: []xds.Listener{{Port: svc.ContainerPort, Protocol: protocol(svc.AppProtocol)}},
		}
		for _, in := range insts {
			if in.Attributes[ecs.AttrDeploymentID] != rev.DeploymentID || in.IPv4 == "" || in.Port <= 0 || in.HealthStatus == "UNHEALTHY" {
				continue
			}
			n.Endpoints = append(n.Endpoints, xds.Endpoint{InstanceID: in.ID, Address: in.IPv4, Port: uint32(in.Port)})
		}
		nodes = append(nodes, n)
	}
	return nodes
}

func revisionNode(service, discoveryName, deploymentID string) string {
	id := deploymentID[strings.LastIndex(deploymentID, "/")+1:]
	return service + revisionSep + discoveryName + revisionSep + id
}

// revisionRoute splits traffic between the revision nodes by weight (percent, in
// tenths so that ECS's 0.1 % grain survives).
func revisionRoute(name string, nodes []xds.VirtualNode, revs []ecs.RevisionTraffic, weight func(ecs.RevisionTraffic) float64, svc ecs.ServiceConnectService) xds.Route {
	r := xds.Route{Name: name, Protocol: protocol(svc.AppProtocol), Prefix: "/"}
	for i, rev := range revs {
		r.Targets = append(r.Targets, xds.WeightedTarget{VirtualNode: nodes[i].Name, Weight: uint32(math.Round(weight(rev) * 10))})
	}
	r.PerRequestTimeoutMillis = scTimeout(svc.PerRequestTimeout)
	r.IdleTimeoutMillis = scTimeout(svc.IdleTimeout)
	return r
}

// scTimeout turns a Service Connect timeout into the control plane's
// milliseconds: 0 when not configured, xds.TimeoutDisabled when 0.
func scTimeout(d *time.Duration) int64 {
	switch {
	case d == nil:
		return 0
	case *d == 0:
		return xds.TimeoutDisabled
	}
	return d.Milliseconds()
}

func protocol(appProtocol string) xds.Protocol {
	switch appProtocol {
	case "http2":
		return xds.HTTP2
	case "grpc":
		return xds.GRPC
	}
	return xds.HTTP
}
