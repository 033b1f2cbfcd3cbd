package sidecar_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/xds"
)

// gatewayWorld is movieWorld (home → movie router, v1/v2 weighted) with
// the virtual service v2.bookingapp.local provided by node movie-v2, a
// second route of the movie router (prefix /x/, all to movie-v2) and the
// virtual gateway gw on port, whose gateway routes exercise App Mesh's
// matches and rewrites.
func gatewayWorld(v1, v2 []xds.Endpoint, port uint32) xds.World {
	w := movieWorld(v1, v2, 75, 25)
	m := &w.Meshes[0]
	m.VirtualServices = append(m.VirtualServices, xds.VirtualService{Name: "v2.bookingapp.local", ProviderNode: "movie-v2"})
	zero := 0
	m.VirtualRouters[0].Routes = append(m.VirtualRouters[0].Routes, xds.Route{Name: "x", Protocol: xds.HTTP, Prefix: "/x/", Priority: &zero,
		Targets: []xds.WeightedTarget{{VirtualNode: "movie-v2", Weight: 1}}})
	strip, v2prefix := "/", "/v2/"
	one, two := 1, 2
	m.VirtualGateways = []xds.VirtualGateway{{
		Name:      "gw",
		Listeners: []xds.Listener{{Port: port, Protocol: xds.HTTP}},
		Routes: []xds.GatewayRoute{
			// Default rewrites: Host → the virtual service, /movies/ → /.
			{Name: "movies", Protocol: xds.HTTP, Prefix: "/movies/", VirtualService: movieSvc, RewriteHostname: true, PrefixRewrite: &strip},
			// An exact path rewritten to another, the Host kept.
			{Name: "top", Protocol: xds.HTTP, PathExact: "/top", PathRewrite: "/charts/top", VirtualService: movieSvc},
			// By hostname suffix and header, first by priority, to a node
			// provider, the prefix replaced by a value.
			{Name: "beta", Protocol: xds.HTTP, Priority: &zero, Prefix: "/movies/", HostnameSuffix: ".beta.example.com",
				Headers: []xds.HeaderMatch{{Name: "x-tester", Exact: "yes"}}, VirtualService: "v2.bookingapp.local", RewriteHostname: true, PrefixRewrite: &v2prefix},
			// By query parameter and method, the path kept.
			{Name: "debug", Protocol: xds.HTTP, Priority: &one, Prefix: "/movies/", Method: "GET",
				QueryParameters: []xds.QueryParameterMatch{{Name: "debug", Exact: "1"}}, VirtualService: "v2.bookingapp.local", RewriteHostname: true},
			// A regex path, whose router routes apply to it as sent.
			{Name: "regex", Protocol: xds.HTTP, Priority: &two, PathRegex: "/x/[0-9]+", VirtualService: movieSvc, RewriteHostname: true},
		},
	}}
	return w
}

// freePort returns a port free on ip.
func freePort(t *testing.T, ip string) uint32 {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint32(ln.Addr().(*net.TCPAddr).Port)
}

// echo answers with the Host and the request URI it received.
func echo(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, r.Host+" "+r.URL.RequestURI())
}

// The embedded sidecar, identified as App Mesh's virtual gateway
// (mesh/<mesh>/virtualGateway/<name>), takes the gateway's configuration
// from the control plane and routes as the gateway routes say: matches by
// prefix, exact path, regex, hostname, header, method and query parameter,
// in priority order; App Mesh's default rewrites (Host → virtual service,
// matched prefix → /) and explicit ones; the target virtual service's
// router routes applied to the rewritten path, with their weights.
func TestGatewayRoutes(t *testing.T) {
	v1, v2 := startBackend(t, "v1", "t1", echo), startBackend(t, "v2", "t2", echo)
	ip := loopbackIP(t)
	port := freePort(t, ip)
	cp := startControlPlane(t, "")
	if err := cp.srv.Update(context.Background(), gatewayWorld([]xds.Endpoint{v1.endpoint()}, []xds.Endpoint{v2.endpoint()}, port)); err != nil {
		t.Fatal(err)
	}
	startSidecar(t, cp.addr, "arn:aws:appmesh:us-east-1:000000000000:mesh/"+mesh+"/virtualGateway/gw", ip)
	base := fmt.Sprintf("http://%s", net.JoinHostPort(ip, strconv.Itoa(int(port))))
	c := &http.Client{Timeout: 10 * time.Second}
	send := func(method, path, host string, header http.Header) result {
		t.Helper()
		req, err := http.NewRequest(method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host, req.Header = host, header
		if req.Header == nil {
			req.Header = http.Header{}
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return result{res.StatusCode, res.Header.Get("X-Meshsim-Version"), res.Header.Get("X-Meshsim-Task"), string(b), res.Header}
	}
	for _, tc := range []struct {
		name, method, path, host string
		header                   http.Header
		version, body            string // version "" for either
		status                   int
	}{
		{"default rewrites, router route /x/", "GET", "/movies/x/7", "shop.example.com", nil, "v2", movieSvc + " /x/7", 200},
		{"exact path rewrite, host kept", "GET", "/top?n=3", "shop.example.com", nil, "", "shop.example.com /charts/top?n=3", 200},
		{"hostname and header, prefix value", "GET", "/movies/abc", "www.beta.example.com:8443", http.Header{"X-Tester": {"yes"}}, "v2", "v2.bookingapp.local /v2/abc", 200},
		{"hostname without the header", "GET", "/movies/x/1", "www.beta.example.com", nil, "v2", movieSvc + " /x/1", 200},
		{"query parameter, path kept", "GET", "/movies/abc?debug=1", "shop.example.com", nil, "v2", "v2.bookingapp.local /movies/abc?debug=1", 200},
		{"query parameter, other method", "POST", "/movies/x/2?debug=1", "shop.example.com", nil, "v2", movieSvc + " /x/2?debug=1", 200},
		{"regex, router route on the path as sent", "GET", "/x/42", "shop.example.com", nil, "v2", movieSvc + " /x/42", 200},
		{"no gateway route", "GET", "/other", "shop.example.com", nil, "", "", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := send(tc.method, tc.path, tc.host, tc.header)
			if r.status != tc.status || (tc.version != "" && r.version != tc.version) || (tc.body != "" && r.body != tc.body) {
				t.Errorf("%s %s (Host %s) = %d %s %q, want %d %s %q", tc.method, tc.path, tc.host, r.status, r.version, r.body, tc.status, tc.version, tc.body)
			}
			if tc.status == 200 && r.header.Get(contract.HeaderUpstreamCluster) == "" {
				t.Errorf("no %s header: the gateway's listener is outbound", contract.HeaderUpstreamCluster)
			}
		})
	}

	// The router's weights apply through the gateway.
	const n = 1000
	counts := map[string]int{}
	for range n {
		r := send("GET", "/movies/list", "shop.example.com", nil)
		if r.status != 200 || !strings.HasSuffix(r.body, " /list") {
			t.Fatalf("GET /movies/list = %d %q", r.status, r.body)
		}
		counts[r.version]++
	}
	within3Sigma(t, "v1 share through the gateway", counts["v1"], n, 0.75)
}
