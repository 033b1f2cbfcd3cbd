package appmesh

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// Event kinds, as in "<kind>.created".
const (
	kindMesh           = "mesh"
	kindVirtualNode    = "virtualNode"
	kindVirtualService = "virtualService"
	kindVirtualRouter  = "virtualRouter"
	kindRoute          = "route"
)

// Meshes.

func (f *Fake) createMesh(c call) (any, error) {
	var in struct {
		ClientToken string    `json:"clientToken,omitempty"`
		MeshName    string    `json:"meshName"`
		Spec        *MeshSpec `json:"spec,omitempty"`
		Tags        []TagRef  `json:"tags,omitempty"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	spec := MeshSpec{}
	if in.Spec != nil {
		spec = *in.Spec
	}
	v := &checker{}
	v.name("meshName", in.MeshName)
	v.tags(in.Tags)
	v.meshSpec(&spec)
	if err := v.err(); err != nil {
		return nil, err
	}
	token := in.ClientToken
	in.ClientToken = ""

	f.mu.Lock()
	defer f.mu.Unlock()
	key := "mesh/" + in.MeshName
	repeat, err := f.checkToken(token, "CreateMesh", key, in)
	if err != nil {
		return nil, err
	}
	if m, ok := f.meshes[in.MeshName]; ok {
		if repeat {
			return m.data, nil
		}
		return nil, conflict("Mesh with name %s already exists for account %s", in.MeshName, awsproto.Account)
	}
	m := &meshEntry{
		data: MeshData{
			MeshName: in.MeshName,
			Metadata: f.newMetadata(c.region, key),
			Spec:     spec,
			Status:   ResourceStatus{Status: StatusActive},
		},
		nodes:         make(map[string]*VirtualNodeData),
		services:      make(map[string]*VirtualServiceData),
		routers:       make(map[string]*VirtualRouterData),
		routes:        make(map[string]map[string]*RouteData),
		gateways:      make(map[string]*VirtualGatewayData),
		gatewayRoutes: make(map[string]map[string]*GatewayRouteData),
	}
	if err := f.rememberToken(token, "CreateMesh", key, in); err != nil {
		return nil, err
	}
	f.meshes[in.MeshName] = m
	f.tags[m.data.Metadata.ARN] = append([]TagRef{}, in.Tags...)
	f.emit(kindMesh, "created", m.data.Metadata.ARN, detail(in.MeshName, m.data.Metadata))
	f.changed()
	return m.data, nil
}

func (f *Fake) describeMesh(c call) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.mesh(c.mesh, c.owner)
	if err != nil {
		return nil, err
	}
	return m.data, nil
}

func (f *Fake) updateMesh(c call) (any, error) {
	var in struct {
		ClientToken string    `json:"clientToken,omitempty"`
		Spec        *MeshSpec `json:"spec,omitempty"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	spec := MeshSpec{}
	if in.Spec != nil {
		spec = *in.Spec
	}
	v := &checker{}
	v.meshSpec(&spec)
	if err := v.err(); err != nil {
		return nil, err
	}
	token := in.ClientToken
	in.ClientToken = ""

	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.mesh(c.mesh, c.owner)
	if err != nil {
		return nil, err
	}
	repeat, err := f.checkToken(token, "UpdateMesh", "mesh/"+c.mesh, in)
	if err != nil || repeat {
		return m.data, err
	}
	if err := f.rememberToken(token, "UpdateMesh", "mesh/"+c.mesh, in); err != nil {
		return nil, err
	}
	m.data.Spec = spec
	m.data.Metadata = f.bump(m.data.Metadata)
	f.emit(kindMesh, "updated", m.data.Metadata.ARN, detail(c.mesh, m.data.Metadata))
	f.changed()
	return m.data, nil
}

func (f *Fake) deleteMesh(c call) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.mesh(c.mesh, c.owner)
	if err != nil {
		return nil, err
	}
	if len(m.nodes)+len(m.services)+len(m.routers)+len(m.gateways) > 0 {
		return nil, inUse("Mesh %s still has %d virtual node(s), %d virtual service(s), %d virtual router(s) and %d virtual gateway(s); delete them before deleting the mesh",
			c.mesh, len(m.nodes), len(m.services), len(m.routers), len(m.gateways))
	}
	delete(f.meshes, c.mesh)
	delete(f.tags, m.data.Metadata.ARN)
	out := m.data
	out.Status = ResourceStatus{Status: StatusDeleted}
	f.emit(kindMesh, "deleted", out.Metadata.ARN, detail(c.mesh, out.Metadata))
	f.changed()
	return out, nil
}

func (f *Fake) listMeshes(c call) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return listOf(c, "meshes", f.meshes, func(m *meshEntry) MeshRef {
		md := m.data.Metadata
		return MeshRef{ARN: md.ARN, CreatedAt: md.CreatedAt, LastUpdatedAt: md.LastUpdatedAt,
			MeshName: m.data.MeshName, MeshOwner: md.MeshOwner, ResourceOwner: md.ResourceOwner, Version: md.Version}
	})
}

// Virtual nodes.

var virtualNodes = &kind[VirtualNodeData, VirtualNodeSpec, VirtualNodeRef]{
	name:       "VirtualNode",
	event:      kindVirtualNode,
	nameMember: "virtualNodeName",
	listMember: "virtualNodes",
	items:      inMesh(func(m *meshEntry) map[string]*VirtualNodeData { return m.nodes }),
	validate: func(v *checker, s *VirtualNodeSpec) {
		normalizeNodeSpec(s)
		v.virtualNodeSpec(s)
	},
	release: releaseNode,
	new: func(c call, name string, md ResourceMetadata, spec VirtualNodeSpec) *VirtualNodeData {
		return &VirtualNodeData{MeshName: c.mesh, Metadata: md, Spec: spec, Status: ResourceStatus{Status: StatusActive}, VirtualNodeName: name}
	},
	parts: func(n *VirtualNodeData) (*ResourceMetadata, *VirtualNodeSpec, *ResourceStatus) {
		return &n.Metadata, &n.Spec, &n.Status
	},
	ref: func(n *VirtualNodeData) VirtualNodeRef {
		md := n.Metadata
		return VirtualNodeRef{ARN: md.ARN, CreatedAt: md.CreatedAt, LastUpdatedAt: md.LastUpdatedAt,
			MeshName: n.MeshName, MeshOwner: md.MeshOwner, ResourceOwner: md.ResourceOwner, Version: md.Version, VirtualNodeName: n.VirtualNodeName}
	},
	detail: func(n *VirtualNodeData) map[string]string { return detail(n.MeshName, n.Metadata) },
}

func (f *Fake) createVirtualNode(c call) (any, error) {
	var in struct {
		ClientToken     string           `json:"clientToken,omitempty"`
		Spec            *VirtualNodeSpec `json:"spec,omitempty"`
		Tags            []TagRef         `json:"tags,omitempty"`
		VirtualNodeName string           `json:"virtualNodeName"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	token := in.ClientToken
	in.ClientToken = ""
	return virtualNodes.create(f, c, token, in.VirtualNodeName, in.Tags, in.Spec, &in)
}

// normalizeNodeSpec makes absent lists empty, as AWS returns them.
func normalizeNodeSpec(s *VirtualNodeSpec) {
	if s.Backends == nil {
		s.Backends = []Backend{}
	}
	if s.Listeners == nil {
		s.Listeners = []Listener{}
	}
}

// releaseNode reports a virtual service or route of m that uses the virtual
// node name.
func releaseNode(m *meshEntry, name string) error {
	for _, sn := range sortedNames(m.services) {
		if p := m.services[sn].Spec.Provider; p != nil && p.VirtualNode != nil && p.VirtualNode.VirtualNodeName == name {
			return inUse("VirtualNode %s is the provider of VirtualService %s; update or delete the virtual service first", name, sn)
		}
	}
	for _, rn := range sortedNames(m.routers) {
		routes := m.routes[rn]
		for _, route := range sortedNames(routes) {
			if a := routes[route].Spec.Action(); a != nil {
				for _, t := range a.WeightedTargets {
					if t.VirtualNode == name {
						return inUse("VirtualNode %s is a target of Route %s of VirtualRouter %s; update or delete the route first", name, route, rn)
					}
				}
			}
		}
	}
	return nil
}

// Virtual services.

var virtualServices = &kind[VirtualServiceData, VirtualServiceSpec, VirtualServiceRef]{
	name:       "VirtualService",
	event:      kindVirtualService,
	nameMember: "virtualServiceName",
	listMember: "virtualServices",
	items:      inMesh(func(m *meshEntry) map[string]*VirtualServiceData { return m.services }),
	validate:   (*checker).virtualServiceSpec,
	check: func(m *meshEntry, c call, _ string, spec *VirtualServiceSpec) error {
		return checkProvider(m, c.mesh, spec)
	},
	release: releaseService,
	new: func(c call, name string, md ResourceMetadata, spec VirtualServiceSpec) *VirtualServiceData {
		return &VirtualServiceData{MeshName: c.mesh, Metadata: md, Spec: spec, Status: ResourceStatus{Status: StatusActive}, VirtualServiceName: name}
	},
	parts: func(s *VirtualServiceData) (*ResourceMetadata, *VirtualServiceSpec, *ResourceStatus) {
		return &s.Metadata, &s.Spec, &s.Status
	},
	ref: func(s *VirtualServiceData) VirtualServiceRef {
		md := s.Metadata
		return VirtualServiceRef{ARN: md.ARN, CreatedAt: md.CreatedAt, LastUpdatedAt: md.LastUpdatedAt,
			MeshName: s.MeshName, MeshOwner: md.MeshOwner, ResourceOwner: md.ResourceOwner, Version: md.Version, VirtualServiceName: s.VirtualServiceName}
	},
	detail: func(s *VirtualServiceData) map[string]string { return detail(s.MeshName, s.Metadata) },
}

func (f *Fake) createVirtualService(c call) (any, error) {
	var in struct {
		ClientToken        string              `json:"clientToken,omitempty"`
		Spec               *VirtualServiceSpec `json:"spec,omitempty"`
		Tags               []TagRef            `json:"tags,omitempty"`
		VirtualServiceName string              `json:"virtualServiceName"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	token := in.ClientToken
	in.ClientToken = ""
	return virtualServices.create(f, c, token, in.VirtualServiceName, in.Tags, in.Spec, &in)
}

// checkProvider reports a provider that does not exist in m.
func checkProvider(m *meshEntry, mesh string, spec *VirtualServiceSpec) error {
	p := spec.Provider
	switch {
	case p == nil:
		return nil
	case p.VirtualNode != nil:
		if _, ok := m.nodes[p.VirtualNode.VirtualNodeName]; !ok {
			return notFound("VirtualNode with name %s (spec.provider.virtualNode.virtualNodeName) is not present under mesh %s for account %s",
				p.VirtualNode.VirtualNodeName, mesh, awsproto.Account)
		}
	case p.VirtualRouter != nil:
		if _, ok := m.routers[p.VirtualRouter.VirtualRouterName]; !ok {
			return notFound("VirtualRouter with name %s (spec.provider.virtualRouter.virtualRouterName) is not present under mesh %s for account %s",
				p.VirtualRouter.VirtualRouterName, mesh, awsproto.Account)
		}
	}
	return nil
}

// Virtual routers.

var virtualRouters = &kind[VirtualRouterData, VirtualRouterSpec, VirtualRouterRef]{
	name:       "VirtualRouter",
	event:      kindVirtualRouter,
	nameMember: "virtualRouterName",
	listMember: "virtualRouters",
	items:      inMesh(func(m *meshEntry) map[string]*VirtualRouterData { return m.routers }),
	validate:   (*checker).virtualRouterSpec,
	check:      checkListeners,
	release:    releaseRouter,
	new: func(c call, name string, md ResourceMetadata, spec VirtualRouterSpec) *VirtualRouterData {
		return &VirtualRouterData{MeshName: c.mesh, Metadata: md, Spec: spec, Status: ResourceStatus{Status: StatusActive}, VirtualRouterName: name}
	},
	parts: func(r *VirtualRouterData) (*ResourceMetadata, *VirtualRouterSpec, *ResourceStatus) {
		return &r.Metadata, &r.Spec, &r.Status
	},
	ref: func(r *VirtualRouterData) VirtualRouterRef {
		md := r.Metadata
		return VirtualRouterRef{ARN: md.ARN, CreatedAt: md.CreatedAt, LastUpdatedAt: md.LastUpdatedAt,
			MeshName: r.MeshName, MeshOwner: md.MeshOwner, ResourceOwner: md.ResourceOwner, Version: md.Version, VirtualRouterName: r.VirtualRouterName}
	},
	detail: func(r *VirtualRouterData) map[string]string { return detail(r.MeshName, r.Metadata) },
}

func (f *Fake) createVirtualRouter(c call) (any, error) {
	var in struct {
		ClientToken       string             `json:"clientToken,omitempty"`
		Spec              *VirtualRouterSpec `json:"spec,omitempty"`
		Tags              []TagRef           `json:"tags,omitempty"`
		VirtualRouterName string             `json:"virtualRouterName"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	token := in.ClientToken
	in.ClientToken = ""
	return virtualRouters.create(f, c, token, in.VirtualRouterName, in.Tags, in.Spec, &in)
}

func errRouterNotFound(mesh, name string) error {
	return notFound("VirtualRouter with name %s is not present under mesh %s for account %s", name, mesh, awsproto.Account)
}

// checkListeners reports a route of the virtual router name that the
// listeners of spec do not serve.
func checkListeners(m *meshEntry, _ call, name string, spec *VirtualRouterSpec) error {
	routes := m.routes[name]
	for _, rn := range sortedNames(routes) {
		if err := routeFitsRouter(&routes[rn].Spec, spec); err != nil {
			return badRequest("the new listeners do not serve existing Route %s: %v", rn, err)
		}
	}
	return nil
}

// releaseRouter reports routes of the virtual router name or a virtual
// service it provides, and otherwise forgets its (empty) routes.
func releaseRouter(m *meshEntry, name string) error {
	if n := len(m.routes[name]); n > 0 {
		return inUse("VirtualRouter %s still has %d route(s); delete them before deleting the router", name, n)
	}
	for _, sn := range sortedNames(m.services) {
		if p := m.services[sn].Spec.Provider; p != nil && p.VirtualRouter != nil && p.VirtualRouter.VirtualRouterName == name {
			return inUse("VirtualRouter %s is the provider of VirtualService %s; update or delete the virtual service first", name, sn)
		}
	}
	delete(m.routes, name)
	return nil
}

// Routes.

var routes = &kind[RouteData, RouteSpec, RouteRef]{
	name:       "Route",
	event:      kindRoute,
	nameMember: "routeName",
	listMember: "routes",
	items: func(f *Fake, c call) (*meshEntry, map[string]*RouteData, error) {
		m, err := f.mesh(c.mesh, c.owner)
		if err != nil {
			return nil, nil, err
		}
		if _, ok := m.routers[c.router]; !ok {
			return nil, nil, errRouterNotFound(c.mesh, c.router)
		}
		// A router's routes are made with its first use and freed with
		// the router (releaseRouter).
		if m.routes[c.router] == nil {
			m.routes[c.router] = make(map[string]*RouteData)
		}
		return m, m.routes[c.router], nil
	},
	validate: (*checker).routeSpec,
	check: func(m *meshEntry, c call, _ string, spec *RouteSpec) error {
		return checkRoute(m, c.mesh, &m.routers[c.router].Spec, spec)
	},
	new: func(c call, name string, md ResourceMetadata, spec RouteSpec) *RouteData {
		return &RouteData{MeshName: c.mesh, Metadata: md, RouteName: name, Spec: spec, Status: ResourceStatus{Status: StatusActive}, VirtualRouterName: c.router}
	},
	parts: func(r *RouteData) (*ResourceMetadata, *RouteSpec, *ResourceStatus) {
		return &r.Metadata, &r.Spec, &r.Status
	},
	ref: func(r *RouteData) RouteRef {
		md := r.Metadata
		return RouteRef{ARN: md.ARN, CreatedAt: md.CreatedAt, LastUpdatedAt: md.LastUpdatedAt,
			MeshName: r.MeshName, MeshOwner: md.MeshOwner, ResourceOwner: md.ResourceOwner, RouteName: r.RouteName,
			Version: md.Version, VirtualRouterName: r.VirtualRouterName}
	},
	detail: routeDetail,
}

func (f *Fake) createRoute(c call) (any, error) {
	var in struct {
		ClientToken string     `json:"clientToken,omitempty"`
		RouteName   string     `json:"routeName"`
		Spec        *RouteSpec `json:"spec,omitempty"`
		Tags        []TagRef   `json:"tags,omitempty"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	token := in.ClientToken
	in.ClientToken = ""
	return routes.create(f, c, token, in.RouteName, in.Tags, in.Spec, &in)
}

// checkRoute checks a valid route spec against the listeners of its router
// and the mesh's virtual nodes.
func checkRoute(m *meshEntry, mesh string, router *VirtualRouterSpec, spec *RouteSpec) error {
	if err := routeFitsRouter(spec, router); err != nil {
		return badRequest("%v", err)
	}
	for i, t := range spec.Action().WeightedTargets {
		if _, ok := m.nodes[t.VirtualNode]; !ok {
			return notFound("VirtualNode with name %s (%s.action.weightedTargets[%d].virtualNode) is not present under mesh %s for account %s",
				t.VirtualNode, routeTypePath(spec), i, mesh, awsproto.Account)
		}
	}
	return nil
}

// routeFitsRouter reports whether the router's listeners serve the route: a
// listener of the route's protocol, and when the router has several
// listeners, a match port that names one of them.
func routeFitsRouter(spec *RouteSpec, router *VirtualRouterSpec) error {
	proto := spec.Protocol()
	port := routeMatchPort(spec)
	var fits []int32
	for _, l := range router.Listeners {
		if l.PortMapping.Protocol == proto {
			fits = append(fits, *l.PortMapping.Port)
		}
	}
	path := routeTypePath(spec)
	switch {
	case len(fits) == 0:
		return fmt.Errorf("%s: the virtual router has no %s listener", path, proto)
	case port != nil:
		for _, p := range fits {
			if p == *port {
				return nil
			}
		}
		return fmt.Errorf("%s.match.port: the virtual router has no %s listener on port %d", path, proto, *port)
	case len(router.Listeners) > 1:
		return fmt.Errorf("%s.match.port is required when the virtual router has more than one listener", path)
	}
	return nil
}

func routeMatchPort(spec *RouteSpec) *int32 {
	switch {
	case spec.HTTPRoute != nil && spec.HTTPRoute.Match != nil:
		return spec.HTTPRoute.Match.Port
	case spec.HTTP2Route != nil && spec.HTTP2Route.Match != nil:
		return spec.HTTP2Route.Match.Port
	case spec.GRPCRoute != nil && spec.GRPCRoute.Match != nil:
		return spec.GRPCRoute.Match.Port
	case spec.TCPRoute != nil && spec.TCPRoute.Match != nil:
		return spec.TCPRoute.Match.Port
	}
	return nil
}

func routeTypePath(spec *RouteSpec) string {
	switch spec.Protocol() {
	case "http":
		return "spec.httpRoute"
	case "http2":
		return "spec.http2Route"
	case "grpc":
		return "spec.grpcRoute"
	}
	return "spec.tcpRoute"
}

// routeDetail is the event detail of a route: mesh, router, version and the
// weights, like "movie-v1=75,movie-v2=25".
func routeDetail(r *RouteData) map[string]string {
	d := detail(r.MeshName, r.Metadata)
	d["virtualRouter"] = r.VirtualRouterName
	var weights []string
	if a := r.Spec.Action(); a != nil {
		for _, t := range a.WeightedTargets {
			weights = append(weights, t.VirtualNode+"="+strconv.Itoa(int(*t.Weight)))
		}
	}
	d["weights"] = strings.Join(weights, ",")
	return d
}
