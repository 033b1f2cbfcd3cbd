package scenarios

import (
	"strings"
	"testing"
	"time"
)

const route53Base = `name: dns
routing: route53
timeScale: 20
services:
  - name: web
    versions: [{name: blue}, {name: green}]
dns: {ttl: 30s, clients: 50, cache: forever, connectionLifetime: 10s}
rollout:
  service: web
  steps:
    - {weights: {blue: 100}, bake: 1s}
    - {weights: {green: 100}, bake: 1s}
`

func TestParseDNS(t *testing.T) {
	sc, err := Parse("t.yaml", []byte(route53Base))
	if err != nil {
		t.Fatal(err)
	}
	want := DNS{Zone: "dns.test", Record: "web", TTL: 30 * time.Second, Clients: 50, Cache: "forever", KeepAlive: true, ConnectionLifetime: 10 * time.Second}
	got := sc.DNS
	got.Pos = Pos{}
	if got != want || sc.Ingress.Service != "web" {
		t.Errorf("DNS = %+v (ingress %q), want %+v", got, sc.Ingress.Service, want)
	}
	// Defaults without a dns section.
	sc, err = Parse("t.yaml", []byte(strings.Replace(route53Base, "dns: {ttl: 30s, clients: 50, cache: forever, connectionLifetime: 10s}\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if d := sc.DNS; d.TTL != DefaultDNSTTL || d.Clients != DefaultDNSClients || d.Cache != "ttl" || !d.KeepAlive {
		t.Errorf("default DNS = %+v", d)
	}
}

func TestValidateDNS(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     string // in the error, which names line:col
	}{
		{"dns without route53", "routing: route53\n", "", "t.yaml:6:1: dns configures Route 53 weighted records: it needs routing: route53"},
		{"ttl not whole seconds", "ttl: 30s", "ttl: 1500ms", "t.yaml:7:6: dns.ttl 1.5s: Route 53 takes a TTL of whole seconds"},
		{"bad cache", "cache: forever", "cache: sometimes", `dns.cache must be one of ttl, forever, none, not "sometimes"`},
		{"bad zone", "dns: {", "dns: {zone: a..b, ", `dns.zone "a..b": label ""`},
		{"unknown field", "dns: {", "dns: {ttlSeconds: 3, ", `unknown field "ttlSeconds" in dns`},
		{"other ingress", "dns: {", "ingress: {service: web2}\ndns: {", `ingress.service "web2" is not a service`},
		{"deployments", "  steps:\n    - {weights: {blue: 100}, bake: 1s}\n    - {weights: {green: 100}, bake: 1s}\n", "  deployments: [{to: green}]\n", "routing route53 shifts traffic with rollout.steps"},
		{"grpc", "  - name: web\n", "  - name: web\n    protocol: grpc\n", `routing route53: service "web" must speak http`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(route53Base, tt.old, tt.new, 1)
			_, err := Parse("t.yaml", []byte(src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse: %v\nwant an error containing %q", err, tt.want)
			}
		})
	}
}
