package sidecar

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"time"
)

// Local replies, worded as Envoy words them.
const (
	msgRouteNotFound   = "route not found"
	msgClusterNotFound = "cluster not found"
	msgNoHealthy       = "no healthy upstream"
	msgTimeout         = "upstream request timeout"
	msgConnectFailure  = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
	msgReset           = "upstream connect error or disconnect/reset before headers. reset reason: connection termination"
)

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
// transport, ModifyResponse and the error handler.
type forward struct {
	up     *upstream
	route  *compiledRoute
	addr   string          // endpoint of the first attempt
	client context.Context // the downstream request's context
	start  time.Time       // when the request was sent upstream
	body   *replayBody     // set when the route retries a request with a body
}

func (h *listenerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := h.p
	snap := p.state.Load()
	rt := snap.routes[*h.b.name.Load()]
	if rt == nil {
		p.localReply(w, r, http.StatusNotFound, msgRouteNotFound)
		return
	}
	vh := rt.find(r.Host)
	if vh == nil {
		p.localReply(w, r, http.StatusNotFound, msgRouteNotFound)
		return
	}
	route := vh.match(r)
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
	f := &forward{up: up, route: route, addr: addr, client: r.Context()}
	ctx := context.WithValue(r.Context(), forwardKey{}, f)
	if route.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, route.timeout)
		defer cancel()
	}
	r = r.WithContext(ctx)
	if route.retry != nil && route.retry.numRetries > 0 && r.Body != nil && r.Body != http.NoBody {
		f.body = &replayBody{src: r.Body}
		r.Body = f.body.reader()
	}
	f.start = time.Now()
	p.rp.ServeHTTP(w, r)
}

func forwardOf(r *http.Request) *forward {
	f, _ := r.Context().Value(forwardKey{}).(*forward)
	return f
}

// rewrite points the outgoing request at the chosen endpoint, keeping the
// Host the client asked for, as Envoy does.
func rewrite(pr *httputil.ProxyRequest) {
	f := forwardOf(pr.In)
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = f.addr
	pr.Out.Host = pr.In.Host
}

func (p *Proxy) modifyResponse(res *http.Response) error {
	h := res.Header
	h["X-Meshsim-Proxy"] = p.nodeHeader
	if f := forwardOf(res.Request); f != nil {
		h["X-Envoy-Upstream-Service-Time"] = []string{strconv.FormatInt(time.Since(f.start).Milliseconds(), 10)}
	}
	return nil
}

// errPerTryTimeout is returned when the last attempt hit the retry
// policy's per-try timeout.
var errPerTryTimeout = errors.New("per-try timeout")

// errNoHealthy is returned when a retry finds the cluster empty.
var errNoHealthy = errors.New(msgNoHealthy)

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	f := forwardOf(r)
	if f != nil && f.client.Err() != nil {
		return // the client went away; nobody reads a reply
	}
	switch {
	case errors.Is(err, errPerTryTimeout), errors.Is(err, context.DeadlineExceeded) && r.Context().Err() != nil:
		p.localReply(w, r, http.StatusGatewayTimeout, msgTimeout)
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
	h := w.Header()
	h["X-Meshsim-Proxy"] = p.nodeHeader
	if isGRPC(r) {
		h["Content-Type"] = grpcContentType
		h["Grpc-Status"] = []string{strconv.Itoa(grpcStatus(status))}
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
// route's retry policy: each retry picks the cluster's next endpoint.
type retryTransport struct{}

func (retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f := forwardOf(req)
	if f == nil {
		return nil, errors.New("sidecar: request without routing decision")
	}
	pol := f.route.retry
	if pol == nil || pol.numRetries == 0 {
		return f.up.transport.RoundTrip(req)
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
			if f.body != nil {
				attempt.Body = f.body.reader()
			}
		}
		res, timedOut, err := roundTrip(f.up.transport, attempt, pol.perTry)
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

// replayLimit is how much of a request body is kept for retries, like
// Envoy's per-request buffer limit; a longer body is not retried.
const replayLimit = 64 << 10

// replayBody records what is read from a request body so that a retry can
// send it again. Each attempt reads through its own reader; a reader of an
// earlier attempt stops working when a new one is made.
type replayBody struct {
	mu       sync.Mutex
	src      io.ReadCloser
	buf      []byte
	overflow bool
	err      error // sticky error of src, io.EOF included
	gen      int
}

var errStaleAttempt = errors.New("sidecar: request body read by a superseded attempt")

// reader returns a reader for a new attempt, from the start of the body.
func (b *replayBody) reader() io.ReadCloser {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gen++
	return &replayReader{b: b, gen: b.gen}
}

// replayable reports whether the whole body read so far was kept.
func (b *replayBody) replayable() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.overflow
}

type replayReader struct {
	b   *replayBody
	gen int
	off int
}

func (r *replayReader) Read(p []byte) (int, error) {
	b := r.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.gen != b.gen {
		return 0, errStaleAttempt
	}
	if !b.overflow && r.off < len(b.buf) {
		n := copy(p, b.buf[r.off:])
		r.off += n
		return n, nil
	}
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.src.Read(p)
	if !b.overflow {
		if len(b.buf)+n > replayLimit {
			b.overflow, b.buf = true, nil
		} else {
			b.buf = append(b.buf, p[:n]...)
			r.off += n
		}
	}
	b.err = err
	return n, err
}

func (r *replayReader) Close() error { return nil }

const copyBufferSize = 32 << 10

// bufferPool recycles ReverseProxy's copy buffers.
type bufferPool struct{ pool sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{pool: sync.Pool{New: func() any { return new([copyBufferSize]byte) }}}
}

func (p *bufferPool) Get() []byte { return p.pool.Get().(*[copyBufferSize]byte)[:] }

func (p *bufferPool) Put(b []byte) {
	if len(b) == copyBufferSize {
		p.pool.Put((*[copyBufferSize]byte)(b))
	}
}
