package appmesh

import (
	"fmt"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// Event kinds of virtual gateways and gateway routes.
const (
	kindVirtualGateway = "virtualGateway"
	kindGatewayRoute   = "gatewayRoute"
)

// Virtual gateways.

var virtualGateways = &kind[VirtualGatewayData, VirtualGatewaySpec, VirtualGatewayRef]{
	name:       "VirtualGateway",
	event:      kindVirtualGateway,
	nameMember: "virtualGatewayName",
	listMember: "virtualGateways",
	items:      inMesh(func(m *meshEntry) map[string]*VirtualGatewayData { return m.gateways }),
	validate:   (*checker).virtualGatewaySpec,
	check:      checkGatewayListeners,
	release:    releaseGateway,
	new: func(c call, name string, md ResourceMetadata, spec VirtualGatewaySpec) *VirtualGatewayData {
		return &VirtualGatewayData{MeshName: c.mesh, Metadata: md, Spec: spec, Status: ResourceStatus{Status: StatusActive}, VirtualGatewayName: name}
	},
	parts: func(g *VirtualGatewayData) (*ResourceMetadata, *VirtualGatewaySpec, *ResourceStatus) {
		return &g.Metadata, &g.Spec, &g.Status
	},
	ref: func(g *VirtualGatewayData) VirtualGatewayRef {
		md := g.Metadata
		return VirtualGatewayRef{ARN: md.ARN, CreatedAt: md.CreatedAt, LastUpdatedAt: md.LastUpdatedAt,
			MeshName: g.MeshName, MeshOwner: md.MeshOwner, ResourceOwner: md.ResourceOwner, Version: md.Version, VirtualGatewayName: g.VirtualGatewayName}
	},
	detail: func(g *VirtualGatewayData) map[string]string { return detail(g.MeshName, g.Metadata) },
}

func (f *Fake) createVirtualGateway(c call) (any, error) {
	var in struct {
		ClientToken        string              `json:"clientToken,omitempty"`
		Spec               *VirtualGatewaySpec `json:"spec,omitempty"`
		Tags               []TagRef            `json:"tags,omitempty"`
		VirtualGatewayName string              `json:"virtualGatewayName"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	token := in.ClientToken
	in.ClientToken = ""
	return virtualGateways.create(f, c, token, in.VirtualGatewayName, in.Tags, in.Spec, &in)
}

// checkGatewayListeners reports a gateway route of the virtual gateway
// name that the listeners of spec do not serve.
func checkGatewayListeners(m *meshEntry, _ call, name string, spec *VirtualGatewaySpec) error {
	routes := m.gatewayRoutes[name]
	for _, rn := range sortedNames(routes) {
		if err := gatewayRouteFits(&routes[rn].Spec, spec); err != nil {
			return badRequest("the new listeners do not serve existing GatewayRoute %s: %v", rn, err)
		}
	}
	return nil
}

// releaseGateway reports gateway routes of the virtual gateway name, and
// otherwise forgets its (empty) routes.
func releaseGateway(m *meshEntry, name string) error {
	if n := len(m.gatewayRoutes[name]); n > 0 {
		return inUse("VirtualGateway %s still has %d gateway route(s); delete them before deleting the gateway", name, n)
	}
	delete(m.gatewayRoutes, name)
	return nil
}

// releaseService reports a gateway route that sends traffic to the
// virtual service name.
func releaseService(m *meshEntry, name string) error {
	for _, gw := range sortedNames(m.gatewayRoutes) {
		for _, rn := range sortedNames(m.gatewayRoutes[gw]) {
			if t := m.gatewayRoutes[gw][rn].Spec.Target(); t != nil && t.VirtualService != nil && t.VirtualService.VirtualServiceName == name {
				return inUse("VirtualService %s is the target of GatewayRoute %s of VirtualGateway %s; update or delete the gateway route first", name, rn, gw)
			}
		}
	}
	return nil
}

// Gateway routes.

var gatewayRoutes = &kind[GatewayRouteData, GatewayRouteSpec, GatewayRouteRef]{
	name:       "GatewayRoute",
	event:      kindGatewayRoute,
	nameMember: "gatewayRouteName",
	listMember: "gatewayRoutes",
	items: func(f *Fake, c call) (*meshEntry, map[string]*GatewayRouteData, error) {
		m, err := f.mesh(c.mesh, c.owner)
		if err != nil {
			return nil, nil, err
		}
		if _, ok := m.gateways[c.gateway]; !ok {
			return nil, nil, notFound("VirtualGateway with name %s is not present under mesh %s for account %s", c.gateway, c.mesh, awsproto.Account)
		}
		// A gateway's routes are made with their first use and freed with
		// the gateway (releaseGateway).
		if m.gatewayRoutes[c.gateway] == nil {
			m.gatewayRoutes[c.gateway] = make(map[string]*GatewayRouteData)
		}
		return m, m.gatewayRoutes[c.gateway], nil
	},
	validate: (*checker).gatewayRouteSpec,
	check: func(m *meshEntry, c call, _ string, spec *GatewayRouteSpec) error {
		return checkGatewayRoute(m, c.mesh, &m.gateways[c.gateway].Spec, spec)
	},
	new: func(c call, name string, md ResourceMetadata, spec GatewayRouteSpec) *GatewayRouteData {
		return &GatewayRouteData{GatewayRouteName: name, MeshName: c.mesh, Metadata: md, Spec: spec,
			Status: ResourceStatus{Status: StatusActive}, VirtualGatewayName: c.gateway}
	},
	parts: func(r *GatewayRouteData) (*ResourceMetadata, *GatewayRouteSpec, *ResourceStatus) {
		return &r.Metadata, &r.Spec, &r.Status
	},
	ref: func(r *GatewayRouteData) GatewayRouteRef {
		md := r.Metadata
		return GatewayRouteRef{ARN: md.ARN, CreatedAt: md.CreatedAt, GatewayRouteName: r.GatewayRouteName, LastUpdatedAt: md.LastUpdatedAt,
			MeshName: r.MeshName, MeshOwner: md.MeshOwner, ResourceOwner: md.ResourceOwner, Version: md.Version, VirtualGatewayName: r.VirtualGatewayName}
	},
	detail: func(r *GatewayRouteData) map[string]string {
		d := detail(r.MeshName, r.Metadata)
		d["virtualGateway"] = r.VirtualGatewayName
		if t := r.Spec.Target(); t != nil && t.VirtualService != nil {
			d["virtualService"] = t.VirtualService.VirtualServiceName
		}
		return d
	},
}

func (f *Fake) createGatewayRoute(c call) (any, error) {
	var in struct {
		ClientToken      string            `json:"clientToken,omitempty"`
		GatewayRouteName string            `json:"gatewayRouteName"`
		Spec             *GatewayRouteSpec `json:"spec,omitempty"`
		Tags             []TagRef          `json:"tags,omitempty"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	token := in.ClientToken
	in.ClientToken = ""
	return gatewayRoutes.create(f, c, token, in.GatewayRouteName, in.Tags, in.Spec, &in)
}

// checkGatewayRoute checks a valid gateway route spec against its
// gateway's listener and the mesh's virtual services.
func checkGatewayRoute(m *meshEntry, mesh string, gw *VirtualGatewaySpec, spec *GatewayRouteSpec) error {
	if err := gatewayRouteFits(spec, gw); err != nil {
		return badRequest("%v", err)
	}
	t := spec.Target()
	if _, ok := m.services[t.VirtualService.VirtualServiceName]; !ok {
		return notFound("VirtualService with name %s (%s.action.target.virtualService.virtualServiceName) is not present under mesh %s for account %s",
			t.VirtualService.VirtualServiceName, gatewayRouteTypePath(spec), mesh, awsproto.Account)
	}
	return nil
}

// gatewayRouteFits reports whether the gateway's listeners serve the
// route: a listener of the route's protocol, on the match's port if the
// route names one.
func gatewayRouteFits(spec *GatewayRouteSpec, gw *VirtualGatewaySpec) error {
	proto, port := spec.Protocol(), gatewayRouteMatchPort(spec)
	path := gatewayRouteTypePath(spec)
	for _, l := range gw.Listeners {
		if l.PortMapping == nil || l.PortMapping.Protocol != proto {
			continue
		}
		if port == nil || (l.PortMapping.Port != nil && *l.PortMapping.Port == *port) {
			return nil
		}
	}
	if port != nil {
		return fmt.Errorf("%s.match.port: the virtual gateway has no %s listener on port %d", path, proto, *port)
	}
	return fmt.Errorf("%s: the virtual gateway has no %s listener", path, proto)
}

func gatewayRouteMatchPort(spec *GatewayRouteSpec) *int32 {
	switch {
	case spec.HTTPRoute != nil && spec.HTTPRoute.Match != nil:
		return spec.HTTPRoute.Match.Port
	case spec.HTTP2Route != nil && spec.HTTP2Route.Match != nil:
		return spec.HTTP2Route.Match.Port
	case spec.GRPCRoute != nil && spec.GRPCRoute.Match != nil:
		return spec.GRPCRoute.Match.Port
	}
	return nil
}

func gatewayRouteTypePath(spec *GatewayRouteSpec) string {
	switch spec.Protocol() {
	case "http":
		return "spec.httpRoute"
	case "http2":
		return "spec.http2Route"
	}
	return "spec.grpcRoute"
}
