// Package sidecar is meshsim's embedded data plane: a small Envoy-like
// proxy that runs beside each simulated task. It is a State-of-the-World
// ADS client of the xDS control plane (package xds): it subscribes to
// listeners and clusters, then to the route configurations and endpoints
// they reference, ACKs what it applies and NACKs what it cannot, keeping
// its last good configuration.
//
// Each listener is an HTTP server (HTTP/1.1 and h2c). A request is routed
// as Envoy routes it: virtual host by Host, first matching route, a
// weighted cluster picked at random per request, an endpoint picked round
// robin, then forwarded with httputil.ReverseProxy (streaming, trailers
// kept) under the route's timeout and retry policy. Configuration changes
// swap one immutable routing snapshot, so they take effect for the next
// request without dropping in-flight ones.
package sidecar
