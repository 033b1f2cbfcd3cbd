package scenarios

import (
	"strings"
	"testing"
)

func TestParseVirtualGateway(t *testing.T) {
	src := strings.Replace(valid, "ingress: {service: web}", `ingress:
  name: edge
  service: web
  virtualGateway:
    routes:
      - {prefix: /api/, service: api, rewritePrefix: /v2/}
      - {name: top, path: /top, rewritePath: /charts/top, keepHostname: true}
      - {}`, 1)
	sc, err := Parse("demo.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	gw := sc.Ingress.VirtualGateway
	if gw == nil || gw.Port != DefaultGatewayPort || len(gw.Routes) != 3 {
		t.Fatalf("virtualGateway = %+v", gw)
	}
	want := []GatewayRoute{
		{Name: "route-1", Prefix: "/api/", Service: "api", RewritePrefix: "/v2/"},
		{Name: "top", Path: "/top", Service: "web", RewritePath: "/charts/top", KeepHostname: true},
		{Name: "route-3", Service: "web"},
	}
	for i, w := range want {
		got := gw.Routes[i]
		got.Pos = Pos{}
		if got != w {
			t.Errorf("routes[%d] = %+v, want %+v", i, got, w)
		}
	}
}

// Each mistake in an ingress virtual gateway is an error at its place.
func TestValidateVirtualGateway(t *testing.T) {
	gateway := func(body string) string {
		return strings.Replace(valid, "ingress: {service: web}", "ingress:\n  service: web\n  virtualGateway:\n"+body, 1)
	}
	for _, tc := range []struct {
		name, src, want, at string
	}{
		{"service connect", strings.Replace(gateway("    port: 8000\n"), "name: demo\n", "name: demo\nrouting: serviceconnect\n", 1),
			"ingress.virtualGateway is an App Mesh ingress: it needs routing appmesh, not serviceconnect", "port: 8000"},
		{"proxy port", gateway("    port: 15001\n"), "ingress.virtualGateway.port 15001 is taken by the proxy's own listeners", "port: 15001"},
		{"port range", gateway("    port: 70000\n"), "ingress.virtualGateway.port must be between 1 and 65535, not 70000", "70000"},
		{"unknown field", gateway("    routes: [{prefx: /}]\n"), `unknown field "prefx" in ingress.virtualGateway.routes[]`, "prefx"},
		{"unknown service", gateway("    routes: [{service: db}]\n"), `ingress.virtualGateway.routes[0] (route-1): service "db" is not a service of this scenario`, "{service: db}"},
		{"prefix and path", gateway("    routes: [{prefix: /a, path: /b}]\n"), "give prefix or path, not both", "{prefix: /a"},
		{"relative prefix", gateway("    routes: [{prefix: a/}]\n"), `prefix and path start with "/"`, "{prefix: a/"},
		{"rewritePrefix of a path", gateway("    routes: [{path: /a, rewritePrefix: /b/}]\n"), "rewritePrefix needs a prefix", "{path: /a"},
		{"rewritePath of a prefix", gateway("    routes: [{prefix: /a, rewritePath: /b}]\n"), "rewritePath needs a path", "{prefix: /a"},
		{"bad rewritePrefix", gateway("    routes: [{prefix: /a, rewritePrefix: b}]\n"), `rewritePrefix is a path starting with "/", or "disabled", not "b"`, "{prefix: /a"},
		{"duplicate names", gateway("    routes: [{name: r}, {name: r}]\n"), `ingress.virtualGateway.routes[1].name "r" is used by another route`, "{name: r}]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("demo.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			line, col := placeOf(t, tc.src, tc.at)
			want := "demo.yaml:" + itoa(line) + ":" + itoa(col) + ": "
			for _, e := range err.(Errors) {
				if strings.HasPrefix(e.Error(), want) && strings.Contains(e.Msg, tc.want) {
					return
				}
			}
			t.Errorf("error\n%v\nhas no %q at %s", err, tc.want, want)
		})
	}
}
