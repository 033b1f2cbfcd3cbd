// Package appmesh is a fake of the AWS App Mesh API (2019-01-25): meshes,
// virtual nodes, virtual services, virtual routers and routes, with the whole
// specification of each as the API defines it, AWS's validation, metadata
// (ARN, uid, version) and errors.
//
// The fake speaks REST-JSON under /v20190125/ as real clients expect: creates
// are PUTs, route paths use the singular "virtualRouter", response bodies are
// the resource data itself, and errors carry X-Amzn-Errortype with 400, 404 or
// 409. It never proxies traffic: sim reads State and turns it into xDS.
package appmesh

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/events"
)

// PathPrefix is where the App Mesh API lives; mount the fake with
// endpoint.HandlePath(appmesh.PathPrefix, f).
const PathPrefix = "/v20190125/"

// Resource statuses.
const (
	StatusActive  = "ACTIVE"
	StatusDeleted = "DELETED"
)

// Options configure a Fake.
type Options struct {
	// Bus receives the fake's events (Source "appmesh"); nil drops them.
	Bus *events.Bus
}

// Fake is an in-memory App Mesh. It is safe for concurrent use.
type Fake struct {
	bus *events.Bus
	now func() time.Time
	api *awsproto.REST

	changes events.Changes

	mu     sync.Mutex
	meshes map[string]*meshEntry
	tokens map[string]tokenUse
	// tokenOrder holds the remembered clientTokens, oldest first; beyond
	// tokenLimit of them the oldest are forgotten, as AWS honours a token
	// for a while only, so memory does not grow with the number of calls
	// (the SDK gives every create its own token).
	tokenOrder []string
	tokenLimit int
	// tags holds the tags of every resource, by ARN; a resource has an
	// entry (perhaps empty) from its creation to its deletion.
	tags map[string][]TagRef
}

// TokenHistory is how many clientTokens the fake remembers: a request that
// repeats one of the last TokenHistory tokens is answered as a retry.
const TokenHistory = 10000

type meshEntry struct {
	data     MeshData
	nodes    map[string]*VirtualNodeData
	services map[string]*VirtualServiceData
	routers  map[string]*VirtualRouterData
	routes   map[string]map[string]*RouteData // by virtual router name
	gateways map[string]*VirtualGatewayData
	// gatewayRoutes holds the gateway routes by virtual gateway name.
	gatewayRoutes map[string]map[string]*GatewayRouteData
}

// tokenUse is what a clientToken was first used for, so that a retried
// request is answered without applying it twice.
type tokenUse struct {
	op, key string
	req     []byte
}

// call is one API request with its path parameters.
type call struct {
	*awsproto.Call
	region  string
	owner   string // meshOwner query parameter
	mesh    string
	router  string
	gateway string
	name    string
}

// New returns an empty App Mesh.
func New(opts Options) *Fake {
	f := &Fake{
		bus:        opts.Bus,
		now:        func() time.Time { return time.UnixMilli(time.Now().UnixMilli()).UTC() },
		meshes:     make(map[string]*meshEntry),
		tokens:     make(map[string]tokenUse),
		tokenLimit: TokenHistory,
		tags:       make(map[string][]TagRef),
	}
	f.api = &awsproto.REST{Service: "App Mesh", PathPrefix: PathPrefix, BadRequest: "BadRequestException"}
	add := func(op, method, pattern string, h func(*Fake, call) (any, error)) {
		f.api.Handle(op, method, pattern, func(ac *awsproto.Call) (any, error) {
			return h(f, call{Call: ac, region: ac.Region, owner: ac.Query.Get("meshOwner"),
				mesh: ac.Params["mesh"], router: ac.Params["router"], gateway: ac.Params["gateway"], name: ac.Params["name"]})
		})
	}
	add("CreateMesh", http.MethodPut, "meshes", (*Fake).createMesh)
	add("ListMeshes", http.MethodGet, "meshes", (*Fake).listMeshes)
	add("DescribeMesh", http.MethodGet, "meshes/{mesh}", (*Fake).describeMesh)
	add("UpdateMesh", http.MethodPut, "meshes/{mesh}", (*Fake).updateMesh)
	add("DeleteMesh", http.MethodDelete, "meshes/{mesh}", (*Fake).deleteMesh)

	add("CreateVirtualNode", http.MethodPut, "meshes/{mesh}/virtualNodes", (*Fake).createVirtualNode)
	add("ListVirtualNodes", http.MethodGet, "meshes/{mesh}/virtualNodes", virtualNodes.list)
	add("DescribeVirtualNode", http.MethodGet, "meshes/{mesh}/virtualNodes/{name}", virtualNodes.describe)
	add("UpdateVirtualNode", http.MethodPut, "meshes/{mesh}/virtualNodes/{name}", virtualNodes.update)
	add("DeleteVirtualNode", http.MethodDelete, "meshes/{mesh}/virtualNodes/{name}", virtualNodes.delete)

	add("CreateVirtualService", http.MethodPut, "meshes/{mesh}/virtualServices", (*Fake).createVirtualService)
	add("ListVirtualServices", http.MethodGet, "meshes/{mesh}/virtualServices", virtualServices.list)
	add("DescribeVirtualService", http.MethodGet, "meshes/{mesh}/virtualServices/{name}", virtualServices.describe)
	add("UpdateVirtualService", http.MethodPut, "meshes/{mesh}/virtualServices/{name}", virtualServices.update)
	add("DeleteVirtualService", http.MethodDelete, "meshes/{mesh}/virtualServices/{name}", virtualServices.delete)

	add("CreateVirtualRouter", http.MethodPut, "meshes/{mesh}/virtualRouters", (*Fake).createVirtualRouter)
	add("ListVirtualRouters", http.MethodGet, "meshes/{mesh}/virtualRouters", virtualRouters.list)
	add("DescribeVirtualRouter", http.MethodGet, "meshes/{mesh}/virtualRouters/{name}", virtualRouters.describe)
	add("UpdateVirtualRouter", http.MethodPut, "meshes/{mesh}/virtualRouters/{name}", virtualRouters.update)
	add("DeleteVirtualRouter", http.MethodDelete, "meshes/{mesh}/virtualRouters/{name}", virtualRouters.delete)

	add("CreateRoute", http.MethodPut, "meshes/{mesh}/virtualRouter/{router}/routes", (*Fake).createRoute)
	add("ListRoutes", http.MethodGet, "meshes/{mesh}/virtualRouter/{router}/routes", routes.list)
	add("DescribeRoute", http.MethodGet, "meshes/{mesh}/virtualRouter/{router}/routes/{name}", routes.describe)
	add("UpdateRoute", http.MethodPut, "meshes/{mesh}/virtualRouter/{router}/routes/{name}", routes.update)
	add("DeleteRoute", http.MethodDelete, "meshes/{mesh}/virtualRouter/{router}/routes/{name}", routes.delete)

	add("CreateVirtualGateway", http.MethodPut, "meshes/{mesh}/virtualGateways", (*Fake).createVirtualGateway)
	add("ListVirtualGateways", http.MethodGet, "meshes/{mesh}/virtualGateways", virtualGateways.list)
	add("DescribeVirtualGateway", http.MethodGet, "meshes/{mesh}/virtualGateways/{name}", virtualGateways.describe)
	add("UpdateVirtualGateway", http.MethodPut, "meshes/{mesh}/virtualGateways/{name}", virtualGateways.update)
	add("DeleteVirtualGateway", http.MethodDelete, "meshes/{mesh}/virtualGateways/{name}", virtualGateways.delete)

	add("CreateGatewayRoute", http.MethodPut, "meshes/{mesh}/virtualGateway/{gateway}/gatewayRoutes", (*Fake).createGatewayRoute)
	add("ListGatewayRoutes", http.MethodGet, "meshes/{mesh}/virtualGateway/{gateway}/gatewayRoutes", gatewayRoutes.list)
	add("DescribeGatewayRoute", http.MethodGet, "meshes/{mesh}/virtualGateway/{gateway}/gatewayRoutes/{name}", gatewayRoutes.describe)
	add("UpdateGatewayRoute", http.MethodPut, "meshes/{mesh}/virtualGateway/{gateway}/gatewayRoutes/{name}", gatewayRoutes.update)
	add("DeleteGatewayRoute", http.MethodDelete, "meshes/{mesh}/virtualGateway/{gateway}/gatewayRoutes/{name}", gatewayRoutes.delete)

	add("ListTagsForResource", http.MethodGet, "tags", (*Fake).listTagsForResource)
	add("TagResource", http.MethodPut, "tag", (*Fake).tagResource)
	add("UntagResource", http.MethodPut, "untag", (*Fake).untagResource)
	return f
}

// ServeHTTP implements the App Mesh REST-JSON API.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.api.ServeHTTP(w, r) }

// Operations returns the names of the operations the fake serves, sorted.
func (f *Fake) Operations() []string { return f.api.Operations() }

// Watch returns a channel that receives a value after any resource is
// created, updated or deleted. Notifications coalesce: the channel has a
// buffer of one. Call Watch before reading State, then re-read State on every
// value. The channel is closed when ctx ends.
func (f *Fake) Watch(ctx context.Context) <-chan struct{} {
	return f.changes.Watch(ctx)
}

// State returns a deep copy of all meshes with their virtual nodes, virtual
// services, virtual routers and routes, virtual gateways and gateway
// routes, each level ordered by name.
func (f *Fake) State() State {
	f.mu.Lock()
	defer f.mu.Unlock()
	var st State
	for _, name := range sortedNames(f.meshes) {
		m := f.meshes[name]
		ms := MeshState{Mesh: deepCopy(m.data)}
		for _, n := range sortedNames(m.nodes) {
			ms.VirtualNodes = append(ms.VirtualNodes, deepCopy(*m.nodes[n]))
		}
		for _, n := range sortedNames(m.services) {
			ms.VirtualServices = append(ms.VirtualServices, deepCopy(*m.services[n]))
		}
		for _, n := range sortedNames(m.routers) {
			rs := VirtualRouterState{VirtualRouter: deepCopy(*m.routers[n])}
			for _, rn := range sortedNames(m.routes[n]) {
				rs.Routes = append(rs.Routes, deepCopy(*m.routes[n][rn]))
			}
			ms.VirtualRouters = append(ms.VirtualRouters, rs)
		}
		for _, n := range sortedNames(m.gateways) {
			gs := VirtualGatewayState{VirtualGateway: deepCopy(*m.gateways[n])}
			for _, rn := range sortedNames(m.gatewayRoutes[n]) {
				gs.GatewayRoutes = append(gs.GatewayRoutes, deepCopy(*m.gatewayRoutes[n][rn]))
			}
			ms.VirtualGateways = append(ms.VirtualGateways, gs)
		}
		st.Meshes = append(st.Meshes, ms)
	}
	return st
}

// changed notifies the watchers.
func (f *Fake) changed() { f.changes.Notify() }

// emit publishes "<kind>.<what>" about the resource arn.
func (f *Fake) emit(kind, what, arn string, detail map[string]string) {
	if f.bus == nil {
		return
	}
	f.bus.Emit(events.Event{Source: contract.SourceAppMesh, Type: contract.EventType(kind + "." + what), Resource: arn, Detail: detail})
}

// checkToken reports whether a request with clientToken token repeats the
// request that first used the token (same operation, resource and body). A
// token reused for a different request is a ConflictException. f.mu must be
// held.
func (f *Fake) checkToken(token, op, key string, body any) (repeat bool, err error) {
	if token == "" {
		return false, nil
	}
	req, err := json.Marshal(body)
	if err != nil {
		return false, fmt.Errorf("fingerprinting request: %w", err)
	}
	use, ok := f.tokens[token]
	if !ok {
		return false, nil
	}
	if use.op == op && use.key == key && bytes.Equal(use.req, req) {
		return true, nil
	}
	return false, conflict("clientToken %s was already used for a different request (%s)", token, use.op)
}

// rememberToken records what token was used for. f.mu must be held.
func (f *Fake) rememberToken(token, op, key string, body any) error {
	if token == "" {
		return nil
	}
	req, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("fingerprinting request: %w", err)
	}
	if _, ok := f.tokens[token]; !ok {
		f.tokenOrder = append(f.tokenOrder, token)
	}
	f.tokens[token] = tokenUse{op: op, key: key, req: req}
	for len(f.tokenOrder) > f.tokenLimit {
		delete(f.tokens, f.tokenOrder[0])
		f.tokenOrder = f.tokenOrder[1:]
	}
	return nil
}

// mesh finds a mesh owned by owner (the account, when empty). f.mu must be
// held.
func (f *Fake) mesh(name, owner string) (*meshEntry, error) {
	if owner == "" {
		owner = awsproto.Account
	}
	m, ok := f.meshes[name]
	if !ok || owner != awsproto.Account {
		return nil, notFound("Mesh with name %s is not present for account %s", name, owner)
	}
	return m, nil
}

func (f *Fake) newMetadata(region, resource string) ResourceMetadata {
	now := Timestamp{f.now()}
	return ResourceMetadata{
		ARN:           awsproto.ARN(region, "appmesh", resource),
		CreatedAt:     now,
		LastUpdatedAt: now,
		MeshOwner:     awsproto.Account,
		ResourceOwner: awsproto.Account,
		UID:           newUID(),
		Version:       1,
	}
}

// bump records an update in md.
func (f *Fake) bump(md ResourceMetadata) ResourceMetadata {
	md.Version++
	md.LastUpdatedAt = Timestamp{f.now()}
	return md
}

func detail(mesh string, md ResourceMetadata) map[string]string {
	return map[string]string{"mesh": mesh, "version": strconv.FormatInt(md.Version, 10)}
}

func notFound(format string, args ...any) error {
	return awsproto.Errorf(http.StatusNotFound, "NotFoundException", format, args...)
}

func conflict(format string, args ...any) error {
	return awsproto.Errorf(http.StatusConflict, "ConflictException", format, args...)
}

func badRequest(format string, args ...any) error {
	return awsproto.Errorf(http.StatusBadRequest, "BadRequestException", format, args...)
}

func inUse(format string, args ...any) error {
	return awsproto.Errorf(http.StatusConflict, "ResourceInUseException", format, args...)
}

func decode(c call, v any) error { return c.Decode(v) }

// paging is how App Mesh's List operations page: limit 1 to 100 (100 by
// default), opaque nextTokens, BadRequestException for a bad value.
var paging = awsproto.Paging{Default: 100, Max: 100, SizeMember: "limit", TokenMember: "nextToken", Code: "BadRequestException"}

// pageOf returns one page of the sorted names after nextToken, and the token
// of the following page, as the limit and nextToken query parameters ask.
func pageOf(c call, names []string) ([]string, string, error) {
	var size *int
	if s := c.Query.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, "", badRequest("limit must be between 1 and 100, not %q", s)
		}
		size = &n
	}
	return awsproto.Page(paging, names, awsproto.Self, c.Query.Get("nextToken"), size)
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func newUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// deepCopy returns a copy of v that shares no pointers, slices or maps with it.
func deepCopy[T any](v T) T {
	return copyValue(reflect.ValueOf(v)).Interface().(T)
}

func copyValue(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		p := reflect.New(v.Elem().Type())
		p.Elem().Set(copyValue(v.Elem()))
		return p
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		s := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			s.Index(i).Set(copyValue(v.Index(i)))
		}
		return s
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		m := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			m.SetMapIndex(it.Key(), copyValue(it.Value()))
		}
		return m
	case reflect.Struct:
		s := reflect.New(v.Type()).Elem()
		s.Set(v)
		for i := 0; i < v.NumField(); i++ {
			if s.Field(i).CanSet() {
				s.Field(i).Set(copyValue(v.Field(i)))
			}
		}
		return s
	}
	return v
}
