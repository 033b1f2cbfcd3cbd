package sidecar

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/meshsim/meshsim/sim/contract"
)

// The HTTP/2 path. A listener's HTTP/2 connections are served by a frame
// relay, as Envoy's codec serves them: the frames of a gRPC call are
// passed between the client's connection and a connection to the
// endpoint the call was routed to, with the stream ids mapped, the
// headers decoded for routing and re-encoded (HPACK) for the other side,
// and each side's flow control kept. A call costs no goroutine and no
// buffer while it is held open, and its messages are never decoded: what
// the backend receives is what the client sent, compression and
// user-agent included.
//
// The relay carries every gRPC call routed to an HTTP/2 cluster, with the
// sidecar's behaviour: routing, weights, round robin, retries (the request
// body kept for a replay up to 64 KB, until the response starts), the
// route, stream idle, per-try and maximum-duration timeouts (grpc-timeout
// included), the faults, the local replies Envoy words (trailers-only gRPC
// statuses), attribution, the queue statistics and draining. Every other
// stream (a plain HTTP/2 request, gRPC-Web, a call no route takes to an
// HTTP/2 cluster) goes over an in-memory HTTP/2 connection to the proxy's
// net/http server, whose handler does all the sidecar does (see
// forward.go); the relay passes that stream's frames as it passes an
// upstream's.
//
// Each client connection has its own connections to the endpoints it
// calls (a relayGroup): one reader goroutine per connection, and one lock
// for the group, under which frames are written to buffers that are
// flushed once the frames read are processed.

// relayGroup is a client's connection and the connections its streams
// are relayed to.
type relayGroup struct {
	p   *Proxy
	b   *boundListener
	srv *connServer

	ctx    context.Context // cancelled when the client's connection ends
	cancel context.CancelFunc
	wg     sync.WaitGroup // the read loops and dials of the other connections

	mu       sync.Mutex
	down     *h2Conn
	ups      map[string][]*h2Conn // by endpoint
	internal *h2Conn              // to the net/http path; nil until needed
	dirty    []*h2Conn
	lastID   uint32 // the client's highest stream id
	draining bool   // GOAWAY sent to the client
	closed   bool
}

// relayStream is one stream relayed between the client (down) and an
// upstream or the net/http path (up).
type relayStream struct {
	g        *relayGroup
	down, up streamSide
	native   bool // relayed to an endpoint, not to the net/http path
	// The routing decision of a native stream.
	cluster  *upstream
	addr     string
	dialing  *h2Conn // the connection the current attempt waits for
	outbound bool
	start    time.Time
	waiting  bool // counted in the queue's waiting requests

	request     []hpack.HeaderField // what opens an upstream stream; kept for retries
	requestEnds bool                // the request is its headers alone
	resStarted  bool                // response headers sent to the client
	done        bool

	// Retries of a native stream: the route's policy, the attempts made
	// after the first, and the request body kept to replay (up to
	// replayLimit; replay is false past it).
	policy      *retryPolicy
	retries     int
	body        []byte
	replay      bool
	reqTrailers []hpack.HeaderField

	routeTimeout, idleTimeout, maxDuration time.Duration
	routeTimer, idleTimer, durationTimer   *time.Timer
	perTryTimer, retryTimer                *time.Timer
	lastActive                             time.Time
}

// streamSide is one side's view of a relayed stream: the stream's id on
// that side's connection and what waits to be sent there.
type streamSide struct {
	conn      *h2Conn // nil until the upstream stream opens
	id        uint32
	send      int32 // what the peer lets the relay send on the stream
	pending   []chunk
	ended     bool // END_STREAM or RST_STREAM sent to this side
	reset     bool // RST_STREAM sent to this side
	recvEnded bool // END_STREAM received from this side
}

// chunk is data (or trailers) waiting for the flow-control window of the
// side it goes to; credit is what to return to the sender once it is sent.
type chunk struct {
	data     []byte
	trailers []hpack.HeaderField
	end      bool
	credit   uint32
}

// serveRelay serves an HTTP/2 connection (its preface unread) until it
// closes.
func (s *connServer) serveRelay(c *trackedConn) {
	var preface [len(http2.ClientPreface)]byte
	_ = c.SetReadDeadline(time.Now().Add(sniffTimeout))
	if _, err := io.ReadFull(c, preface[:]); err != nil || string(preface[:]) != http2.ClientPreface {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	g := &relayGroup{p: s.lh.p, b: s.lh.b, srv: s, ups: make(map[string][]*h2Conn)}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	if !s.addGroup(g) {
		c.Close()
		return
	}
	defer s.removeGroup(g)
	g.mu.Lock()
	g.down = newH2Conn(g, c, false)
	g.down.start()
	g.flush()
	g.mu.Unlock()
	g.read(g.down)
	g.close()
	g.wg.Wait()
}

// read is the read loop of connection h.
func (g *relayGroup) read(h *h2Conn) {
	for {
		f, err := h.fr.ReadFrame()
		g.mu.Lock()
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) && !h.closed {
				g.streamError(h, se)
				g.mu.Unlock()
				continue
			}
			var ce http2.ConnectionError
			if errors.As(err, &ce) && h == g.down && !h.closed {
				// A protocol error: tell the client why before closing.
				_ = h.fr.WriteGoAway(g.lastID, http2.ErrCode(ce), nil)
				h.flush()
			}
			g.connClosed(h)
			g.flush()
			g.mu.Unlock()
			return
		}
		g.frame(h, f)
		if h.br.Buffered() == 0 {
			g.flush()
		}
		g.mu.Unlock()
	}
}

// flush writes out the connections written to.
func (g *relayGroup) flush() {
	for _, h := range g.dirty {
		h.flush()
	}
	clear(g.dirty)
	g.dirty = g.dirty[:0]
}

// frame processes a frame read from h.
func (g *relayGroup) frame(h *h2Conn, f http2.Frame) {
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if f.IsAck() {
			return
		}
		if err := h.applySettings(f); err != nil {
			return
		}
		_ = h.fr.WriteSettingsAck()
		h.markDirty()
	case *http2.PingFrame:
		if !f.IsAck() {
			_ = h.fr.WritePing(true, f.Data)
			h.markDirty()
		}
	case *http2.WindowUpdateFrame:
		g.windowUpdate(h, f)
	case *http2.MetaHeadersFrame:
		if h == g.down {
			if st := h.streams[f.StreamID]; st != nil {
				st.requestTrailers(f)
			} else {
				g.newStream(f)
			}
		} else if st := h.streams[f.StreamID]; st != nil {
			st.responseHeaders(f)
		}
	case *http2.DataFrame:
		credit := f.Header().Length
		st := h.streams[f.StreamID]
		if st == nil || st.side(h).recvEnded {
			h.writeWindowUpdate(0, credit) // the connection's share still counts
			return
		}
		st.data(h, f.Data(), f.StreamEnded(), credit)
	case *http2.RSTStreamFrame:
		if st := h.streams[f.StreamID]; st != nil {
			st.reset(h, f.ErrCode)
		}
	case *http2.GoAwayFrame:
		g.goneAway(h, f.LastStreamID)
	}
}

// side returns the stream's side on connection h.
func (s *relayStream) side(h *h2Conn) *streamSide {
	if h == s.down.conn {
		return &s.down
	}
	return &s.up
}

// other returns the side across from side.
func (s *relayStream) other(side *streamSide) *streamSide {
	if side == &s.down {
		return &s.up
	}
	return &s.down
}

// newStream routes a request the client opened with headers f: natively
// to an endpoint, or to the net/http path.
func (g *relayGroup) newStream(f *http2.MetaHeadersFrame) {
	id := f.StreamID
	switch {
	case id%2 == 0:
		g.down.writeRST(id, http2.ErrCodeProtocol) // a client's streams are odd
		return
	case id <= g.lastID:
		g.down.writeRST(id, http2.ErrCodeStreamClosed) // a stream that ended
		return
	}
	g.lastID = id
	if g.draining {
		g.down.writeRST(id, http2.ErrCodeRefusedStream)
		return
	}
	s := &relayStream{g: g, requestEnds: f.StreamEnded()}
	s.down = streamSide{conn: g.down, id: id, send: g.down.initWindow, recvEnded: f.StreamEnded()}
	g.down.streams[id] = s
	if f.Truncated {
		s.down.ended, s.down.recvEnded = true, true
		g.down.writeRST(id, http2.ErrCodeProtocol)
		s.finish()
		return
	}
	if !g.routeNative(s, f.Fields) {
		s.request = f.Fields
		g.open(s, g.internalConn())
	}
}

// routeNative makes s a native stream when the relay has the behaviour
// its route asks for, and opens it towards the endpoint it picks.
func (g *relayGroup) routeNative(s *relayStream, fields []hpack.HeaderField) bool {
	p := g.p
	req := fieldsRequest(fields)
	ct, _ := req.get("content-type")
	if ct != "application/grpc" && contentSubtype(ct) == "" {
		return false
	}
	snap := p.state.Load()
	ls := snap.listeners[*g.b.name.Load()]
	if ls == nil || ls.routes == nil {
		return false
	}
	host, _ := req.header(":authority")
	vh := ls.routes.find(host)
	if vh == nil {
		return false
	}
	rt := vh.match(req)
	if rt == nil || rt.direct != nil {
		return false
	}
	up := snap.clusters[rt.pick()]
	if up == nil || !up.h2 {
		return false
	}
	p.queue.enter()
	s.native, s.cluster, s.outbound, s.start = true, up, ls.outbound, time.Now()
	s.lastActive = s.start
	t := timeoutsOf(rt, ls, true, func() string { v, _ := req.get("grpc-timeout"); return v })
	s.routeTimeout, s.idleTimeout, s.maxDuration = t.route, t.idle, t.maxDuration
	if s.idleTimeout > 0 {
		s.idleTimer = s.after(s.idleTimeout, s.idleCheck)
	}
	if s.maxDuration > 0 {
		s.durationTimer = s.after(s.maxDuration, func() { s.timedOut(grpcDeadlineExceeded, msgDurationTimeout) })
	}
	if rt.retry != nil && rt.retry.numRetries > 0 {
		s.policy, s.replay = rt.retry, true
	}
	addr, ok := up.next()
	if !ok {
		s.localReply(grpcStatus(503), msgNoHealthy)
		return true
	}
	s.addr = addr
	s.request = rewriteFields(fields, rt, t)
	if s.requestEnds {
		s.requestEnded()
	}
	if flt := p.faults.Load(); flt != nil {
		if flt.DropPercent > 0 && rand.Float64()*100 < flt.DropPercent {
			s.resetDown(http2.ErrCodeInternal) // as the net/http path drops an HTTP/2 request
			return true
		}
		if flt.Delay > 0 {
			s.retryTimer = s.after(flt.Delay, s.send) // data sent meanwhile waits
			return true
		}
	}
	s.send()
	return true
}

// send sends the first attempt.
func (s *relayStream) send() {
	s.g.p.queue.wait()
	s.waiting = true
	s.g.openAttempt(s)
}

// after runs action under the group's lock once d has passed, unless the
// stream has ended by then, and flushes what it wrote: the stream's
// timers.
func (s *relayStream) after(d time.Duration, action func()) *time.Timer {
	return time.AfterFunc(d, func() {
		g := s.g
		g.mu.Lock()
		defer g.mu.Unlock()
		if !s.done {
			action()
			g.flush()
		}
	})
}

// openAttempt sends the request of native stream s to its endpoint.
func (g *relayGroup) openAttempt(s *relayStream) {
	if p := s.policy; p != nil && p.perTry > 0 {
		s.perTryTimer = s.after(p.perTry, s.perTryExpired)
	}
	g.open(s, g.upstreamConn(s.addr, s.cluster.connectTimeout))
}

// attemptFailed ends an attempt of a native stream that failed before
// its response: connectFailure when no connection was made, timedOut
// when the per-try timeout expired, otherwise a reset. The route's retry
// policy may try again; otherwise the client gets Envoy's local reply.
func (s *relayStream) attemptFailed(connectFailure, timedOut bool) {
	if s.done {
		return
	}
	if s.canRetry() && s.policy.retryError(connectFailure, timedOut) {
		s.retryLater()
		return
	}
	switch {
	case timedOut:
		s.localReply(grpcStatus(504), msgTimeout)
	case connectFailure:
		s.fail(msgConnectFailure)
	default:
		s.fail(msgReset)
	}
}

// canRetry reports whether the policy allows another attempt and the
// request can be replayed.
func (s *relayStream) canRetry() bool {
	return s.policy != nil && s.retries < s.policy.numRetries && s.replay && !s.resStarted && !s.down.ended
}

// retryLater abandons the current attempt and starts the next after the
// policy's back-off.
func (s *relayStream) retryLater() {
	s.detach()
	s.retries++
	s.retryTimer = s.after(s.policy.backoff(s.retries), s.retryNow)
}

// detach leaves the current attempt's upstream stream, resetting it, and
// returns to the client the window of what had not gone there yet (the
// replay holds it).
func (s *relayStream) detach() {
	if s.perTryTimer != nil {
		s.perTryTimer.Stop()
	}
	if h := s.dialing; h != nil { // the attempt's connection is still being dialled
		h.waiting = slices.DeleteFunc(h.waiting, func(w *relayStream) bool { return w == s })
		s.dialing = nil
	}
	if h := s.up.conn; h != nil {
		if !s.up.ended || !s.up.recvEnded {
			h.writeRST(s.up.id, http2.ErrCodeCancel)
		}
		delete(h.streams, s.up.id)
		s.g.closeIfDone(h)
	}
	for _, c := range s.up.pending {
		if c.credit > 0 {
			s.credit(&s.down, c.credit)
		}
	}
	s.up = streamSide{}
}

// retryNow sends the next attempt to the cluster's next endpoint, with
// the request body received so far.
func (s *relayStream) retryNow() {
	for _, c := range s.up.pending { // what came during the back-off is in the replay
		if c.credit > 0 {
			s.credit(&s.down, c.credit)
		}
	}
	s.up.pending = nil
	addr, ok := s.cluster.next()
	if !ok {
		s.localReply(grpcStatus(503), msgNoHealthy)
		return
	}
	s.addr = addr
	if len(s.body) > 0 || (s.down.recvEnded && !s.requestEnds && s.reqTrailers == nil) {
		s.up.pending = append(s.up.pending, chunk{data: s.body, end: s.down.recvEnded && s.reqTrailers == nil})
	}
	if s.reqTrailers != nil {
		s.up.pending = append(s.up.pending, chunk{trailers: s.reqTrailers, end: true})
	}
	s.g.openAttempt(s)
}

// perTryExpired fails the current attempt when its response headers did
// not come within the per-try timeout.
func (s *relayStream) perTryExpired() {
	if !s.resStarted {
		s.attemptFailed(false, true)
	}
}

// keep adds request data to what a retry replays, until it is too much.
func (s *relayStream) keep(data []byte) {
	if !s.replay || s.resStarted {
		return
	}
	if len(s.body)+len(data) > replayLimit {
		s.replay, s.body = false, nil
		return
	}
	s.body = append(s.body, data...)
}

// commit is the response's start: no attempt follows, nothing is kept
// for one.
func (s *relayStream) commit() {
	if s.perTryTimer != nil {
		s.perTryTimer.Stop()
	}
	s.replay, s.body, s.request, s.reqTrailers = false, nil, nil, nil
	s.doneWaiting()
}

// rewriteFields returns the request's header fields as sent upstream: the
// route's host and path rewrites applied, the rest as the client sent it.
func rewriteFields(fields []hpack.HeaderField, rt *compiledRoute, t requestTimeouts) []hpack.HeaderField {
	if rt.rewriteHost == "" && rt.rewritePrefix == "" && rt.rewriteRE == nil && t.grpcHeader == "" && !t.dropGRPCHeader {
		return fields
	}
	out := make([]hpack.HeaderField, 0, len(fields)+1)
	for _, f := range fields {
		if f.Name != "grpc-timeout" {
			out = append(out, f)
		}
	}
	if t.grpcHeader != "" {
		out = append(out, hpack.HeaderField{Name: "grpc-timeout", Value: t.grpcHeader})
	} else if !t.dropGRPCHeader {
		if v, ok := fieldsRequest(fields).get("grpc-timeout"); ok {
			out = append(out, hpack.HeaderField{Name: "grpc-timeout", Value: v})
		}
	}
	for i := range out {
		switch out[i].Name {
		case ":authority":
			if rt.rewriteHost != "" {
				out[i].Value = rt.rewriteHost
			}
		case ":path":
			if rt.rewritePrefix != "" || rt.rewriteRE != nil {
				path, query, hasQuery := strings.Cut(out[i].Value, "?")
				out[i].Value = rt.rewritePath(path)
				if hasQuery {
					out[i].Value += "?" + query
				}
			}
		}
	}
	return out
}

// open opens s on connection h (once it is connected).
func (g *relayGroup) open(s *relayStream, h *h2Conn) {
	if h.dialing {
		h.waiting = append(h.waiting, s)
		s.dialing = h
		return
	}
	id := h.nextID
	h.nextID += 2
	h.streams[id] = s
	s.up.conn, s.up.id, s.up.send = h, id, h.initWindow
	h.writeHeaders(id, s.request, s.requestEnds)
	if !s.native {
		s.request = nil
	}
	if s.requestEnds {
		s.up.ended = true
	}
	s.flushPending(h)
}

// maxStreamID is the highest stream id HTTP/2 allows: a connection that
// used them all takes no new stream.
const maxStreamID = 1<<31 - 1

// upstreamConn returns a connection to addr with room for a stream,
// dialling a new one when none has.
func (g *relayGroup) upstreamConn(addr string, timeout time.Duration) *h2Conn {
	for _, h := range g.ups[addr] {
		if !h.closed && !h.goingAway && h.nextID < maxStreamID && uint32(len(h.streams)+len(h.waiting)) < h.maxStreams {
			return h
		}
	}
	h := &h2Conn{g: g, upstream: true, addr: addr, dialing: true}
	g.ups[addr] = append(g.ups[addr], h)
	g.wg.Add(1)
	go g.dial(h, timeout)
	return h
}

// dial connects h to its endpoint and opens the streams waiting for it,
// or answers them as Envoy answers a connection failure.
func (g *relayGroup) dial(h *h2Conn, timeout time.Duration) {
	defer g.wg.Done()
	d := net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	c, err := d.DialContext(g.ctx, "tcp", h.addr)
	g.mu.Lock()
	defer g.mu.Unlock()
	if err == nil && g.closed {
		c.Close()
		err = net.ErrClosed
	}
	waiting := h.waiting
	h.waiting, h.dialing = nil, false
	for _, s := range waiting {
		s.dialing = nil
	}
	if err != nil {
		h.closed = true
		g.dropUpstream(h)
		for _, s := range waiting {
			s.attemptFailed(true, false)
		}
		g.flush()
		return
	}
	h.init(c)
	h.start()
	for _, s := range waiting {
		if !s.done {
			g.open(s, h)
		}
	}
	g.flush()
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.read(h)
	}()
}

// dropUpstream forgets upstream connection h.
func (g *relayGroup) dropUpstream(h *h2Conn) {
	conns := g.ups[h.addr]
	if i := slices.Index(conns, h); i >= 0 {
		conns = slices.Delete(conns, i, i+1)
	}
	if len(conns) == 0 {
		delete(g.ups, h.addr)
	} else {
		g.ups[h.addr] = conns
	}
}

// internalConn returns the connection to the proxy's net/http server,
// opening it on first use: an in-memory connection served as the
// listener serves a client's, with the client's addresses.
func (g *relayGroup) internalConn() *h2Conn {
	if h := g.internal; h != nil && !h.closed && !h.goingAway {
		return h
	}
	client, server := net.Pipe()
	sc := pipeConn{Conn: server, local: g.down.c.LocalAddr(), remote: g.down.c.RemoteAddr()}
	h := newH2Conn(g, client, true)
	h.internal = true
	g.internal = h
	h.start()
	g.wg.Add(2)
	go func() {
		defer g.wg.Done()
		g.srv.serveH2(sc)
		sc.Close()
	}()
	go func() {
		defer g.wg.Done()
		g.read(h)
	}()
	return h
}

// pipeConn is the net/http path's end of an internal connection, with
// the client connection's addresses.
type pipeConn struct {
	net.Conn
	local, remote net.Addr
}

func (c pipeConn) LocalAddr() net.Addr  { return c.local }
func (c pipeConn) RemoteAddr() net.Addr { return c.remote }

// data relays a DATA frame's payload from side h to the other side.
func (s *relayStream) data(h *h2Conn, data []byte, end bool, credit uint32) {
	from := s.side(h)
	to := s.other(from)
	s.lastActive = time.Now()
	if from == &s.down && s.native {
		s.keep(data)
		if end {
			s.requestEnded()
		}
	}
	if end {
		from.recvEnded = true
	}
	if to.ended {
		s.credit(from, credit)
		return
	}
	if to.conn != nil && len(to.pending) == 0 && !to.conn.dialing && int32(len(data)) <= min(to.send, to.conn.sendWindow) && len(data) <= int(to.conn.maxFrame) {
		to.conn.fr.WriteData(to.id, end, data)
		to.conn.markDirty()
		to.send -= int32(len(data))
		to.conn.sendWindow -= int32(len(data))
		s.credit(from, credit)
		if end {
			s.sentEnd(to)
		}
		return
	}
	to.pending = append(to.pending, chunk{data: append([]byte(nil), data...), end: end, credit: credit})
	if to.conn != nil && !to.conn.dialing {
		s.flushPending(to.conn)
	}
}

// credit returns n bytes of flow-control window to side from.
func (s *relayStream) credit(from *streamSide, n uint32) {
	from.conn.writeWindowUpdate(0, n)
	if !from.recvEnded && !s.done {
		from.conn.writeWindowUpdate(from.id, n)
	}
}

// flushPending sends what waits for side h's windows.
func (s *relayStream) flushPending(h *h2Conn) {
	to := s.side(h)
	from := s.other(to)
	for len(to.pending) > 0 && !to.ended {
		c := &to.pending[0]
		if c.trailers != nil {
			h.writeHeaders(to.id, c.trailers, true)
			to.pending = to.pending[1:]
			s.sentEnd(to)
			return
		}
		n := min(int(to.send), int(h.sendWindow), int(h.maxFrame), len(c.data))
		if n <= 0 && len(c.data) > 0 {
			if h.sendWindow <= 0 {
				h.stalled = append(h.stalled, s)
			}
			return
		}
		h.fr.WriteData(to.id, c.end && n == len(c.data), c.data[:n])
		h.markDirty()
		to.send -= int32(n)
		h.sendWindow -= int32(n)
		c.data = c.data[n:]
		if len(c.data) > 0 {
			continue
		}
		end, credit := c.end, c.credit
		to.pending = to.pending[1:]
		if from.conn != nil {
			s.credit(from, credit)
		}
		if end {
			s.sentEnd(to)
			return
		}
	}
}

// windowUpdate takes a WINDOW_UPDATE from h.
func (g *relayGroup) windowUpdate(h *h2Conn, f *http2.WindowUpdateFrame) {
	if f.StreamID == 0 {
		h.sendWindow += int32(f.Increment)
		stalled := h.stalled
		h.stalled = nil
		for i, s := range stalled {
			if h.sendWindow <= 0 {
				h.stalled = append(h.stalled, stalled[i:]...)
				return
			}
			if !s.done {
				s.flushPending(h)
			}
		}
		return
	}
	if s := h.streams[f.StreamID]; s != nil {
		s.side(h).send += int32(f.Increment)
		s.flushPending(h)
	}
}

// sentEnd records that END_STREAM went to side to; the response's end
// ends the stream.
func (s *relayStream) sentEnd(to *streamSide) {
	to.ended = true
	if to == &s.down {
		s.finish()
	}
}

// requestEnded starts the route timeout, which bounds the response from
// the end of the request.
func (s *relayStream) requestEnded() {
	if s.routeTimer == nil && s.routeTimeout > 0 {
		s.routeTimer = s.after(s.routeTimeout, func() { s.timedOut(grpcStatus(504), msgTimeout) })
	}
}

// requestTrailers relays the client's trailers, which end the request.
func (s *relayStream) requestTrailers(f *http2.MetaHeadersFrame) {
	s.down.recvEnded = true
	s.lastActive = time.Now()
	if s.native {
		s.requestEnded()
		if s.replay {
			s.reqTrailers = f.Fields
		}
	}
	if s.up.ended {
		return
	}
	if s.up.conn == nil || len(s.up.pending) > 0 || s.up.conn.dialing {
		s.up.pending = append(s.up.pending, chunk{trailers: f.Fields, end: true})
		return
	}
	s.up.conn.writeHeaders(s.up.id, f.Fields, true)
	s.sentEnd(&s.up)
}

// responseHeaders relays the headers (or trailers) of the response.
func (s *relayStream) responseHeaders(f *http2.MetaHeadersFrame) {
	s.lastActive = time.Now()
	fields := f.Fields
	if f.StreamEnded() {
		s.up.recvEnded = true
	}
	if !s.resStarted {
		if s.native && s.canRetry() && s.retriable(fields) {
			s.up.recvEnded = true
			s.retryLater()
			return
		}
		s.resStarted = true
		if s.native {
			fields = s.attributed(fields)
			s.commit()
		}
	}
	if len(s.down.pending) > 0 {
		if f.StreamEnded() {
			s.down.pending = append(s.down.pending, chunk{trailers: fields, end: true})
		}
		return
	}
	s.down.conn.writeHeaders(s.down.id, fields, f.StreamEnded())
	if f.StreamEnded() {
		s.sentEnd(&s.down)
	}
}

// retriable reports whether the route's retry policy retries a response
// with these headers (its HTTP status, and its gRPC status when it is
// trailers-only).
func (s *relayStream) retriable(fields []hpack.HeaderField) bool {
	r := fieldsRequest(fields)
	st, _ := r.get(":status")
	code, err := strconv.Atoi(st)
	if err != nil {
		return false
	}
	gs, _ := r.get("grpc-status")
	return s.policy.retryStatus(code, gs)
}

// attributed returns the response headers with the proxy's own: its
// name, on an outbound listener the cluster and endpoint that served
// the request, and Envoy's upstream service time.
func (s *relayStream) attributed(fields []hpack.HeaderField) []hpack.HeaderField {
	out := make([]hpack.HeaderField, 0, len(fields)+4)
	for _, f := range fields {
		switch f.Name {
		case hdrProxy, hdrCluster, hdrEndpoint, hdrServiceTime:
			continue
		}
		out = append(out, f)
	}
	out = append(out, hpack.HeaderField{Name: hdrProxy, Value: s.g.p.node})
	if s.outbound {
		out = append(out, hpack.HeaderField{Name: hdrCluster, Value: s.cluster.name}, hpack.HeaderField{Name: hdrEndpoint, Value: s.addr})
	}
	return append(out, hpack.HeaderField{Name: hdrServiceTime, Value: strconv.FormatInt(time.Since(s.start).Milliseconds(), 10)})
}

// The proxy's response headers, as HTTP/2 spells them.
var (
	hdrProxy       = strings.ToLower(contract.HeaderProxy)
	hdrCluster     = strings.ToLower(contract.HeaderUpstreamCluster)
	hdrEndpoint    = strings.ToLower(contract.HeaderUpstreamEndpoint)
	hdrServiceTime = strings.ToLower(contract.HeaderUpstreamServiceTime)
)

func (s *relayStream) doneWaiting() {
	if s.waiting {
		s.waiting = false
		s.g.p.queue.done()
	}
}

// reset takes a RST_STREAM from side h.
func (s *relayStream) reset(h *h2Conn, code http2.ErrCode) {
	from := s.side(h)
	from.ended, from.recvEnded = true, true
	if from == &s.down {
		s.finish()
		return
	}
	s.upstreamFailed(code)
}

// upstreamFailed ends a stream whose upstream side failed: before the
// response, a local reply; after, a reset.
func (s *relayStream) upstreamFailed(code http2.ErrCode) {
	switch {
	case s.native && !s.resStarted:
		s.attemptFailed(false, false)
	case code == http2.ErrCodeNo && s.down.ended:
		s.finish()
	default:
		if code == http2.ErrCodeNo || code == http2.ErrCodeCancel {
			code = http2.ErrCodeInternal
		}
		s.resetDown(code)
	}
}

// resetDown resets the client's stream.
func (s *relayStream) resetDown(code http2.ErrCode) {
	if !s.down.ended {
		s.down.conn.writeRST(s.down.id, code)
		s.down.ended, s.down.reset = true, true
	}
	s.finish()
}

// fail answers a native stream whose upstream failed before responding
// with Envoy's local reply for msg.
func (s *relayStream) fail(msg string) {
	if s.done {
		return
	}
	s.localReply(grpcStatus(503), msg)
}

// localReply answers the client from the proxy itself, with a
// trailers-only gRPC status, and ends the stream.
func (s *relayStream) localReply(code int, msg string) {
	if s.resStarted || s.down.ended {
		s.resetDown(http2.ErrCodeInternal)
		return
	}
	s.resStarted = true
	fields := []hpack.HeaderField{
		{Name: ":status", Value: "200"},
		{Name: "content-type", Value: "application/grpc"},
		{Name: "grpc-status", Value: strconv.Itoa(code)},
		{Name: "grpc-message", Value: msg},
		{Name: hdrProxy, Value: s.g.p.node},
	}
	if s.outbound && s.addr != "" {
		fields = append(fields, hpack.HeaderField{Name: hdrCluster, Value: s.cluster.name}, hpack.HeaderField{Name: hdrEndpoint, Value: s.addr})
	}
	s.down.pending = nil
	s.down.conn.writeHeaders(s.down.id, fields, true)
	s.sentEnd(&s.down)
}

// timedOut ends a stream whose timeout expired: before the response
// with Envoy's local reply (gRPC status code and msg), after it with a
// reset. The route timeout answers UNAVAILABLE "upstream request
// timeout", the idle timeout UNKNOWN "stream timeout" (Envoy's 504 and
// 408), the maximum duration DEADLINE_EXCEEDED.
func (s *relayStream) timedOut(code int, msg string) {
	if s.resStarted {
		s.resetDown(http2.ErrCodeInternal)
	} else {
		s.localReply(code, msg)
	}
}

// idleCheck runs when the idle timeout may have expired: it ends the
// stream when nothing passed for the whole timeout, and otherwise waits
// for the rest of it.
func (s *relayStream) idleCheck() {
	if rest := s.idleTimeout - time.Since(s.lastActive); rest > 0 {
		s.idleTimer.Reset(rest)
		return
	}
	s.timedOut(grpcStatus(408), msgStreamTimeout)
}

// finish ends the stream once its response has ended (or either side
// reset it): the sides still open are reset, and its timers stopped.
func (s *relayStream) finish() {
	if s.done {
		return
	}
	s.done = true
	if s.up.conn != nil {
		if !s.up.ended || !s.up.recvEnded {
			s.up.conn.writeRST(s.up.id, http2.ErrCodeCancel)
		}
		delete(s.up.conn.streams, s.up.id)
		s.g.closeIfDone(s.up.conn)
	}
	if !s.down.recvEnded && s.down.ended && !s.down.reset {
		// The response ended before the request: the client need send
		// no more (as net/http's and grpc-go's servers tell it).
		s.down.conn.writeRST(s.down.id, http2.ErrCodeNo)
	}
	delete(s.down.conn.streams, s.down.id)
	s.up.pending, s.down.pending = nil, nil
	for _, t := range []*time.Timer{s.routeTimer, s.idleTimer, s.durationTimer, s.perTryTimer, s.retryTimer} {
		if t != nil {
			t.Stop()
		}
	}
	s.body, s.request, s.reqTrailers = nil, nil, nil
	if s.native {
		s.doneWaiting()
		s.g.p.queue.leave()
	}
	if s.g.draining && len(s.g.down.streams) == 0 {
		s.g.flush()
		s.g.down.c.Close()
	}
}

// closeIfDone closes an upstream connection that goes away once its
// last stream ends.
func (g *relayGroup) closeIfDone(h *h2Conn) {
	if h.goingAway && len(h.streams) == 0 && !h.closed {
		h.flush()
		h.closed = true
		h.c.Close()
	}
}

// streamError resets one stream that sent a malformed frame.
func (g *relayGroup) streamError(h *h2Conn, se http2.StreamError) {
	if s := h.streams[se.StreamID]; s != nil {
		if h == g.down {
			s.down.ended, s.down.reset = true, true
			h.writeRST(se.StreamID, se.Code)
			s.finish()
		} else {
			s.upstreamFailed(se.Code)
		}
	} else {
		h.writeRST(se.StreamID, se.Code)
	}
	g.flush()
}

// goneAway takes a GOAWAY from h: no new streams go there, and those it
// did not process fail as a reset would fail them.
func (g *relayGroup) goneAway(h *h2Conn, last uint32) {
	h.goingAway = true
	if h == g.down {
		return
	}
	for id, s := range h.streams {
		if id > last {
			s.up.ended, s.up.recvEnded = true, true
			s.upstreamFailed(http2.ErrCodeRefusedStream)
		}
	}
	g.closeIfDone(h)
}

// connClosed handles the end of connection h: the client's ends the
// group; another's fails its streams.
func (g *relayGroup) connClosed(h *h2Conn) {
	h.closed = true
	h.c.Close()
	if h == g.down {
		return
	}
	if h.internal {
		if g.internal == h {
			g.internal = nil
		}
	} else {
		g.dropUpstream(h)
	}
	for _, s := range h.streams {
		s.up.ended, s.up.recvEnded = true, true
		s.upstreamFailed(http2.ErrCodeInternal)
	}
}

// close ends the group once the client's connection closed: every other
// connection closes, every stream ends.
func (g *relayGroup) close() {
	g.mu.Lock()
	g.closed = true
	g.cancel()
	for _, s := range g.down.streams {
		s.down.ended, s.down.recvEnded = true, true
		s.finish()
	}
	for _, conns := range g.ups {
		for _, h := range conns {
			if h.c != nil {
				h.closed = true
				h.c.Close()
			}
		}
	}
	if g.internal != nil {
		g.internal.closed = true
		g.internal.c.Close()
	}
	g.mu.Unlock()
}

// goAway starts draining the client's connection: GOAWAY tells it to
// open no new stream; it closes once its streams end.
func (g *relayGroup) goAway() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.draining || g.closed || g.down == nil {
		return
	}
	g.draining = true
	_ = g.down.fr.WriteGoAway(g.lastID, http2.ErrCodeNo, nil)
	g.down.markDirty()
	g.flush()
	if len(g.down.streams) == 0 {
		g.down.c.Close()
	}
}

// contentSubtype returns the subtype of a gRPC content type
// ("application/grpc+proto" is "proto"), lower-cased, or "".
func contentSubtype(ct string) string {
	if s, ok := strings.CutPrefix(ct, "application/grpc"); ok && len(s) > 1 && (s[0] == '+' || s[0] == ';') {
		return strings.ToLower(s[1:])
	}
	return ""
}

// fieldsRequest is an HTTP/2 request's header fields as routing reads
// them.
type fieldsRequest []hpack.HeaderField

func (r fieldsRequest) get(name string) (string, bool) {
	for _, f := range r {
		if f.Name == name {
			return f.Value, true
		}
	}
	return "", false
}

func (r fieldsRequest) escapedPath() string {
	p, _ := r.get(":path")
	p, _, _ = strings.Cut(p, "?")
	return p
}

func (r fieldsRequest) isGRPC() bool {
	ct, _ := r.get("content-type")
	return strings.HasPrefix(ct, "application/grpc")
}

func (r fieldsRequest) header(name string) (string, bool) {
	switch name {
	case ":authority":
		if v, ok := r.get(":authority"); ok {
			return v, true
		}
		return r.get("host")
	case ":method", ":path":
		return r.get(name)
	case ":scheme":
		return "http", true
	}
	if q, ok := strings.CutPrefix(name, queryPrefix); ok {
		p, _ := r.get(":path")
		_, raw, _ := strings.Cut(p, "?")
		query, _ := url.ParseQuery(raw)
		vs, ok := query[q]
		if !ok || len(vs) == 0 {
			return "", false
		}
		return vs[0], true
	}
	var vals []string
	for _, f := range r {
		if len(f.Name) > 0 && f.Name[0] != ':' && strings.EqualFold(f.Name, name) {
			vals = append(vals, f.Value)
		}
	}
	if len(vals) == 0 {
		return "", false
	}
	return strings.Join(vals, ","), true
}
