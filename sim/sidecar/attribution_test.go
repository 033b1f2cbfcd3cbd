package sidecar_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/xds"
)

// plainEndpoint starts an HTTP server that sets no meshsim header, as a
// user's application does, and returns its endpoint.
func plainEndpoint(t *testing.T, body string) xds.Endpoint {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	port, _ := strconv.Atoi(u.Port())
	return xds.Endpoint{InstanceID: body, Address: u.Hostname(), Port: uint32(port)}
}

// TestAttribution: the proxy names the cluster and endpoint it forwarded
// each request to, so the split between versions is measured for an
// application that says nothing about itself; a request the upstream
// failed is put down to the endpoint that failed it.
func TestAttribution(t *testing.T) {
	v1, v2 := plainEndpoint(t, "one"), plainEndpoint(t, "two")
	cp := startControlPlane(t, "")
	if err := cp.srv.Update(context.Background(), movieWorld([]xds.Endpoint{v1}, []xds.Endpoint{v2}, 70, 30)); err != nil {
		t.Fatal(err)
	}
	p := startSidecar(t, cp.addr, homeARN, loopbackIP(t))
	c := proxyClient(t, p)

	want := map[string]struct{ cluster, body string }{
		net.JoinHostPort(v1.Address, strconv.Itoa(int(v1.Port))): {xds.ClusterName(mesh, "movie-v1"), "one"},
		net.JoinHostPort(v2.Address, strconv.Itoa(int(v2.Port))): {xds.ClusterName(mesh, "movie-v2"), "two"},
	}
	const n = 1000
	counts := map[string]int{}
	for range n {
		r, err := get(c, movieURL+"/")
		if err != nil {
			t.Fatal(err)
		}
		ep := r.header.Get(contract.HeaderUpstreamEndpoint)
		w, ok := want[ep]
		if !ok || r.header.Get(contract.HeaderUpstreamCluster) != w.cluster || r.body != w.body {
			t.Fatalf("response %q from endpoint %q cluster %q; want one of %v", r.body, ep, r.header.Get(contract.HeaderUpstreamCluster), want)
		}
		counts[w.body]++
	}
	within3Sigma(t, "share of v1 told by the proxy", counts["one"], n, 0.7)

	// An endpoint that refuses connections: the proxy's own 503 names it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().(*net.TCPAddr)
	ln.Close()
	world := movieWorld([]xds.Endpoint{{InstanceID: "dead", Address: "127.0.0.1", Port: uint32(dead.Port)}}, nil, 100, 0)
	cp.update(t, world, resource.EndpointType)
	r, err := get(c, movieURL+"/")
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusServiceUnavailable || r.header.Get(contract.HeaderUpstreamEndpoint) != dead.String() ||
		r.header.Get(contract.HeaderUpstreamCluster) != xds.ClusterName(mesh, "movie-v1") {
		t.Errorf("to a dead endpoint: %d from %q (%q), want 503 naming %s", r.status,
			r.header.Get(contract.HeaderUpstreamEndpoint), r.header.Get(contract.HeaderUpstreamCluster), dead)
	}
}
