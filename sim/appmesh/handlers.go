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
		nodes:    make(map[string]*VirtualNodeData),
		services: make(map[string]*VirtualServiceData),
		routers:  make(map[string]*routerEntry),
	}
	if err := f.rememberToken(token, "CreateMesh", key, in); err != nil {
		return nil, err
	}
	f.meshes[in.MeshName] = m
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
	if len(m.nodes)+len(m.services)+len(m.routers) > 0 {
		return nil, inUse("Mesh %s still has %d virtual node(s), %d virtual service(s) and %d virtual router(s); delete them before deleting the mesh",
			c.mesh, len(m.nodes), len(m.services), len(m.routers))
	}
	delete(f.meshes, c.mesh)
	out := m.data
	out.Status = ResourceStatus{Status: StatusDeleted}
	f.emit(kindMesh, "deleted", out.Metadata.ARN, detail(c.mesh, out.Metadata))
	f.changed()
	return out, nil
}

func (f *Fake) listMeshes(c call) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	names, next, err := pageOf(c, sortedNames(f.meshes))
	if err != nil {
		return nil, err
	}
	out := struct {
		Meshes    []MeshRef `json:"meshes"`
		NextToken string    `json:"nextToken,omitempty"`
	}{Meshes: []MeshRef{}, NextToken: next}
	for _, n := range names {
		md := f.meshes[n].data.Metadata
		out.Meshes = append(out.Meshes, MeshRef{ARN: md.ARN, CreatedAt: md.CreatedAt, LastUpdatedAt: md.LastUpdatedAt,
			MeshName: n, MeshOwner: md.MeshOwner, ResourceOwner: md.ResourceOwner, Version: md.Version})
	}
	return out, nil
}

// Virtual nodes.

func errNodeNotFound(mesh, name string) error {
	return notFound("VirtualNode with name %s is not present under mesh %s for account %s", name, mesh, awsproto.Account)
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
	v := &checker{}
	v.name("virtualNodeName", in.VirtualNodeName)
	v.tags(in.Tags)
	if v.required("spec", in.Spec != nil) {
		normalizeNodeSpec(in.Spec)
		v.virtualNodeSpec(in.Spec)
	}
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
	key := "mesh/" + c.mesh + "/virtualNode/" + in.VirtualNodeName
	repeat, err := f.checkToken(token, "CreateVirtualNode", key, in)
	if err != nil {
		return nil, err
	}
	if n, ok := m.nodes[in.VirtualNodeName]; ok {
		if repeat {
			return *n, nil
		}
		return nil, conflict("VirtualNode with name %s already exists under mesh %s for account %s", in.VirtualNodeName, c.mesh, awsproto.Account)
	}
	if err := f.rememberToken(token, "CreateVirtualNode", key, in); err != nil {
		return nil, err
	}
	n := &VirtualNodeData{
		MeshName:        c.mesh,
		Metadata:        f.newMetadata(c.region, key),
		Spec:            *in.Spec,
		Status:          ResourceStatus{Status: StatusActive},
		VirtualNodeName: in.VirtualNodeName,
	}
	m.nodes[in.VirtualNodeName] = n
	f.emit(kindVirtualNode, "created", n.Metadata.ARN, detail(c.mesh, n.Metadata))
	f.changed()
	return *n, nil
}

func (f *Fake) describeVirtualNode(c call) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.mesh(c.mesh, c.owner)
	if err != nil {
		return nil, err
	}
	n, ok := m.nodes[c.name]
	if !ok {
		return nil, errNodeNotFound(c.mesh, c.name)
	}
	return *n, nil
}

func (f *Fake) updateVirtualNode(c call) (any, error) {
	var in struct {
		ClientToken string           `json:"clientToken,omitempty"`
		Spec        *VirtualNodeSpec `json:"spec,omitempty"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	v := &checker{}
	if v.required("spec", in.Spec != nil) {
		normalizeNodeSpec(in.Spec)
		v.virtualNodeSpec(in.Spec)
	}
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
	n, ok := m.nodes[c.name]
	if !ok {
		return nil, errNodeNotFound(c.mesh, c.name)
	}
	key := "mesh/" + c.mesh + "/virtualNode/" + c.name
	repeat, err := f.checkToken(token, "UpdateVirtualNode", key, in)
	if err != nil || repeat {
		return *n, err
	}
	if err := f.rememberToken(token, "UpdateVirtualNode", key, in); err != nil {
		return nil, err
	}
	n.Spec = *in.Spec
	n.Metadata = f.bump(n.Metadata)
	f.emit(kindVirtualNode, "updated", n.Metadata.ARN, detail(c.mesh, n.Metadata))
	f.changed()
	return *n, nil
}

func (f *Fake) deleteVirtualNode(c call) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.mesh(c.mesh, c.owner)
	if err != nil {
		return nil, err
	}
	n, ok := m.nodes[c.name]
	if !ok {
		return nil, errNodeNotFound(c.mesh, c.name)
	}
	for _, sn := range sortedNames(m.services) {
		if p := m.services[sn].Spec.Provider; p != nil && p.VirtualNode != nil && p.VirtualNode.VirtualNodeName == c.name {
			return nil, inUse("VirtualNode %s is the provider of VirtualService %s; update or delete the virtual service first", c.name, sn)
		}
	}
	for _, rn := range sortedNames(m.routers) {
		re := m.routers[rn]
		for _, name := range sortedNames(re.routes) {
			if a := re.routes[name].Spec.Action(); a != nil {
				for _, t := range a.WeightedTargets {
					if t.VirtualNode == c.name {
						return nil, inUse("VirtualNode %s is a target of Route %s of VirtualRouter %s; update or delete the route first", c.name, name, rn)
					}
				}
			}
		}
	}
	delete(m.nodes, c.name)
	out := *n
	out.Status = ResourceStatus{Status: StatusDeleted}
	f.emit(kindVirtualNode, "deleted", out.Metadata.ARN, detail(c.mesh, out.Metadata))
	f.changed()
	return out, nil
}

func (f *Fake) listVirtualNodes(c call) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.mesh(c.mesh, c.owner)
	if err != nil {
		return nil, err
	}
	names, next, err := pageOf(c, sortedNames(m.nodes))
	if err != nil {
		return nil, err
	}
	out := struct {
		NextToken    string           `json:"nextToken,omitempty"`
		VirtualNodes []VirtualNodeRef `json:"virtualNodes"`
	}{NextToken: next, VirtualNodes: []VirtualNodeRef{}}
	for _, name := range names {
		md := m.nodes[name].Metadata
		out.VirtualNodes = append(out.VirtualNodes, VirtualNodeRef{ARN: md.ARN, CreatedAt: md.CreatedAt, LastUpdatedAt: md.LastUpdatedAt,
			MeshName: c.mesh, MeshOwner: md.MeshOwner, ResourceOwner: md.ResourceOwner, Version: md.Version, VirtualNodeName: name})
	}
	return out, nil
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

// Virtual services.

func errServiceNotFound(mesh, name string) error {
	return notFound("VirtualService with name %s is not present under mesh %s for account %s", name, mesh, awsproto.Account)
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
	v := &checker{}
	v.name("virtualServiceName", in.VirtualServiceName)
	v.tags(in.Tags)
	if v.required("spec", in.Spec != nil) {
		v.virtualServiceSpec(in.Spec)
	}
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
	key := "mesh/" + c.mesh + "/virtualService/" + in.VirtualServiceName
	repeat, err := f.checkToken(token, "CreateVirtualService", key, in)
	if err != nil {
		return nil, err
	}
	if s, ok := m.services[in.VirtualServiceName]; ok {
		if repeat {
			return *s, nil
		}
		return nil, conflict("VirtualService with name %s already exists under mesh %s for account %s", in.VirtualServiceName, c.mesh, awsproto.Account)
	}
	if err := checkProvider(m, c.mesh, in.Spec); err != nil {
		return nil, err
	}
	if err := f.rememberToken(token, "CreateVirtualService", key, in); err != nil {
		return nil, err
	}
	s := &VirtualServiceData{
		MeshName:           c.mesh,
		Metadata:           f.newMetadata(c.region, key),
		Spec:               *in.Spec,
		Status:             ResourceStatus{Status: StatusActive},
		VirtualServiceName: in.VirtualServiceName,
	}
	m.services[in.VirtualServiceName] = s
	f.emit(kindVirtualService, "created", s.Metadata.ARN, detail(c.mesh, s.Metadata))
	f.changed()
	return *s, nil
}

func (f *Fake) describeVirtualService(c call) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.mesh(c.mesh, c.owner)
	if err != nil {
		return nil, err
	}
	s, ok := m.services[c.name]
	if !ok {
		return nil, errServiceNotFound(c.mesh, c.name)
	}
	return *s, nil
}

func (f *Fake) updateVirtualService(c call) (any, error) {
	var in struct {
		ClientToken string              `json:"clientToken,omitempty"`
		Spec        *VirtualServiceSpec `json:"spec,omitempty"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	v := &checker{}
	if v.required("spec", in.Spec != nil) {
		v.virtualServiceSpec(in.Spec)
	}
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
	s, ok := m.services[c.name]
	if !ok {
		return nil, errServiceNotFound(c.mesh, c.name)
	}
	key := "mesh/" + c.mesh + "/virtualService/" + c.name
	repeat, err := f.checkToken(token, "UpdateVirtualService", key, in)
	if err != nil || repeat {
		return *s, err
	}
	if err := checkProvider(m, c.mesh, in.Spec); err != nil {
		return nil, err
	}
	if err := f.rememberToken(token, "UpdateVirtualService", key, in); err != nil {
		return nil, err
	}
	s.Spec = *in.Spec
	s.Metadata = f.bump(s.Metadata)
	f.emit(kindVirtualService, "updated", s.Metadata.ARN, detail(c.mesh, s.Metadata))
	f.changed()
	return *s, nil
}

func (f *Fake) deleteVirtualService(c call) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.mesh(c.mesh, c.owner)
	if err != nil {
		return nil, err
	}
	s, ok := m.services[c.name]
	if !ok {
		return nil, errServiceNotFound(c.mesh, c.name)
	}
	delete(m.services, c.name)
	out := *s
	out.Status = ResourceStatus{Status: StatusDeleted}
	f.emit(kindVirtualService, "deleted", out.Metadata.ARN, detail(c.mesh, out.Metadata))
	f.changed()
	return out, nil
}

func (f *Fake) listVirtualServices(c call) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.mesh(c.mesh, c.owner)
	if err != nil {
		return nil, err
	}
	names, next, err := pageOf(c, sortedNames(m.services))
	if err != nil {
		return nil, err
	}
	out := struct {
		NextToken       string              `json:"nextToken,omitempty"`
		VirtualServices []VirtualServiceRef `json:"virtualServices"`
	}{NextToken: next, VirtualServices: []VirtualServiceRef{}}
	for _, name := range names {
		md := m.services[name].Metadata
		out.VirtualServices = append(out.VirtualServices, VirtualServiceRef{ARN: md.ARN, CreatedAt: md.CreatedAt, LastUpdatedAt: md.LastUpdatedAt,
			MeshName: c.mesh, MeshOwner: md.MeshOwner, ResourceOwner: md.ResourceOwner, Version: md.Version, VirtualServiceName: name})
	}
	return out, nil
}

// Virtual routers.

func errRouterNotFound(mesh, name string) error {
	return notFound("VirtualRouter with name %s is not present under mesh %s for account %s", name, mesh, awsproto.Account)
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
	v := &checker{}
	v.name("virtualRouterName", in.VirtualRouterName)
	v.tags(in.Tags)
	if v.required("spec", in.Spec != nil) {
		v.virtualRouterSpec(in.Spec)
	}
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
	key := "mesh/" + c.mesh + "/virtualRouter/" + in.VirtualRouterName
	repeat, err := f.checkToken(token, "CreateVirtualRouter", key, in)
	if err != nil {
		return nil, err
	}
	if re, ok := m.routers[in.VirtualRouterName]; ok {
		if repeat {
			return re.data, nil
		}
		return nil, conflict("VirtualRouter with name %s already exists under mesh %s for account %s", in.VirtualRouterName, c.mesh, awsproto.Account)
	}
	if err := f.rememberToken(token, "CreateVirtualRouter", key, in); err != nil {
		return nil, err
	}
	re := &routerEntry{
		data: VirtualRouterData{
			MeshName:          c.mesh,
			Metadata:          f.newMetadata(c.region, key),
			Spec:              *in.Spec,
			Status:            ResourceStatus{Status: StatusActive},
			VirtualRouterName: in.VirtualRouterName,
		},
		routes: make(map[string]*RouteData),
	}
	m.routers[in.VirtualRouterName] = re
	f.emit(kindVirtualRouter, "created", re.data.Metadata.ARN, detail(c.mesh, re.data.Metadata))
	f.changed()
	return re.data, nil
}

func (f *Fake) describeVirtualRouter(c call) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.mesh(c.mesh, c.owner)
	if err != nil {
		return nil, err
	}
	re, ok := m.routers[c.name]
	if !ok {
		return nil, errRouterNotFound(c.mesh, c.name)
	}
	return re.data, nil
}

func (f *Fake) updateVirtualRouter(c call) (any, error) {
	var in struct {
		ClientToken string             `json:"clientToken,omitempty"`
		Spec        *VirtualRouterSpec `json:"spec,omitempty"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	v := &checker{}
	if v.required("spec", in.Spec != nil) {
		v.virtualRouterSpec(in.Spec)
	}
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
	re, ok := m.routers[c.name]
	if !ok {
		return nil, errRouterNotFound(c.mesh, c.name)
	}
	key := "mesh/" + c.mesh + "/virtualRouter/" + c.name
	repeat, err := f.checkToken(token, "UpdateVirtualRouter", key, in)
	if err != nil || repeat {
		return re.data, err
	}
	for _, rn := range sortedNames(re.routes) {
		if err := routeFitsRouter(&re.routes[rn].Spec, in.Spec); err != nil {
			return nil, badRequest("the new listeners do not serve existing Route %s: %v", rn, err)
		}
	}
	if err := f.rememberToken(token, "UpdateVirtualRouter", key, in); err != nil {
		return nil, err
	}
	re.data.Spec = *in.Spec
	re.data.Metadata = f.bump(re.data.Metadata)
	f.emit(kindVirtualRouter, "updated", re.data.Metadata.ARN, detail(c.mesh, re.data.Metadata))
	f.changed()
	return re.data, nil
}

func (f *Fake) deleteVirtualRouter(c call) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.mesh(c.mesh, c.owner)
	if err != nil {
		return nil, err
	}
	re, ok := m.routers[c.name]
	if !ok {
		return nil, errRouterNotFound(c.mesh, c.name)
	}
	if n := len(re.routes); n > 0 {
		return nil, inUse("VirtualRouter %s still has %d route(s); delete them before deleting the router", c.name, n)
	}
	for _, sn := range sortedNames(m.services) {
		if p := m.services[sn].Spec.Provider; p != nil && p.VirtualRouter != nil && p.VirtualRouter.VirtualRouterName == c.name {
			return nil, inUse("VirtualRouter %s is the provider of VirtualService %s; update or delete the virtual service first", c.name, sn)
		}
	}
	delete(m.routers, c.name)
	out := re.data
	out.Status = ResourceStatus{Status: StatusDeleted}
	f.emit(kindVirtualRouter, "deleted", out.Metadata.ARN, detail(c.mesh, out.Metadata))
	f.changed()
	return out, nil
}

func (f *Fake) listVirtualRouters(c call) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.mesh(c.mesh, c.owner)
	if err != nil {
		return nil, err
	}
	names, next, err := pageOf(c, sortedNames(m.routers))
	if err != nil {
		return nil, err
	}
	out := struct {
		NextToken      string             `json:"nextToken,omitempty"`
		VirtualRouters []VirtualRouterRef `json:"virtualRouters"`
	}{NextToken: next, VirtualRouters: []VirtualRouterRef{}}
	for _, name := range names {
		md := m.routers[name].data.Metadata
		out.VirtualRouters = append(out.VirtualRouters, VirtualRouterRef{ARN: md.ARN, CreatedAt: md.CreatedAt, LastUpdatedAt: md.LastUpdatedAt,
			MeshName: c.mesh, MeshOwner: md.MeshOwner, ResourceOwner: md.ResourceOwner, Version: md.Version, VirtualRouterName: name})
	}
	return out, nil
}

// Routes.

func errRouteNotFound(mesh, router, name string) error {
	return notFound("Route with name %s is not present under virtualRouter %s in mesh %s for account %s", name, router, mesh, awsproto.Account)
}

// router finds the mesh and router of a route call. f.mu must be held.
func (f *Fake) router(c call) (*meshEntry, *routerEntry, error) {
	m, err := f.mesh(c.mesh, c.owner)
	if err != nil {
		return nil, nil, err
	}
	re, ok := m.routers[c.router]
	if !ok {
		return nil, nil, errRouterNotFound(c.mesh, c.router)
	}
	return m, re, nil
}

// checkRoute checks a valid route spec against its router's listeners and
// the mesh's virtual nodes.
func checkRoute(m *meshEntry, mesh string, re *routerEntry, spec *RouteSpec) error {
	if err := routeFitsRouter(spec, &re.data.Spec); err != nil {
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
	v := &checker{}
	v.name("routeName", in.RouteName)
	v.tags(in.Tags)
	if v.required("spec", in.Spec != nil) {
		v.routeSpec(in.Spec)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	token := in.ClientToken
	in.ClientToken = ""

	f.mu.Lock()
	defer f.mu.Unlock()
	m, re, err := f.router(c)
	if err != nil {
		return nil, err
	}
	key := "mesh/" + c.mesh + "/virtualRouter/" + c.router + "/route/" + in.RouteName
	repeat, err := f.checkToken(token, "CreateRoute", key, in)
	if err != nil {
		return nil, err
	}
	if r, ok := re.routes[in.RouteName]; ok {
		if repeat {
			return *r, nil
		}
		return nil, conflict("Route with name %s already exists under virtualRouter %s in mesh %s for account %s",
			in.RouteName, c.router, c.mesh, awsproto.Account)
	}
	if err := checkRoute(m, c.mesh, re, in.Spec); err != nil {
		return nil, err
	}
	if err := f.rememberToken(token, "CreateRoute", key, in); err != nil {
		return nil, err
	}
	r := &RouteData{
		MeshName:          c.mesh,
		Metadata:          f.newMetadata(c.region, key),
		RouteName:         in.RouteName,
		Spec:              *in.Spec,
		Status:            ResourceStatus{Status: StatusActive},
		VirtualRouterName: c.router,
	}
	re.routes[in.RouteName] = r
	f.emit(kindRoute, "created", r.Metadata.ARN, routeDetail(r))
	f.changed()
	return *r, nil
}

func (f *Fake) describeRoute(c call) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, re, err := f.router(c)
	if err != nil {
		return nil, err
	}
	r, ok := re.routes[c.name]
	if !ok {
		return nil, errRouteNotFound(c.mesh, c.router, c.name)
	}
	return *r, nil
}

func (f *Fake) updateRoute(c call) (any, error) {
	var in struct {
		ClientToken string     `json:"clientToken,omitempty"`
		Spec        *RouteSpec `json:"spec,omitempty"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	v := &checker{}
	if v.required("spec", in.Spec != nil) {
		v.routeSpec(in.Spec)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	token := in.ClientToken
	in.ClientToken = ""

	f.mu.Lock()
	defer f.mu.Unlock()
	m, re, err := f.router(c)
	if err != nil {
		return nil, err
	}
	r, ok := re.routes[c.name]
	if !ok {
		return nil, errRouteNotFound(c.mesh, c.router, c.name)
	}
	key := "mesh/" + c.mesh + "/virtualRouter/" + c.router + "/route/" + c.name
	repeat, err := f.checkToken(token, "UpdateRoute", key, in)
	if err != nil || repeat {
		return *r, err
	}
	if err := checkRoute(m, c.mesh, re, in.Spec); err != nil {
		return nil, err
	}
	if err := f.rememberToken(token, "UpdateRoute", key, in); err != nil {
		return nil, err
	}
	r.Spec = *in.Spec
	r.Metadata = f.bump(r.Metadata)
	f.emit(kindRoute, "updated", r.Metadata.ARN, routeDetail(r))
	f.changed()
	return *r, nil
}

func (f *Fake) deleteRoute(c call) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, re, err := f.router(c)
	if err != nil {
		return nil, err
	}
	r, ok := re.routes[c.name]
	if !ok {
		return nil, errRouteNotFound(c.mesh, c.router, c.name)
	}
	delete(re.routes, c.name)
	out := *r
	out.Status = ResourceStatus{Status: StatusDeleted}
	f.emit(kindRoute, "deleted", out.Metadata.ARN, routeDetail(&out))
	f.changed()
	return out, nil
}

func (f *Fake) listRoutes(c call) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, re, err := f.router(c)
	if err != nil {
		return nil, err
	}
	names, next, err := pageOf(c, sortedNames(re.routes))
	if err != nil {
		return nil, err
	}
	out := struct {
		NextToken string     `json:"nextToken,omitempty"`
		Routes    []RouteRef `json:"routes"`
	}{NextToken: next, Routes: []RouteRef{}}
	for _, name := range names {
		md := re.routes[name].Metadata
		out.Routes = append(out.Routes, RouteRef{ARN: md.ARN, CreatedAt: md.CreatedAt, LastUpdatedAt: md.LastUpdatedAt,
			MeshName: c.mesh, MeshOwner: md.MeshOwner, ResourceOwner: md.ResourceOwner, RouteName: name,
			Version: md.Version, VirtualRouterName: c.router})
	}
	return out, nil
}
