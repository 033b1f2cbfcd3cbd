package sidecar

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // compressed requests are decompressed on the way
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// grpcTransport carries the gRPC requests of an HTTP/2 cluster upstream
// over grpc-go's client transport, one channel per endpoint, instead of
// net/http's HTTP/2 client. The proxy stays a transparent HTTP/2 proxy
// for gRPC: headers become metadata and back, messages pass through as
// bytes, and trailers (grpc-status, grpc-message, details and trailer
// metadata) come back as the backend sent them. What it saves is what a
// held stream costs: net/http's client holds a 16 KiB frame buffer and a
// goroutine per stream while the request body waits for the client's
// next message, and writes every frame with its own system call; grpc-go
// reads each message when it comes and batches its writes.
//
// Differences a backend can see: a compressed request message reaches it
// uncompressed (grpc-encoding is not forwarded), and its user-agent is
// grpc-go's.
type grpcTransport struct {
	connectTimeout time.Duration

	mu     sync.Mutex
	conns  map[string]*grpcChannel // by endpoint address
	closed bool
}

// grpcChannel is the channel to one endpoint.
type grpcChannel struct {
	cc *grpc.ClientConn
	// dialFailed is set when the latest connection attempt failed: a
	// stream that fails before its headers then failed to connect.
	dialFailed atomic.Bool
	streams    atomic.Int64 // open streams
	lastUsed   atomic.Int64 // unix nanoseconds
}

// grpcIdleTimeout is how long an unused channel keeps its connection,
// as the HTTP transports' IdleConnTimeout.
const grpcIdleTimeout = 90 * time.Second

// maxGRPCMessage bounds a request message the proxy reads from a client.
const maxGRPCMessage = 64 << 20

func newGRPCTransport(connectTimeout time.Duration) *grpcTransport {
	return &grpcTransport{connectTimeout: connectTimeout, conns: make(map[string]*grpcChannel)}
}

var errTransportClosed = errors.New("sidecar: gRPC transport closed")

// channel returns the channel to addr, creating it on first use, with
// one more open stream counted (so that it is not closed meanwhile); it
// closes the channels left unused for grpcIdleTimeout.
func (t *grpcTransport) channel(addr string) (*grpcChannel, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, errTransportClosed
	}
	if ch, ok := t.conns[addr]; ok {
		ch.streams.Add(1)
		return ch, nil
	}
	now := time.Now().UnixNano()
	for a, ch := range t.conns {
		if ch.streams.Load() == 0 && now-ch.lastUsed.Load() > int64(grpcIdleTimeout) {
			ch.cc.Close()
			delete(t.conns, a)
		}
	}
	ch := &grpcChannel{}
	d := &net.Dialer{Timeout: t.connectTimeout, KeepAlive: 30 * time.Second}
	connectTimeout := t.connectTimeout
	if connectTimeout <= 0 { // no limit set: grpc-go's default, not none
		connectTimeout = 20 * time.Second
	}
	cc, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			c, err := d.DialContext(ctx, "tcp", a)
			ch.dialFailed.Store(err != nil)
			return c, err
		}),
		// Envoy connects anew for each request while an endpoint is down;
		// grpc-go waits a back-off between attempts, kept short here.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: connectTimeout,
		}),
		grpc.WithIdleTimeout(grpcIdleTimeout),
		grpc.WithDisableRetry(), // the route's retry policy retries, not grpc-go
		grpc.WithStatsHandler(trailerWatcher{}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32)),
	)
	if err != nil {
		return nil, fmt.Errorf("sidecar: gRPC channel to %s: %w", addr, err)
	}
	ch.cc = cc
	ch.streams.Add(1)
	t.conns[addr] = ch
	return ch, nil
}

// close closes every channel; open streams end.
func (t *grpcTransport) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for a, ch := range t.conns {
		ch.cc.Close()
		delete(t.conns, a)
	}
}

// grpcAttempt is one request sent upstream.
type grpcAttempt struct {
	ch     *grpcChannel
	cs     grpc.ClientStream
	cancel context.CancelFunc
	// trailers is set when the backend's trailers arrived: the stream
	// ended with the backend's status, not with a reset.
	trailers atomic.Bool
	ended    atomic.Bool
}

// end releases the attempt once.
func (a *grpcAttempt) end() {
	if a.ended.CompareAndSwap(false, true) {
		a.cancel()
		a.ch.streams.Add(-1)
		a.ch.lastUsed.Store(time.Now().UnixNano())
	}
}

type attemptKey struct{}

// trailerWatcher tells an attempt that its trailers arrived.
type trailerWatcher struct{}

func (trailerWatcher) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (trailerWatcher) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (trailerWatcher) HandleConn(context.Context, stats.ConnStats) {}
func (trailerWatcher) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if _, ok := s.(*stats.InTrailer); ok {
		if a, _ := ctx.Value(attemptKey{}).(*grpcAttempt); a != nil {
			a.trailers.Store(true)
		}
	}
}

// grpcStreamDesc describes every proxied call: the proxy does not know
// the method's kind, so it treats each as bidirectional.
var grpcStreamDesc = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

// RoundTrip sends req upstream as a gRPC call and returns once the
// backend's response headers (or its trailers-only status) arrived. An
// error is a failure before the headers: a connection that could not be
// made (a *net.OpError with Op "dial"), or a reset.
func (t *grpcTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body := req.Body
	closeBody := func() {
		if body != nil {
			body.Close()
		}
	}
	md, timeout, err := requestMetadata(req.Header)
	if err != nil {
		closeBody()
		return nil, err
	}
	ch, err := t.channel(req.URL.Host)
	if err != nil {
		closeBody()
		return nil, err
	}
	ctx, cancel := context.WithCancel(req.Context())
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(req.Context(), timeout)
	}
	a := &grpcAttempt{ch: ch, cancel: cancel}
	// fail ends an attempt that got no response.
	fail := func(err error) (*http.Response, error) {
		a.end()
		closeBody()
		return nil, a.failure(err)
	}
	ctx = metadata.NewOutgoingContext(context.WithValue(ctx, attemptKey{}, a), md)
	opts := []grpc.CallOption{grpc.ForceCodecV2(rawCodec{}), grpc.CallAuthority(req.Host)}
	if sub := contentSubtype(req.Header.Get("Content-Type")); sub != "" {
		opts = append(opts, grpc.CallContentSubtype(sub))
	}
	cs, err := ch.cc.NewStream(ctx, grpcStreamDesc, req.URL.RequestURI(), opts...)
	if err != nil {
		return fail(err)
	}
	a.cs = cs
	if body != nil && body != http.NoBody {
		var decompress encoding.Compressor
		if enc := req.Header.Get("Grpc-Encoding"); enc != "" && enc != "identity" {
			decompress = encoding.GetCompressor(enc)
		}
		go a.send(body, decompress)
	} else if err := cs.CloseSend(); err != nil {
		return fail(err)
	}
	hdr, err := cs.Header()
	if err == nil && hdr != nil {
		res := newGRPCResponse(req)
		copyMetadata(res.Header, hdr)
		res.Body = &grpcResponseBody{a: a, req: body, res: res}
		return res, nil
	}
	// No headers: the stream ended, with the backend's trailers-only
	// status or with a failure.
	var discard []byte
	err = cs.RecvMsg(&discard)
	if !a.trailers.Load() {
		if err == nil || errors.Is(err, io.EOF) {
			err = errReset
		}
		return fail(err)
	}
	res := newGRPCResponse(req)
	copyMetadata(res.Header, cs.Trailer())
	setStatus(res.Header, err)
	res.Body = http.NoBody
	a.end()
	closeBody()
	return res, nil
}

// errReset is a stream that ended before its response headers without a
// status from the backend.
var errReset = errors.New("sidecar: upstream reset before response headers")

// failure turns the error of an attempt that got no response into what
// the retry policy and the local replies tell apart.
func (a *grpcAttempt) failure(err error) error {
	if a.ch.dialFailed.Load() && status.Code(err) == codes.Unavailable {
		return &net.OpError{Op: "dial", Net: "tcp", Err: err}
	}
	return err
}

// send forwards the client's messages upstream until its body ends.
func (a *grpcAttempt) send(body io.ReadCloser, decompress encoding.Compressor) {
	defer body.Close()
	var hdr [5]byte
	for {
		if _, err := io.ReadFull(body, hdr[:]); err != nil {
			if err == io.EOF {
				_ = a.cs.CloseSend()
			} else {
				a.cancel() // the client's stream broke mid-message or was reset
			}
			return
		}
		n := binary.BigEndian.Uint32(hdr[1:])
		if n > maxGRPCMessage {
			a.cancel()
			return
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(body, msg); err != nil {
			a.cancel()
			return
		}
		if hdr[0]&1 != 0 {
			var err error
			if msg, err = decompressMessage(decompress, msg); err != nil {
				a.cancel()
				return
			}
		}
		if err := a.cs.SendMsg(msg); err != nil {
			return // the stream ended: the response side reports how
		}
	}
}

func decompressMessage(c encoding.Compressor, msg []byte) ([]byte, error) {
	if c == nil {
		return nil, errors.New("sidecar: compressed gRPC message with an unknown grpc-encoding")
	}
	r, err := c.Decompress(bytes.NewReader(msg))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(r, maxGRPCMessage))
}

// grpcResponseBody is the response's messages, framed as on the wire; at
// the end of the stream it fills the response's trailers.
type grpcResponseBody struct {
	a       *grpcAttempt
	req     io.ReadCloser // the attempt's request body, closed when the response ends
	res     *http.Response
	pending []byte
	err     error
	closed  sync.Once
}

func (b *grpcResponseBody) Read(p []byte) (int, error) {
	for len(b.pending) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		var frame []byte
		if err := b.a.cs.RecvMsg(&frame); err != nil {
			b.finish(err)
			continue
		}
		b.pending = frame
	}
	n := copy(p, b.pending)
	b.pending = b.pending[n:]
	return n, nil
}

// finish ends the body: with the backend's status in the trailers, or
// with the error that broke the stream.
func (b *grpcResponseBody) finish(err error) {
	if !errors.Is(err, io.EOF) && !b.a.trailers.Load() {
		b.err = err
		return
	}
	b.res.Trailer = make(http.Header)
	copyMetadata(b.res.Trailer, b.a.cs.Trailer())
	setStatus(b.res.Trailer, err)
	b.err = io.EOF
}

// Close ends the stream (a reset upstream if it is still open) and the
// request body.
func (b *grpcResponseBody) Close() error {
	b.closed.Do(func() {
		b.a.end()
		if b.req != nil {
			b.req.Close()
		}
	})
	return nil
}

func newGRPCResponse(req *http.Request) *http.Response {
	return &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        make(http.Header),
		Trailer:       make(http.Header),
		ContentLength: -1,
		Request:       req,
	}
}

// rawCodec passes messages through as bytes; what it decodes comes
// framed as on the wire (flag byte and length), ready for the client.
// Its empty name leaves the content type as the client sent it.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("sidecar: raw codec cannot marshal %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("sidecar: raw codec cannot unmarshal into %T", v)
	}
	n := data.Len()
	frame := make([]byte, 5+n)
	binary.BigEndian.PutUint32(frame[1:5], uint32(n))
	data.CopyTo(frame[5:])
	*p = frame
	return nil
}

func (rawCodec) Name() string { return "" }

// contentSubtype returns the subtype of a gRPC content type
// ("application/grpc+proto" → "proto"), or "".
func contentSubtype(ct string) string {
	if s, ok := strings.CutPrefix(ct, "application/grpc"); ok && len(s) > 1 && (s[0] == '+' || s[0] == ';') {
		return strings.ToLower(s[1:])
	}
	return ""
}

// requestMetadata turns the request's headers into the call's metadata,
// less those gRPC sets itself, and reads its grpc-timeout (which the
// route's timeouts have already set as Envoy would).
func requestMetadata(h http.Header) (metadata.MD, time.Duration, error) {
	md := make(metadata.MD, len(h))
	var timeout time.Duration
	for k, vs := range h {
		lk := strings.ToLower(k)
		switch lk {
		case "content-type", "te", "user-agent", "grpc-encoding", "grpc-accept-encoding", "grpc-message-type":
			continue
		case "grpc-timeout":
			// A malformed one is dropped: grpc-go sends the deadline's.
			timeout, _ = parseGRPCTimeout(vs[0])
			continue
		}
		if strings.HasSuffix(lk, "-bin") {
			dec := make([]string, 0, len(vs))
			for _, v := range vs {
				b, err := decodeBinHeader(v)
				if err != nil {
					return nil, 0, fmt.Errorf("sidecar: header %s: %w", k, err)
				}
				dec = append(dec, string(b))
			}
			vs = dec
		}
		md[lk] = vs
	}
	return md, timeout, nil
}

// copyMetadata adds md to h as HTTP headers, binary values in base64.
func copyMetadata(h http.Header, md metadata.MD) {
	for k, vs := range md {
		ck := http.CanonicalHeaderKey(k)
		bin := strings.HasSuffix(k, "-bin")
		for _, v := range vs {
			if bin {
				v = base64.RawStdEncoding.EncodeToString([]byte(v))
			}
			h[ck] = append(h[ck], v)
		}
	}
}

// setStatus writes the gRPC status of a stream's end (io.EOF: OK).
func setStatus(h http.Header, err error) {
	code, msg := codes.OK, ""
	if err != nil && !errors.Is(err, io.EOF) {
		st := status.Convert(err)
		code, msg = st.Code(), st.Message()
	}
	h["Grpc-Status"] = []string{strconv.Itoa(int(code))}
	if msg != "" {
		h["Grpc-Message"] = []string{encodeGRPCMessage(msg)}
	}
}

func decodeBinHeader(v string) ([]byte, error) {
	if len(v)%4 == 0 {
		return base64.StdEncoding.DecodeString(v)
	}
	return base64.RawStdEncoding.DecodeString(v)
}

// encodeGRPCMessage percent-encodes a grpc-message value as the gRPC
// HTTP/2 protocol requires: bytes outside printable ASCII, and '%'.
func encodeGRPCMessage(msg string) string {
	clean := true
	for i := 0; i < len(msg); i++ {
		if c := msg[i]; c < ' ' || c > '~' || c == '%' {
			clean = false
			break
		}
	}
	if clean {
		return msg
	}
	var sb strings.Builder
	for i := 0; i < len(msg); i++ {
		if c := msg[i]; c < ' ' || c > '~' || c == '%' {
			fmt.Fprintf(&sb, "%%%02X", c)
		} else {
			sb.WriteByte(c)
		}
	}
	return sb.String()
}
