// Package xds is meshsim's control plane. It turns the App Mesh part of
// the simulated world (World) into Envoy configuration, one set of
// resources per virtual node (Build, a pure function), and serves it with
// go-control-plane over ADS to the proxies of that node: the embedded
// sidecar, a real Envoy, or proxyless gRPC clients.
//
// App Mesh's routes (http, http2 and grpc, with their matches, weighted
// targets, retry policies and timeouts) become Envoy routes as Build
// describes; App Mesh's hidden defaults (its default retry policy, the
// 15 s per-request timeout of http routes) are added as App Mesh adds
// them. TimeoutDisabled documents how timeouts are modelled, and why a
// grpc route's calls, long-lived streams among them, are not cut by the
// 15 s default.
//
// Node ids are App Mesh's: "mesh/<mesh>/virtualNode/<name>", or the
// virtual node's ARN, which NodeHash normalises to the short form.
package xds
