package appmesh

import (
	"fmt"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// A kind is one type of resource that lives in a mesh (virtual nodes,
// virtual services, virtual routers) or in a virtual router (routes): D is its
// data, S its spec and R its summary in list responses. The methods of kind
// are the API's create, describe, update, delete and list flow, which is the
// same for every such type; the fields say what is particular to one.
type kind[D, S, R any] struct {
	name       string // in operation names and messages: "VirtualNode"
	event      string // in event types and resource keys: "virtualNode"
	nameMember string // the resource's name in create requests: "virtualNodeName"
	listMember string // the member of list responses: "virtualNodes"

	// items returns the mesh c addresses and the resources of the kind that
	// c addresses in it. f.mu is held.
	items func(f *Fake, c call) (*meshEntry, map[string]*D, error)
	// validate checks a spec on its own, normalising it first where AWS does.
	validate func(v *checker, spec *S)
	// check, when not nil, checks a valid spec for the resource name against
	// the rest of mesh m, on create and on update.
	check func(m *meshEntry, c call, name string, spec *S) error
	// release, when not nil, reports why the resource name cannot be deleted
	// from mesh m, and otherwise frees what m keeps for it.
	release func(m *meshEntry, name string) error

	// new returns a new resource in the mesh or router c addresses.
	new func(c call, name string, md ResourceMetadata, spec S) *D
	// parts returns the metadata, spec and status of a resource.
	parts func(d *D) (*ResourceMetadata, *S, *ResourceStatus)
	// ref returns the summary of a resource.
	ref func(d *D) R
	// detail returns the detail of a resource's events.
	detail func(d *D) map[string]string
}

// inMesh returns the items function of a kind whose resources live in a
// mesh, in the map that pick returns.
func inMesh[D any](pick func(m *meshEntry) map[string]*D) func(f *Fake, c call) (*meshEntry, map[string]*D, error) {
	return func(f *Fake, c call) (*meshEntry, map[string]*D, error) {
		m, err := f.mesh(c.mesh, c.owner)
		if err != nil {
			return nil, nil, err
		}
		return m, pick(m), nil
	}
}

// parent returns the key of the mesh or virtual router whose resources c
// addresses, and where messages say they are.
func (c call) parent() (key, where string) {
	if c.gateway != "" {
		return "mesh/" + c.mesh + "/virtualGateway/" + c.gateway, fmt.Sprintf("under virtualGateway %s in mesh %s", c.gateway, c.mesh)
	}
	if c.router != "" {
		return "mesh/" + c.mesh + "/virtualRouter/" + c.router, fmt.Sprintf("under virtualRouter %s in mesh %s", c.router, c.mesh)
	}
	return "mesh/" + c.mesh, "under mesh " + c.mesh
}

// key returns the key of the resource name: the last part of its ARN, and
// what its clientTokens are for.
func (k *kind[D, S, R]) key(c call, name string) string {
	parent, _ := c.parent()
	return parent + "/" + k.event + "/" + name
}

// lookup returns the mesh c addresses, the resources of the kind in it and
// the resource c names. f.mu is held.
func (k *kind[D, S, R]) lookup(f *Fake, c call) (*meshEntry, map[string]*D, *D, error) {
	m, items, err := k.items(f, c)
	if err != nil {
		return nil, nil, nil, err
	}
	d, ok := items[c.name]
	if !ok {
		_, where := c.parent()
		return nil, nil, nil, notFound("%s with name %s is not present %s for account %s", k.name, c.name, where, awsproto.Account)
	}
	return m, items, d, nil
}

// create adds the resource name with spec and tags, which the request in,
// its clientToken token taken out, asks for.
func (k *kind[D, S, R]) create(f *Fake, c call, token, name string, tags []TagRef, spec *S, in any) (any, error) {
	v := &checker{}
	v.name(k.nameMember, name)
	v.tags(tags)
	if v.required("spec", spec != nil) {
		k.validate(v, spec)
	}
	if err := v.err(); err != nil {
		return nil, err
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	m, items, err := k.items(f, c)
	if err != nil {
		return nil, err
	}
	op, key := "Create"+k.name, k.key(c, name)
	repeat, err := f.checkToken(token, op, key, in)
	if err != nil {
		return nil, err
	}
	if d, ok := items[name]; ok {
		if repeat {
			return *d, nil
		}
		_, where := c.parent()
		return nil, conflict("%s with name %s already exists %s for account %s", k.name, name, where, awsproto.Account)
	}
	if k.check != nil {
		if err := k.check(m, c, name, spec); err != nil {
			return nil, err
		}
	}
	if err := f.rememberToken(token, op, key, in); err != nil {
		return nil, err
	}
	d := k.new(c, name, f.newMetadata(c.region, key), *spec)
	items[name] = d
	md, _, _ := k.parts(d)
	f.tags[md.ARN] = append([]TagRef{}, tags...)
	f.emit(k.event, "created", md.ARN, k.detail(d))
	f.changed()
	return *d, nil
}

func (k *kind[D, S, R]) describe(f *Fake, c call) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, _, d, err := k.lookup(f, c)
	if err != nil {
		return nil, err
	}
	return *d, nil
}

func (k *kind[D, S, R]) update(f *Fake, c call) (any, error) {
	var in struct {
		ClientToken string `json:"clientToken,omitempty"`
		Spec        *S     `json:"spec,omitempty"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	v := &checker{}
	if v.required("spec", in.Spec != nil) {
		k.validate(v, in.Spec)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	token := in.ClientToken
	in.ClientToken = ""

	f.mu.Lock()
	defer f.mu.Unlock()
	m, _, d, err := k.lookup(f, c)
	if err != nil {
		return nil, err
	}
	op, key := "Update"+k.name, k.key(c, c.name)
	repeat, err := f.checkToken(token, op, key, in)
	if err != nil || repeat {
		return *d, err
	}
	if k.check != nil {
		if err := k.check(m, c, c.name, in.Spec); err != nil {
			return nil, err
		}
	}
	if err := f.rememberToken(token, op, key, in); err != nil {
		return nil, err
	}
	md, spec, _ := k.parts(d)
	*spec = *in.Spec
	*md = f.bump(*md)
	f.emit(k.event, "updated", md.ARN, k.detail(d))
	f.changed()
	return *d, nil
}

func (k *kind[D, S, R]) delete(f *Fake, c call) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, items, d, err := k.lookup(f, c)
	if err != nil {
		return nil, err
	}
	if k.release != nil {
		if err := k.release(m, c.name); err != nil {
			return nil, err
		}
	}
	delete(items, c.name)
	out := *d
	md, _, status := k.parts(&out)
	delete(f.tags, md.ARN)
	*status = ResourceStatus{Status: StatusDeleted}
	f.emit(k.event, "deleted", md.ARN, k.detail(&out))
	f.changed()
	return out, nil
}

func (k *kind[D, S, R]) list(f *Fake, c call) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, items, err := k.items(f, c)
	if err != nil {
		return nil, err
	}
	return listOf(c, k.listMember, items, k.ref)
}

// listOf returns the page of items that c asks for, each summarised by ref,
// as the member of a list response.
func listOf[D, R any](c call, member string, items map[string]*D, ref func(*D) R) (any, error) {
	names, next, err := pageOf(c, sortedNames(items))
	if err != nil {
		return nil, err
	}
	refs := make([]R, 0, len(names))
	for _, name := range names {
		refs = append(refs, ref(items[name]))
	}
	// A map encodes with its keys sorted, which is the order of the API.
	out := map[string]any{member: refs}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}
