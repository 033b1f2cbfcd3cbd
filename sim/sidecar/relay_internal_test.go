package sidecar

import (
	"regexp"
	"slices"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"
)

func fields(kv ...string) []hpack.HeaderField {
	out := make([]hpack.HeaderField, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

// TestFieldsRequest reads an HTTP/2 request's fields as routing reads a
// net/http request (see stdRequest).
func TestFieldsRequest(t *testing.T) {
	r := fieldsRequest(fields(
		":method", "POST", ":scheme", "http", ":authority", "echo.local:9090", ":path", "/pkg.Svc/Call?canary=yes&x=1&x=2",
		"content-type", "application/grpc+proto", "x-tenant", "a", "x-tenant", "b", "user-agent", "grpc-go/1.85",
	))
	tests := []struct {
		name, want string
		ok         bool
	}{
		{":authority", "echo.local:9090", true},
		{":method", "POST", true},
		{":path", "/pkg.Svc/Call?canary=yes&x=1&x=2", true},
		{":scheme", "http", true},
		{"X-Tenant", "a,b", true},
		{"User-Agent", "grpc-go/1.85", true},
		{"X-Missing", "", false},
		{queryPrefix + "canary", "yes", true},
		{queryPrefix + "x", "1", true},
		{queryPrefix + "y", "", false},
	}
	for _, tt := range tests {
		if got, ok := r.header(tt.name); got != tt.want || ok != tt.ok {
			t.Errorf("header(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	if p := r.escapedPath(); p != "/pkg.Svc/Call" {
		t.Errorf("escapedPath = %q", p)
	}
	if !r.isGRPC() {
		t.Error("isGRPC = false for application/grpc+proto")
	}
	if host, ok := fieldsRequest(fields(":path", "/", "host", "h.local")).header(":authority"); host != "h.local" || !ok {
		t.Errorf(":authority without the pseudo-header = %q, %v; want the Host header", host, ok)
	}
}

// TestRewriteFields applies a route's host and path rewrites and the
// grpc-timeout its timeouts set to what goes upstream.
func TestRewriteFields(t *testing.T) {
	in := fields(":authority", "echo.local", ":path", "/old/Call?q=1", "grpc-timeout", "5S", "x-a", "1")
	tests := []struct {
		name string
		rt   compiledRoute
		t    requestTimeouts
		want []hpack.HeaderField
	}{
		{"nothing to change", compiledRoute{}, requestTimeouts{}, in},
		{"host and prefix", compiledRoute{rewriteHost: "other.local", path: "/old/", rewritePrefix: "/new/"}, requestTimeouts{},
			fields(":authority", "other.local", ":path", "/new/Call?q=1", "x-a", "1", "grpc-timeout", "5S")},
		{"regex", compiledRoute{rewriteRE: regexp.MustCompile("^/old/(.*)$"), rewriteWith: "/v2/${1}"}, requestTimeouts{},
			fields(":authority", "echo.local", ":path", "/v2/Call?q=1", "x-a", "1", "grpc-timeout", "5S")},
		{"grpc-timeout capped", compiledRoute{}, requestTimeouts{grpcHeader: "2000m"},
			fields(":authority", "echo.local", ":path", "/old/Call?q=1", "x-a", "1", "grpc-timeout", "2000m")},
		{"grpc-timeout dropped", compiledRoute{}, requestTimeouts{dropGRPCHeader: true},
			fields(":authority", "echo.local", ":path", "/old/Call?q=1", "x-a", "1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rewriteFields(in, &tt.rt, tt.t)
			if !slices.Equal(got, tt.want) {
				t.Errorf("rewriteFields = %v\nwant %v", got, tt.want)
			}
		})
	}
	if in[1].Value != "/old/Call?q=1" {
		t.Errorf("rewriteFields changed its input: %v", in)
	}
}

// TestTimeoutsOfGRPCRoute checks the timeouts the relay takes from a
// route of App Mesh's shape: max_stream_duration with
// grpc_timeout_header_max 0 makes the call's own deadline its limit.
func TestTimeoutsOfGRPCRoute(t *testing.T) {
	rt := &compiledRoute{stream: &streamDuration{grpcHeaderMaxSet: true}}
	ls := &listenerState{streamIdle: defaultStreamIdleTimeout}
	got := timeoutsOf(rt, ls, true, func() string { return "1500m" })
	if got.maxDuration != 1500*time.Millisecond || got.grpcHeader != "1500m" || got.route != 0 || got.idle != defaultStreamIdleTimeout {
		t.Errorf("timeoutsOf = %+v", got)
	}
	if got := timeoutsOf(rt, ls, true, func() string { return "" }); got.maxDuration != 0 || !got.dropGRPCHeader {
		t.Errorf("without grpc-timeout: %+v, want no limit and no header", got)
	}
}
