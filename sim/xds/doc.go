// Package xds is meshsim's control plane. It turns the App Mesh part of
// the simulated world (World) into Envoy configuration, one set of
// resources per virtual node (Build, a pure function), and serves it with
// go-control-plane over ADS to the proxies of that node: the embedded
// sidecar, a real Envoy, or proxyless gRPC clients.
//
// Node ids are App Mesh's: "mesh/<mesh>/virtualNode/<name>", or the
// virtual node's ARN, which NodeHash normalises to the short form.
package xds
