package sidecar

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/meshsim/meshsim/sim/contract"
)

// Local replies, worded as Envoy words them.
const (
	msgRouteNotFound   = "route not found"
	msgClusterNotFound = "cluster not found"
	msgNoHealthy       = "no healthy upstream"
	msgTimeout         = "upstream request timeout"
	msgConnectFailure  = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
	msgReset           = "upstream connect error or disconnect/reset before headers. reset reason: connection termination"
	msgStreamTimeout   = "stream timeout"
	msgDurationTimeout = "downstream duration timeout"
)

// grpcDeadlineExceeded is the gRPC status of a stream that reached its
// maximum duration, as Envoy sends it.
const grpcDeadlineExceeded = 4

var (
	textPlain       = []string{"text/plain"}
	grpcContentType = []string{"application/grpc"}
)

// listenerHandler serves the requests of one listener.
type listenerHandler struct {
	p *Proxy
	b *boundListener
}

// forwardKey is the context key of the *forward of a proxied request.
type forwardKey struct{}

// forward is the routing decision for one request, read by the upstream
// transport, ModifyResponse and the error handler, with the state of its
// timeouts and the wrappers of its bodies (kept here to save allocations).
type forward struct {
	up    *upstream
	route *compiledRoute
	addr  string // endpoint of the first attempt
	tried string // endpoint of the latest attempt
	// outbound is set on an outbound listener: the proxy picks among a
	// service's tasks rather than serving its own task.
	outbound bool
	client   context.Context // the downstream request's context
	start    time.Time       // when the request was sent upstream
	body     *replayBody     // feeds the request body to the attempts; nil without a body

	deadlines deadlines
	reqBody   requestBody
	resBody   responseBody
}

func (h *listenerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := h.p
	p.queue.enter()
	defer p.queue.leave()
	snap := p.state.Load()
	ls := snap.listeners[*h.b.name.Load()]
	if ls == nil || ls.routes == nil {
		p.localReply(w, r, http.StatusNotFound, msgRouteNotFound)
		return
	}
	if flt := p.faults.Load(); flt != nil && !p.injectFaults(w, r, flt) {
		return
	}
	vh := ls.routes.find(r.Host)
	if vh == nil {
		p.localReply(w, r, http.StatusNotFound, msgRouteNotFound)
		return
	}
	route := vh.match(stdRequest{r})
	if route == nil {
		p.localReply(w, r, http.StatusNotFound, msgRouteNotFound)
		return
	}
	if d := route.direct; d != nil {
		p.localReply(w, r, d.status, d.body)
		return
	}
	up := snap.clusters[route.pick()]
	if up == nil {
		p.localReply(w, r, http.StatusServiceUnavailable, msgClusterNotFound)
		return
	}
	addr, ok := up.next()
	if !ok {
		p.localReply(w, r, http.StatusServiceUnavailable, msgNoHealthy)
		return
	}
	f := &forward{up: up, route: route, addr: addr, tried: addr, outbound: ls.outbound, client: r.Context()}
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	hasBody := r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
	f.deadlines.begin(timeoutsFor(r, route, ls), cancel, !hasBody)
	defer f.deadlines.stop()
	if hasBody {
		f.reqBody = requestBody{d: &f.deadlines, rc: r.Body}
		r.Body = &f.reqBody
		f.body = newReplayBody(&f.reqBody, p.pool, route.retry != nil && route.retry.numRetries > 0)
	}
	r = r.WithContext(context.WithValue(ctx, forwardKey{}, f))
	f.start = time.Now()
	p.rp.ServeHTTP(w, r)
}

func forwardOf(r *http.Request) *forward {
	f, _ := r.Context().Value(forwardKey{}).(*forward)
	return f
}

// rewrite points the outgoing request at the chosen endpoint, keeping the
// Host the client asked for, as Envoy does, and applies the route's path
// and host rewrites.
func rewrite(pr *httputil.ProxyRequest) {
	f := forwardOf(pr.In)
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = f.addr
	pr.Out.Host = pr.In.Host
	rt := f.route
	if rt.rewriteHost != "" {
		pr.Out.Host = rt.rewriteHost
	}
	if rt.rewritePrefix != "" || rt.rewriteRE != nil {
		escaped := rt.rewritePath(pr.In.URL.EscapedPath())
		if p, err := url.PathUnescape(escaped); err == nil {
			pr.Out.URL.Path, pr.Out.URL.RawPath = p, escaped
		}
	}
}

// modifyResponse runs on the response that goes downstream: no attempt
// follows it, so the request body need not be kept for replays any more.
func (p *Proxy) modifyResponse(res *http.Response) error {
	h := res.Header
	h[contract.HeaderProxy] = p.nodeHeader
	if f := forwardOf(res.Request); f != nil {
		attribute(h, f, res.Request.URL.Host)
		h["X-Envoy-Upstream-Service-Time"] = []string{strconv.FormatInt(time.Since(f.start).Milliseconds(), 10)}
		if f.body != nil {
			f.body.commit()
		}
		f.resBody = responseBody{d: &f.deadlines, rc: res.Body}
		res.Body = &f.resBody
		f.deadlines.setResponse(res.Body)
	}
	return nil
}

// errPerTryTimeout is returned when the last attempt hit the retry
// policy's per-try timeout.
var errPerTryTimeout = errors.New("per-try timeout")

// errNoHealthy is returned when a retry finds the cluster empty.
var errNoHealthy = errors.New(msgNoHealthy)

// errorHandler answers a request whose upstream attempt failed before
// the response headers arrived.
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	f := forwardOf(r)
	if f != nil && f.client.Err() != nil {
		return // the client went away; nobody reads a reply
	}
	if f != nil {
		attribute(w.Header(), f, f.tried)
	}
	switch cause := context.Cause(r.Context()); {
	case errors.Is(err, errPerTryTimeout), cause == errRouteTimeout:
		p.localReply(w, r, http.StatusGatewayTimeout, msgTimeout)
	case cause == errStreamIdle:
		p.localReply(w, r, http.StatusRequestTimeout, msgStreamTimeout)
	case cause == errMaxDuration:
		p.reply(w, r, http.StatusRequestTimeout, grpcDeadlineExceeded, msgDurationTimeout)
	case errors.Is(err, errNoHealthy):
		p.localReply(w, r, http.StatusServiceUnavailable, msgNoHealthy)
	case isConnectError(err):
		p.localReply(w, r, http.StatusServiceUnavailable, msgConnectFailure)
	default:
		p.localReply(w, r, http.StatusServiceUnavailable, msgReset)
	}
}

func isConnectError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// localReply answers r from the proxy itself. gRPC requests get a
// trailers-only response with the gRPC status Envoy maps status to.
func (p *Proxy) localReply(w http.ResponseWriter, r *http.Request, status int, body string) {
	p.reply(w, r, status, grpcStatus(status), body)
}

// reply is localReply with the gRPC status given.
func (p *Proxy) reply(w http.ResponseWriter, r *http.Request, status, grpcCode int, body string) {
	h := w.Header()
	h[contract.HeaderProxy] = p.nodeHeader
	if isGRPC(r) {
		h["Content-Type"] = grpcContentType
		h["Grpc-Status"] = []string{strconv.Itoa(grpcCode)}
		h["Grpc-Message"] = []string{body}
		w.WriteHeader(http.StatusOK)
		return
	}
	h["Content-Type"] = textPlain
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// grpcStatus maps an HTTP status to a gRPC code as Envoy does.
func grpcStatus(httpStatus int) int {
	switch httpStatus {
	case 400:
		return 13 // INTERNAL
	case 401:
		return 16 // UNAUTHENTICATED
	case 403:
		return 7 // PERMISSION_DENIED
	case 404:
		return 12 // UNIMPLEMENTED
	case 429, 502, 503, 504:
		return 14 // UNAVAILABLE
	}
	return 2 // UNKNOWN
}

// retryTransport sends a proxied request to its cluster, applying the
// route's retry policy: each retry picks the cluster's next endpoint. The
// request body of each attempt is a reader of the forward's replayBody
// (the body ReverseProxy hands over cannot be closed, and the HTTP/2
// transport closes an attempt's body to stop it). queue counts the
// requests waiting for their response headers.
type retryTransport struct{ queue *queueStats }

func (t retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f := forwardOf(req)
	if f == nil {
		return nil, errors.New("sidecar: request without routing decision")
	}
	t.queue.wait()
	defer t.queue.done()
	pol := f.route.retry
	if pol == nil || pol.numRetries == 0 {
		return f.up.transport.RoundTrip(f.attempt(req, req))
	}
	for n := 0; ; n++ {
		attempt := req
		if n > 0 {
			addr, ok := f.up.next()
			if !ok {
				return nil, errNoHealthy
			}
			attempt = req.Clone(req.Context())
			attempt.URL.Host = addr
			f.tried = addr
		}
		res, timedOut, err := roundTrip(f.up.transport, f.attempt(req, attempt), pol.perTry)
		last := n >= pol.numRetries || req.Context().Err() != nil || (f.body != nil && !f.body.replayable())
		switch {
		case err != nil:
			if last || !pol.retryError(isConnectError(err), timedOut) {
				if timedOut {
					return nil, errPerTryTimeout
				}
				return nil, err
			}
		case last || !pol.retryResponse(res):
			return res, nil
		default:
			res.Body.Close()
		}
		t := time.NewTimer(pol.backoff(n + 1))
		select {
		case <-req.Context().Done():
			t.Stop()
			return nil, req.Context().Err()
		case <-t.C:
		}
	}
}

// attempt returns the request to send for attempt, a copy of req (or req
// itself when it has no body) with a new reader of the body.
func (f *forward) attempt(req, attempt *http.Request) *http.Request {
	if f.body == nil {
		return attempt
	}
	if attempt == req {
		attempt = new(http.Request)
		*attempt = *req
	}
	attempt.Body = f.body.reader()
	return attempt
}

// roundTrip sends one attempt; a per-try timeout bounds the wait for the
// response headers.
func roundTrip(rt http.RoundTripper, req *http.Request, perTry time.Duration) (*http.Response, bool, error) {
	if perTry <= 0 {
		res, err := rt.RoundTrip(req)
		return res, false, err
	}
	ctx, cancel := context.WithCancel(req.Context())
	timer := time.AfterFunc(perTry, cancel)
	res, err := rt.RoundTrip(req.WithContext(ctx))
	if !timer.Stop() {
		if err == nil {
			res.Body.Close()
		}
		cancel()
		return nil, true, errPerTryTimeout
	}
	if err != nil {
		cancel()
		return nil, false, err
	}
	res.Body = &cancelBody{ReadCloser: res.Body, cancel: cancel}
	return res, false, nil
}

// cancelBody releases an attempt's context when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// copyBufferSize is the size of the buffers that copy bodies on the
// HTTP/2 path. A stream holds one while it waits for its next message
// from the backend, so it is kept small for the many long-lived gRPC
// streams a sidecar carries: the HTTP/2 server writes a response in 4 KB
// chunks anyway.
const copyBufferSize = 2 << 10

// smallBufferSize is the size of the buffer a request body pump waits
// with (see replayBody.pump).
const smallBufferSize = 256

// bufferPool recycles the copy buffers of ReverseProxy and of request
// body pumps.
type bufferPool struct{ pool, small sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{
		pool:  sync.Pool{New: func() any { return new([copyBufferSize]byte) }},
		small: sync.Pool{New: func() any { return new([smallBufferSize]byte) }},
	}
}

func (p *bufferPool) Get() []byte { return p.pool.Get().(*[copyBufferSize]byte)[:] }

func (p *bufferPool) Put(b []byte) {
	if len(b) == copyBufferSize {
		p.pool.Put((*[copyBufferSize]byte)(b))
	}
}

func (p *bufferPool) getSmall() []byte { return p.small.Get().(*[smallBufferSize]byte)[:] }

// putAny returns a buffer of either size.
func (p *bufferPool) putAny(b []byte) {
	if len(b) == smallBufferSize {
		p.small.Put((*[smallBufferSize]byte)(b))
		return
	}
	p.Put(b)
}
