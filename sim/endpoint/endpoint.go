// Package endpoint is the fakes' single front door, LocalStack-style: one
// HTTP endpoint that routes JSON 1.1 requests by their X-Amz-Target prefix,
// REST-JSON requests by path and Query protocol requests (form-encoded,
// with an Action) by the service named in their SigV4 credential scope,
// ignoring the Host header (so the SDK's
// "data-" host prefix and any virtual host reach the same place). It also
// serves meshsim's own paths under /_meshsim/.
package endpoint

import (
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
	"github.com/meshsim/meshsim/sim/events"
)

// Endpoint routes requests to the service fakes. Register handlers and set
// the limits before serving.
//
// A request's body is read whole before it is routed: at most
// awsproto.MaxBodyBytes (a larger one is answered 413
// RequestEntityTooLargeException), and within BodyTimeout (a body trickled
// more slowly is answered 408 RequestTimeoutException and its connection
// closed), so a slow or hostile client cannot hold a handler.
type Endpoint struct {
	// HeaderTimeout is how long a request's headers may take to arrive
	// (http.Server.ReadHeaderTimeout of Server); 0 means 10 s.
	HeaderTimeout time.Duration
	// BodyTimeout is how long a request's body may take to arrive once its
	// headers have; 0 means 30 s.
	BodyTimeout time.Duration

	targets  map[string]http.Handler // X-Amz-Target prefix (before the dot)
	services map[string]queryRoute   // SigV4 service name
	paths    []pathRoute
	bus      *events.Bus
}

// Server returns an http.Server that serves e with its header timeout and
// an idle timeout for kept-alive connections. Serve it on Listener(ln).
func (e *Endpoint) Server() *http.Server {
	return &http.Server{
		Handler:           e,
		ReadHeaderTimeout: cmp.Or(e.HeaderTimeout, 10*time.Second),
		IdleTimeout:       2 * time.Minute,
	}
}

type queryRoute struct {
	namespace string
	h         http.Handler
}

type pathRoute struct {
	prefix string
	h      http.Handler
}

// New returns an endpoint that serves the events of bus on
// GET /_meshsim/events.
func New(bus *events.Bus) *Endpoint {
	return &Endpoint{targets: make(map[string]http.Handler), services: make(map[string]queryRoute), bus: bus}
}

// HandleService routes requests without an X-Amz-Target whose SigV4
// credential scope names service (for example "elasticloadbalancing") to
// h, a Query protocol service whose XML namespace is namespace (used for
// the errors the endpoint itself answers).
func (e *Endpoint) HandleService(service, namespace string, h http.Handler) {
	e.services[service] = queryRoute{namespace, h}
}

// HandleTarget routes JSON 1.1 requests whose X-Amz-Target is PREFIX.Op to h,
// for example "AmazonEC2ContainerServiceV20141113".
func (e *Endpoint) HandleTarget(prefix string, h http.Handler) {
	e.targets[prefix] = h
}

// HandlePath routes requests whose path starts with prefix to h, for example
// "/v20190125/".
func (e *Endpoint) HandlePath(prefix string, h http.Handler) {
	e.paths = append(e.paths, pathRoute{prefix, h})
}

// ServeHTTP implements http.Handler.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/_meshsim/health":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"running"}`))
		return
	case "/_meshsim/events":
		e.serveEvents(w, r)
		return
	}
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		prefix, _, _ := strings.Cut(t, ".")
		h, ok := e.targets[prefix]
		if !ok {
			awsproto.WriteJSON11Error(w, awsproto.Errorf(http.StatusBadRequest, "UnknownOperationException",
				"no service answers X-Amz-Target %q at this endpoint", t), "message", "InternalFailure")
			return
		}
		if err := e.readBody(w, r); err != nil {
			awsproto.WriteJSON11Error(w, err, "message", "InternalFailure")
			return
		}
		h.ServeHTTP(w, r)
		return
	}
	if q, ok := e.services[awsproto.Service(r)]; ok {
		if err := e.readBody(w, r); err != nil {
			awsproto.WriteQueryError(w, q.namespace, err)
			return
		}
		q.h.ServeHTTP(w, r)
		return
	}
	for _, p := range e.paths {
		if strings.HasPrefix(r.URL.Path, p.prefix) {
			if err := e.readBody(w, r); err != nil {
				awsproto.WriteRESTError(w, err)
				return
			}
			p.h.ServeHTTP(w, r)
			return
		}
	}
	awsproto.WriteRESTError(w, awsproto.Errorf(http.StatusNotFound, "UnknownOperationException",
		"no service answers %s %s at this endpoint", r.Method, r.URL.Path))
}

// readBody reads r's body whole within the body timeout and puts it back
// for the handler to decode.
func (e *Endpoint) readBody(w http.ResponseWriter, r *http.Request) error {
	rc := http.NewResponseController(w)
	// Not every ResponseWriter has a connection to set a deadline on (a
	// handler test's recorder has none); the limits then do without.
	deadline := rc.SetReadDeadline(time.Now().Add(cmp.Or(e.BodyTimeout, 30*time.Second))) == nil
	b, err := awsproto.ReadBody(&http.Request{Body: http.MaxBytesReader(w, r.Body, awsproto.MaxBodyBytes)}, "SerializationException")
	if deadline {
		if err != nil {
			w.Header().Set("Connection", "close") // the rest of the body is not worth waiting for
		}
		_ = rc.SetReadDeadline(time.Time{})
	}
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return nil
}

// serveEvents streams the event bus as JSON lines, starting after ?since=SEQ,
// until the client goes away.
func (e *Endpoint) serveEvents(w http.ResponseWriter, r *http.Request) {
	var since uint64
	if s := r.URL.Query().Get("since"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			awsproto.WriteRESTError(w, awsproto.Errorf(http.StatusBadRequest, "BadRequestException", "since: %q is not a sequence number", s))
			return
		}
		since = n
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	enc := json.NewEncoder(w)
	ch := e.bus.Subscribe(r.Context(), since)
	for ev := range ch {
		if err := enc.Encode(ev); err != nil {
			return
		}
		if flusher != nil && len(ch) == 0 {
			flusher.Flush()
		}
	}
}
