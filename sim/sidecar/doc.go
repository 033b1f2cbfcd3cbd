// Package sidecar is meshsim's embedded data plane: a small Envoy-like
// proxy that runs beside each simulated task. It is a State-of-the-World
// ADS client of the xDS control plane (package xds): it subscribes to
// listeners and clusters, then to the route configurations and endpoints
// they reference, ACKs what it applies and NACKs what it cannot, keeping
// its last good configuration.
//
// Each listener speaks HTTP/1.1 and HTTP/2 over cleartext (h2c, prior
// knowledge) on the same port, telling them apart by a connection's first
// bytes. HTTP/2 connections are served by a frame relay (relay.go): a
// gRPC call routed to an HTTP/2 cluster passes frame by frame between the
// client's connection and a connection to the endpoint, with the stream
// ids mapped, the headers decoded for routing and re-encoded, and each
// side's flow control kept, so that a held stream costs the proxy no
// goroutine and no buffer; every other HTTP/2 request (plain HTTP/2,
// gRPC-Web) goes over an in-memory connection to x/net/http2's server and
// httputil.ReverseProxy. HTTP/1.1 connections are served by fasthttp: a
// request is read whole, forwarded on a pooled upstream connection and
// answered with one write, all on the connection's goroutine (see
// http1.go for what that changes about timeouts). A request is routed as
// Envoy routes it: virtual host by Host (:authority), first matching
// route (path, headers or gRPC metadata, and gRPC requests only where the
// route says so), a weighted cluster picked at random per request (so
// once per gRPC stream: a stream stays on its backend whatever the
// weights become), an endpoint picked round robin, then forwarded.
// Clusters of http2 and grpc virtual nodes speak h2c upstream. HTTP/2
// bodies stream in both directions without buffering, and trailers
// (grpc-status, grpc-message and trailer metadata) pass through.
// Configuration changes swap one immutable routing snapshot, so they take
// effect for the next request without touching in-flight ones.
//
// Timeouts are Envoy's: the route timeout (15 s unless set, 0 disables
// it) starts once the whole request has been received and bounds the
// response, so it never starts for a bidirectional stream the client
// keeps open; a route's max_stream_duration replaces it, bounding the
// stream from its start, with the gRPC call's own deadline (grpc-timeout)
// taking its place when grpc_timeout_header_max is set; the stream idle
// timeout (5 min unless the listener or route sets it) ends a stream
// without data in either direction. Retries follow the route's retry
// policy, gRPC status conditions included, on responses that carry their
// status in the headers (trailers-only) and on failures before any
// response; a request body is kept for replays up to 64 KB.
//
// What a client sees when things fail, as with Envoy: a failure before
// the response started is a local reply (for gRPC a trailers-only status:
// UNAVAILABLE for a reset or refused connection, DEADLINE_EXCEEDED for a
// stream that reached its maximum duration, UNIMPLEMENTED for a call no
// route matches); a failure after it started (the backend's connection
// reset, a timeout) resets the stream (RST_STREAM). A backend that ends
// its streams with a status before it goes away (GOAWAY) is seen with that
// status. Closing the proxy, or a listener the configuration drops, sends
// GOAWAY and lets open streams finish for the drain timeout.
//
// Faults: an admin listener on the task's address at port 9901 (Envoy's
// admin port) serves /meshsim/faults, through which a rehearsal makes the
// sidecar delay the requests it forwards, or drop a share of them
// (SetDelay, SetDropPercent, ClearFaults). With no fault set, a request
// pays one atomic load for the feature. The same listener serves
// /meshsim/stats, the proxy's queueing figures (requests in flight, those
// waiting for their upstream, and the peaks of both since the previous
// read), which a run samples to see whether the proxies queued (ReadStats,
// or Proxy.Stats in the same process), and Envoy's /server_info and /ready,
// LIVE once the first complete configuration is applied, which the health
// check App Mesh documents for its Envoy container reads.
package sidecar
