package sidecar

import (
	"errors"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/sidecar/admin"
)

// maxHTTP1Body bounds an HTTP/1.1 request body, which the HTTP/1.1 path
// reads whole before forwarding it.
const maxHTTP1Body = 64 << 20

var discardLog = log.New(io.Discard, "", 0)

// The HTTP/1.1 path. A connection's requests are read, forwarded and
// answered on its own goroutine: the request is read whole, sent on a
// pooled upstream connection (fasthttp's HostClient, one pool per
// endpoint) and the response read whole and written back with one flush.
// No goroutine hands a request to another, which is where net/http's
// client and server spent most of a proxied request's time. Requests for
// a cluster that speaks HTTP/2 upstream take the net/http path (adapted),
// as HTTP/2 downstream requests do.
//
// Envoy's behaviour is kept: routing, weights, retries with their
// back-off and per-try timeout, faults, local replies, attribution and
// the queue statistics are the net/http path's. Since both bodies are
// read whole, the route timeout, the stream's maximum duration and the
// stream idle timeout all bound the upstream exchange from the moment the
// request was received; a timeout answers 504 (408 for the idle and
// duration timeouts) rather than resetting a response already begun.

// fastRequest is an HTTP/1.1 request as routing reads it.
type fastRequest struct{ *fasthttp.Request }

func (r fastRequest) escapedPath() string {
	p := r.URI().PathOriginal()
	if i := strings.IndexByte(string(p), '?'); i >= 0 {
		p = p[:i]
	}
	return string(p)
}

func (r fastRequest) isGRPC() bool {
	return strings.HasPrefix(string(r.Header.ContentType()), "application/grpc")
}

func (r fastRequest) header(name string) (string, bool) {
	switch name {
	case ":authority":
		return string(r.Header.Host()), true
	case ":method":
		return string(r.Header.Method()), true
	case ":path":
		return string(r.Header.RequestURI()), true
	case ":scheme":
		return "http", true
	}
	if q, ok := strings.CutPrefix(name, queryPrefix); ok {
		v := r.URI().QueryArgs().Peek(q)
		if v == nil {
			return "", false
		}
		return string(v), true
	}
	vs := r.Header.PeekAll(name)
	switch len(vs) {
	case 0:
		return "", false
	case 1:
		return string(vs[0]), true
	}
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = string(v)
	}
	return strings.Join(parts, ","), true
}

// http1Handler serves the HTTP/1.1 requests of one listener.
type http1Handler struct {
	h        *listenerHandler
	fallback fasthttp.RequestHandler // the net/http path, for HTTP/2 clusters
}

func newHTTP1Handler(h *listenerHandler) *http1Handler {
	return &http1Handler{h: h, fallback: fasthttpadaptor.NewFastHTTPHandler(h)}
}

func (h1 *http1Handler) serve(ctx *fasthttp.RequestCtx) {
	p := h1.h.p
	snap := p.state.Load()
	ls := snap.listeners[*h1.h.b.name.Load()]
	req := fastRequest{&ctx.Request}
	var up *upstream
	var route *compiledRoute
	if ls != nil && ls.routes != nil {
		if vh := ls.routes.find(string(ctx.Request.Header.Host())); vh != nil {
			route = vh.match(req)
		}
	}
	if route != nil && route.direct == nil {
		up = snap.clusters[route.pick()]
	}
	if up != nil && up.h2 {
		h1.fallback(ctx) // counts itself in the queue statistics
		return
	}
	p.queue.enter()
	defer p.queue.leave()
	if ls == nil || ls.routes == nil {
		p.fastReply(ctx, 404, msgRouteNotFound)
		return
	}
	if flt := p.faults.Load(); flt != nil && !injectFastFaults(ctx, flt) {
		return
	}
	switch {
	case route == nil:
		p.fastReply(ctx, 404, msgRouteNotFound)
	case route.direct != nil:
		p.fastReply(ctx, route.direct.status, route.direct.body)
	case up == nil:
		p.fastReply(ctx, 503, msgClusterNotFound)
	default:
		p.forwardHTTP1(ctx, req, ls, route, up)
	}
}

// forwardHTTP1 sends the request to up, retrying as the route says, and
// answers with the response or a local reply.
func (p *Proxy) forwardHTTP1(ctx *fasthttp.RequestCtx, req fastRequest, ls *listenerState, route *compiledRoute, up *upstream) {
	addr, ok := up.next()
	if !ok {
		p.fastReply(ctx, 503, msgNoHealthy)
		return
	}
	start := time.Now()
	deadline, cause := http1Deadline(start, req, route, ls)
	r, res := &ctx.Request, &ctx.Response
	stripHopByHop(&r.Header)
	rewriteHTTP1(req, route)
	pol := route.retry
	retries := 0
	if pol != nil && len(r.Body()) <= replayLimit {
		retries = pol.numRetries
	}
	p.queue.wait()
	defer p.queue.done()
	for n := 0; ; n++ {
		if n > 0 {
			if addr, ok = up.next(); !ok {
				p.fastFailure(ctx, up, addr, errNoHealthy, nil)
				return
			}
		}
		try, perTry := deadline, false
		if pol != nil && pol.perTry > 0 {
			if t := time.Now().Add(pol.perTry); deadline.IsZero() || t.Before(deadline) {
				try, perTry = t, true
			}
		}
		res.Reset()
		err := p.fastClient(addr, up.connectTimeout).doDeadline(r, res, try)
		timedOut := errors.Is(err, fasthttp.ErrTimeout)
		last := n >= retries || (!deadline.IsZero() && !time.Now().Before(deadline))
		switch {
		case err != nil:
			if last || !pol.retryError(isFastConnectError(err), timedOut && perTry) {
				if timedOut && !perTry {
					err = cause
				} else if timedOut {
					err = errPerTryTimeout
				}
				p.fastFailure(ctx, up, addr, err, ls)
				return
			}
		case last || !pol.retryStatus(res.StatusCode(), string(res.Header.Peek("Grpc-Status"))):
			p.fastRespond(ctx, up, addr, ls, start)
			return
		}
		t := time.NewTimer(pol.backoff(n + 1))
		<-t.C
	}
}

// http1Deadline is when the upstream exchange of a request received whole
// must end, and the timeout that sets it.
func http1Deadline(start time.Time, req fastRequest, route *compiledRoute, ls *listenerState) (time.Time, error) {
	t := timeoutsOf(route, ls, req.isGRPC(), func() string { return string(req.Header.Peek("Grpc-Timeout")) })
	if t.grpcHeader != "" {
		req.Header.Set("Grpc-Timeout", t.grpcHeader)
	} else if t.dropGRPCHeader {
		req.Header.Del("Grpc-Timeout")
	}
	at, cause := time.Time{}, error(nil)
	consider := func(d time.Duration, c error) {
		if d > 0 && (at.IsZero() || start.Add(d).Before(at)) {
			at, cause = start.Add(d), c
		}
	}
	consider(t.maxDuration, errMaxDuration)
	consider(t.route, errRouteTimeout)
	consider(t.idle, errStreamIdle)
	return at, cause
}

// rewriteHTTP1 applies the route's path and host rewrites to the request
// it forwards, as rewrite does on the net/http path.
func rewriteHTTP1(req fastRequest, rt *compiledRoute) {
	if rt.rewriteHost != "" {
		// fasthttp writes the Host of the parsed URI.
		req.Header.SetHost(rt.rewriteHost)
		req.URI().SetHost(rt.rewriteHost)
	}
	if rt.rewritePrefix == "" && rt.rewriteRE == nil {
		return
	}
	uri := string(req.Header.RequestURI())
	query := ""
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		query = uri[i:]
	}
	req.SetRequestURI(rt.rewritePath(req.escapedPath()) + query)
}

// hopByHop are the headers that describe one connection, not the request
// (RFC 9110, 7.6.1); fasthttp manages Connection and Transfer-Encoding.
var hopByHop = []string{"Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Te", "Trailer", "Upgrade"}

func stripHopByHop(h *fasthttp.RequestHeader) {
	h.ResetConnectionClose()
	for _, k := range hopByHop {
		h.Del(k)
	}
}

// fastRespond sends the upstream's response downstream with the proxy's
// headers.
func (p *Proxy) fastRespond(ctx *fasthttp.RequestCtx, up *upstream, addr string, ls *listenerState, start time.Time) {
	h := &ctx.Response.Header
	h.ResetConnectionClose()
	h.Del("Keep-Alive")
	h.Set(contract.HeaderProxy, p.node)
	if ls.outbound {
		h.Set(contract.HeaderUpstreamCluster, up.name)
		h.Set(contract.HeaderUpstreamEndpoint, addr)
	}
	h.Set("X-Envoy-Upstream-Service-Time", strconv.FormatInt(time.Since(start).Milliseconds(), 10))
}

// fastFailure answers a request whose attempts failed before a response,
// as errorHandler does on the net/http path.
func (p *Proxy) fastFailure(ctx *fasthttp.RequestCtx, up *upstream, addr string, err error, ls *listenerState) {
	ctx.Response.Reset()
	ctx.Response.SkipBody = ctx.IsHead() // Reset forgets what the server set
	if ls != nil && ls.outbound {
		ctx.Response.Header.Set(contract.HeaderUpstreamCluster, up.name)
		ctx.Response.Header.Set(contract.HeaderUpstreamEndpoint, addr)
	}
	switch {
	case errors.Is(err, errPerTryTimeout), err == errRouteTimeout:
		p.fastReply(ctx, 504, msgTimeout)
	case err == errStreamIdle:
		p.fastReply(ctx, 408, msgStreamTimeout)
	case err == errMaxDuration:
		p.fastReplyGRPC(ctx, 408, grpcDeadlineExceeded, msgDurationTimeout)
	case errors.Is(err, errNoHealthy):
		p.fastReply(ctx, 503, msgNoHealthy)
	case isFastConnectError(err):
		p.fastReply(ctx, 503, msgConnectFailure)
	default:
		p.fastReply(ctx, 503, msgReset)
	}
}

// fastReply answers from the proxy itself, as localReply does.
func (p *Proxy) fastReply(ctx *fasthttp.RequestCtx, status int, body string) {
	p.fastReplyGRPC(ctx, status, grpcStatus(status), body)
}

func (p *Proxy) fastReplyGRPC(ctx *fasthttp.RequestCtx, status, grpcCode int, body string) {
	h := &ctx.Response.Header
	h.Set(contract.HeaderProxy, p.node)
	if (fastRequest{&ctx.Request}).isGRPC() {
		h.SetContentType("application/grpc")
		h.Set("Grpc-Status", strconv.Itoa(grpcCode))
		h.Set("Grpc-Message", body)
		ctx.SetStatusCode(200)
		return
	}
	h.SetContentType("text/plain")
	ctx.SetStatusCode(status)
	ctx.SetBodyString(body)
}

// injectFastFaults applies f to an HTTP/1.1 request, as injectFaults
// does: it reports whether the request is still to be forwarded.
func injectFastFaults(ctx *fasthttp.RequestCtx, f *admin.Faults) bool {
	if f.DropPercent > 0 && rand.Float64()*100 < f.DropPercent {
		c := ctx.Conn()
		if tc, ok := c.(interface{ SetLinger(int) error }); ok {
			_ = tc.SetLinger(0) // close sends RST, not FIN
		}
		c.Close()
		ctx.SetConnectionClose()
		return false
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done(): // the server shuts down
			return false
		}
	}
	return true
}

func isFastConnectError(err error) bool {
	return isConnectError(err) || errors.Is(err, fasthttp.ErrDialTimeout)
}

// fastClient is the connection pool to one endpoint.
type fastClient struct{ hc *fasthttp.HostClient }

// doDeadline sends one attempt; a zero deadline is none.
func (c fastClient) doDeadline(req *fasthttp.Request, res *fasthttp.Response, deadline time.Time) error {
	if deadline.IsZero() {
		return c.hc.Do(req, res)
	}
	return c.hc.DoDeadline(req, res, deadline)
}

type fastClientKey struct {
	addr           string
	connectTimeout time.Duration
}

// fastClients holds the proxy's HTTP/1.1 connection pools, one per
// endpoint, so they survive configuration changes.
type fastClients struct {
	mu sync.RWMutex
	m  map[fastClientKey]fastClient
}

func (p *Proxy) fastClient(addr string, connectTimeout time.Duration) fastClient {
	k := fastClientKey{addr, connectTimeout}
	cs := &p.h1clients
	cs.mu.RLock()
	c, ok := cs.m[k]
	cs.mu.RUnlock()
	if ok {
		return c
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c, ok := cs.m[k]; ok {
		return c
	}
	d := &net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}
	hc := &fasthttp.HostClient{
		Addr: addr,
		Dial: func(addr string) (net.Conn, error) {
			c, err := d.Dial("tcp", addr)
			if err != nil {
				return nil, err
			}
			return newUpstreamConn(c), nil
		},
		MaxConns:            1024,
		MaxIdleConnDuration: 90 * time.Second,
		// The route's retry policy decides retries; the pool only sends
		// an idempotent request again, once, on a new connection, when
		// the connection it took was closed under it before a response
		// byte came back (a kept-alive connection to a task that stopped;
		// the same address may serve a new task), as net/http's Transport
		// does.
		MaxIdemponentCallAttempts:     2,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: false,
		DisablePathNormalizing:        true,
	}
	hc.RetryIfErr = func(req *fasthttp.Request, attempts int, err error) (bool, bool) {
		retry := attempts == 1 && staleConn(req, err)
		if retry {
			// The upstream closed one kept-alive connection: it closed
			// them all (it stopped, or restarted at this address).
			hc.CloseIdleConnections()
		}
		return false, retry
	}
	c = fastClient{hc}
	if cs.m == nil {
		cs.m = make(map[fastClientKey]fastClient)
	}
	cs.m[k] = c
	return c
}

// staleConn reports whether req may be sent again after err: it is
// idempotent, and the upstream closed its connection before answering.
func staleConn(req *fasthttp.Request, err error) bool {
	switch string(req.Header.Method()) {
	case fasthttp.MethodGet, fasthttp.MethodHead, fasthttp.MethodOptions, fasthttp.MethodTrace, fasthttp.MethodPut, fasthttp.MethodDelete:
	default:
		return false
	}
	return errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// closeIdle closes the pools' idle connections.
func (cs *fastClients) closeIdle() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, c := range cs.m {
		c.hc.CloseIdleConnections()
	}
}
