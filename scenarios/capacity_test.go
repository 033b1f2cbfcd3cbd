package scenarios

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseSLO(t *testing.T) {
	q, d, err := ParseSLO("p99=200ms")
	if err != nil || q != 0.99 || d != 200*time.Millisecond {
		t.Errorf("p99=200ms: %v %v %v", q, d, err)
	}
	q, _, err = ParseSLO("p99.9=1s")
	if err != nil || math.Abs(q-0.999) > 1e-12 {
		t.Errorf("p99.9: %v %v", q, err)
	}
	for _, bad := range []string{"99=1s", "p100=1s", "p99=", "p99=-1s", "p99"} {
		if _, _, err := ParseSLO(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	b, err := ParseErrorBudget("0.1%")
	if err != nil || math.Abs(b-0.001) > 1e-12 {
		t.Errorf("0.1%%: %v %v", b, err)
	}
	if _, err := ParseErrorBudget("100%"); err == nil {
		t.Error("100% accepted")
	}
}

const capacityBase = `
name: cap
description: sizing
region: us-east-1
cluster: cap
mesh: cap
namespace: cap.local
services:
  - name: api
    port: 8080
    versions:
      - {name: v1, latency: 20ms, latencyDistribution: lognormal, cpu: 1ms, concurrency: 4}
ingress: {name: ingress, service: api}
load: {rate: 10, path: /, measure: api}
rollout:
  service: api
  steps:
    - {name: only, weights: {v1: 100}, bake: 1s}
`

func TestCapacitySection(t *testing.T) {
	tests := []struct {
		name, section, wantErr string
	}{
		{"full", "capacity: {service: api, version: v1, slo: p95=150ms, errorBudget: 0.001, targetRate: 900, maxTasks: 4, step: 2s, startRate: 30}\n", ""},
		{"unknown service", "capacity: {service: web}\n", `capacity.service "web" is not a service`},
		{"unknown version", "capacity: {service: api, version: v9}\n", `capacity.version "v9" is not a version of service "api"`},
		{"bad slo", "capacity: {service: api, slo: 200ms}\n", `capacity.slo "200ms": want pNN=DURATION`},
		{"unknown field", "capacity: {service: api, rate: 5}\n", `rate`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := Parse("cap.yaml", []byte(capacityBase+tc.section))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "cap.yaml:") {
					t.Fatalf("error %v, want cap.yaml:LINE:COL: …%s…", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := sc.Capacity
			if c.Service != "api" || c.Version != "v1" || c.SLO != "p95=150ms" || c.ErrorBudget != 0.001 || c.TargetRate != 900 || c.MaxTasks != 4 || c.Step != 2*time.Second || c.StartRate != 30 {
				t.Errorf("capacity %+v", c)
			}
			v := sc.Services[0].Versions[0]
			if v.LatencyDist != "lognormal" || v.CPU != time.Millisecond || v.Concurrency != 4 {
				t.Errorf("version cost %+v", v)
			}
		})
	}
}
