package awsproto

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Call is one request to an operation, as a Handler sees it: the operation
// it names, the region of its signature, its body (read whole, at most
// MaxBodyBytes) and, for REST-JSON, the path parameters and the query.
type Call struct {
	// Operation is the operation's name, as the SDKs name it
	// ("CreateService", "DescribeMesh").
	Operation string
	// Region is the region of the request's SigV4 signature (see Region).
	Region string
	// Body is the request body; empty when the request had none.
	Body []byte
	// Params are the REST path parameters captured by the route's pattern
	// ("{meshName}" → Params["meshName"]); nil for JSON 1.1.
	Params map[string]string
	// Query is the URL query of a REST request.
	Query url.Values
	// HTTP is the request itself, for headers. Its body has been read.
	HTTP *http.Request

	badRequest string
}

// Decode decodes the call's body into v as DecodeBytes does, with the error
// code of the dispatcher's BadRequest.
func (c *Call) Decode(v any) error { return DecodeBytes(c.Body, v, c.badRequest) }

// Handler serves one operation: it returns the response body, encoded as
// JSON, or an error, written in the protocol's error shape (an *Error keeps
// its status and code; any other error is a 500).
type Handler func(c *Call) (any, error)

// Typed adapts fn, whose input is a JSON structure In, to a Handler: the
// body is decoded into a new In with Call.Decode first.
func Typed[In any](fn func(c *Call, in *In) (any, error)) Handler {
	return func(c *Call) (any, error) {
		var in In
		if err := c.Decode(&in); err != nil {
			return nil, err
		}
		return fn(c, &in)
	}
}

// JSONRPC serves a JSON 1.1 API (ECS, Cloud Map): POST / with
// X-Amz-Target: PREFIX.Operation, answered with the operation's Handler.
// An unknown target, an operation it has no Handler for, or a method other
// than POST is answered 400 UnknownOperationException, as AWS's JSON
// services answer it. Register every operation with Handle before serving.
//
//	d := &awsproto.JSONRPC{Service: "ECS", TargetPrefix: "AmazonEC2ContainerServiceV20141113",
//		MessageKey: "message", BadRequest: "InvalidParameterException", Internal: "ServerException"}
//	d.Handle("ListClusters", awsproto.Typed(f.listClusters))
//	// func (f *Fake) listClusters(c *awsproto.Call, in *listClustersInput) (any, error)
type JSONRPC struct {
	// Service names the API in messages ("ECS", "Cloud Map").
	Service string
	// TargetPrefix is the part of X-Amz-Target before the dot.
	TargetPrefix string
	// MessageKey is the error shape's message member: "message" (ECS) or
	// "Message" (Cloud Map).
	MessageKey string
	// BadRequest is the error code of a body that Call.Decode cannot
	// decode (not JSON, not UTF-8, a member of the wrong type).
	BadRequest string
	// Internal is the error code of a 500 (the service's fault shape).
	Internal string

	ops map[string]Handler
}

// Handle registers h as operation op. It panics when op is registered
// twice, a programming error.
func (d *JSONRPC) Handle(op string, h Handler) {
	if d.ops == nil {
		d.ops = make(map[string]Handler)
	}
	if _, dup := d.ops[op]; dup {
		panic("awsproto: operation " + op + " registered twice")
	}
	d.ops[op] = h
}

// Operations returns the names of the registered operations, sorted.
func (d *JSONRPC) Operations() []string {
	names := make([]string, 0, len(d.ops))
	for op := range d.ops {
		names = append(names, op)
	}
	slices.Sort(names)
	return names
}

// ServeHTTP implements http.Handler.
func (d *JSONRPC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out, err := d.serve(r)
	if err != nil {
		WriteJSON11Error(w, err, d.MessageKey, d.Internal)
		return
	}
	WriteJSON11(w, out)
}

func (d *JSONRPC) serve(r *http.Request) (any, error) {
	target := r.Header.Get("X-Amz-Target")
	prefix, op, _ := strings.Cut(target, ".")
	h, ok := d.ops[op]
	switch {
	case prefix != d.TargetPrefix:
		return nil, UnknownOperation(http.StatusBadRequest, "X-Amz-Target %q is not a %s operation", target, d.Service)
	case r.Method != http.MethodPost:
		return nil, UnknownOperation(http.StatusBadRequest, "%s operations are POST requests, not %s", d.Service, r.Method)
	case !ok:
		return nil, UnknownOperation(http.StatusBadRequest, "meshsim's %s does not implement %s", d.Service, op)
	}
	body, err := ReadBody(r, d.BadRequest)
	if err != nil {
		return nil, err
	}
	return h(&Call{Operation: op, Region: Region(r), Body: body, HTTP: r, badRequest: d.BadRequest})
}

// REST serves a REST-JSON API (App Mesh): each operation is a method and a
// path pattern under PathPrefix, whose segments in braces capture path
// parameters. A request that matches no route is answered 404
// UnknownOperationException, as AWS's REST-JSON services answer it.
// Register every route with Handle before serving.
//
//	d := &awsproto.REST{Service: "App Mesh", PathPrefix: "/v20190125/", BadRequest: "BadRequestException"}
//	d.Handle("DescribeMesh", http.MethodGet, "meshes/{meshName}", f.describeMesh)
//	// func (f *Fake) describeMesh(c *awsproto.Call) (any, error) { name := c.Params["meshName"] ... }
type REST struct {
	// Service names the API in messages ("App Mesh").
	Service string
	// PathPrefix is where the API lives, with a trailing slash.
	PathPrefix string
	// BadRequest is the error code of a body that Call.Decode cannot decode,
	// and of a path segment that is not valid percent-encoding.
	BadRequest string

	routes []route
}

type route struct {
	op, method string
	pattern    []string
	h          Handler
}

// Handle registers h as operation op, served for method on pattern (a path
// relative to PathPrefix, such as "meshes/{meshName}/virtualNodes").
func (d *REST) Handle(op, method, pattern string, h Handler) {
	d.routes = append(d.routes, route{op: op, method: method, pattern: strings.Split(pattern, "/"), h: h})
}

// Operations returns the names of the registered operations, sorted.
func (d *REST) Operations() []string {
	names := make([]string, 0, len(d.routes))
	for _, rt := range d.routes {
		names = append(names, rt.op)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// ServeHTTP implements http.Handler.
func (d *REST) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out, err := d.serve(r)
	if err != nil {
		WriteRESTError(w, err)
		return
	}
	WriteREST(w, out)
}

func (d *REST) serve(r *http.Request) (any, error) {
	unknown := UnknownOperation(http.StatusNotFound, "meshsim's %s does not implement %s %s", d.Service, r.Method, r.URL.Path)
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), d.PathPrefix)
	if !ok {
		return nil, unknown
	}
	segs := strings.Split(rest, "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, Errorf(http.StatusBadRequest, d.BadRequest, "path segment %q is not valid: %v", s, err)
		}
		segs[i] = u
	}
	for _, rt := range d.routes {
		params, ok := match(rt.pattern, segs)
		if !ok || rt.method != r.Method {
			continue
		}
		body, err := ReadBody(r, d.BadRequest)
		if err != nil {
			return nil, err
		}
		return rt.h(&Call{Operation: rt.op, Region: Region(r), Body: body, Params: params,
			Query: r.URL.Query(), HTTP: r, badRequest: d.BadRequest})
	}
	return nil, unknown
}

// match matches path segments against a pattern, capturing the segments
// that stand for "{name}" (never empty).
func match(pattern, segs []string) (map[string]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	params := make(map[string]string)
	for i, p := range pattern {
		if name, ok := strings.CutPrefix(p, "{"); ok {
			if segs[i] == "" {
				return nil, false
			}
			params[strings.TrimSuffix(name, "}")] = segs[i]
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// UnknownOperation is the error of a request that names no operation of the
// API: UnknownOperationException with status 400 (JSON 1.1) or 404
// (REST-JSON).
func UnknownOperation(status int, format string, args ...any) *Error {
	return Errorf(status, CodeUnknownOperation, format, args...)
}

// CodeUnknownOperation is the error code of a request for an operation the
// API does not have (or the fake does not implement).
const CodeUnknownOperation = "UnknownOperationException"
