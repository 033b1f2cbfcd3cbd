package scenarios

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const valid = `name: demo
services:
  - name: web
    backends: [api]
    versions: [{name: v1}]
  - name: api
    versions:
      - {name: v1, count: 2}
      - {name: v2, count: 1, latency: 5ms}
ingress: {service: web}
load: {rate: 100}
rollout:
  service: api
  steps:
    - {weights: {v1: 90, v2: 10}, bake: 2s}
    - {weights: {v2: 100}, bake: 1s}
assertions:
  - no-failed-requests
  - weight-within: 2.5
  - latency-p99-below: 250ms
`

func TestParseValid(t *testing.T) {
	sc, err := Parse("demo.yaml", []byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Cluster != "demo" || sc.Mesh != "demo" || sc.Namespace != "demo.local" || sc.Region != "us-east-1" {
		t.Errorf("defaults: cluster %q mesh %q namespace %q region %q", sc.Cluster, sc.Mesh, sc.Namespace, sc.Region)
	}
	if sc.Load.Measure != "api" || sc.Load.Timeout != 2*time.Second || sc.Load.Path != "/" {
		t.Errorf("load defaults: %+v", sc.Load)
	}
	api, _ := sc.Service("api")
	if api.Port != 8080 || api.Versions[1].Latency != 5*time.Millisecond || api.Versions[0].Count != 2 {
		t.Errorf("api: %+v", api)
	}
	if got := sc.Rollout.Steps[1].Weights; got["v1"] != 0 || got["v2"] != 100 {
		t.Errorf("missing version gets weight 0: %v", got)
	}
	if sc.Rollout.Steps[0].Name != "step 1" {
		t.Errorf("step name default %q", sc.Rollout.Steps[0].Name)
	}
	if sc.Duration() != 3*time.Second {
		t.Errorf("duration %v", sc.Duration())
	}
	want := []Assertion{{Kind: "no-failed-requests"}, {Kind: "weight-within", Value: 2.5}, {Kind: "latency-p99-below", Value: float64(250 * time.Millisecond)}}
	for i, a := range want {
		if sc.Asserts[i].Kind != a.Kind || sc.Asserts[i].Value != a.Value {
			t.Errorf("assertion %d = %+v, want %+v", i, sc.Asserts[i], a)
		}
	}
	if p := sc.Asserts[1].Pos.String(); p != "demo.yaml:19:5" {
		t.Errorf("assertion position %s", p)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, edit, want string
	}{
		{"unknown field", "load: {rate: 100}", "demo.yaml:11:8: unknown field \"rat\" in load (known: client, connections, grpcMethod, grpcRequest, measure, path, protoset, rate, requests, streamKind, streams, targetsFile, timeout)"},
		{"bad duration", "bake: 2s}", "demo.yaml:15:41: steps[].bake must be a duration"},
		{"weights sum", "{v1: 90, v2: 10}", "demo.yaml:15:7: rollout.steps[0].weights add up to 80, not 100"},
		{"unknown version", "{v2: 100}", "demo.yaml:16:7: rollout.steps[1].weights: \"v3\" is not a version of service \"api\""},
		{"unknown backend", "backends: [api]", "demo.yaml:3:5: service \"web\": backend \"apx\" is not a service"},
		{"unknown assertion", "- no-failed-requests", "demo.yaml:18:5: unknown assertion \"no-failed\""},
		{"assertion value", "weight-within: 2.5", "demo.yaml:19:20: weight-within must be a number, not \"lots\""},
		{"negative count", "count: 2}", "demo.yaml:8:27: versions[].count must be between 0 and 50, not -1"},
		{"yaml syntax", "load: {rate: 100}", "demo.yaml:11:8: YAML syntax: did not find expected ',' or '}'"},
		{"ingress service", "ingress: {service: web}", "demo.yaml:10:10: ingress.service \"nope\" is not a service"},
	}
	replacements := map[string]string{
		"unknown field":     "load: {rat: 100}",
		"bad duration":      "bake: soon}",
		"weights sum":       "{v1: 70, v2: 10}",
		"unknown version":   "{v3: 100}",
		"unknown backend":   "backends: [apx]",
		"unknown assertion": "- no-failed",
		"assertion value":   "weight-within: lots",
		"negative count":    "count: -1}",
		"yaml syntax":       "load: {rate: 100\nx: [",
		"ingress service":   "ingress: {service: nope}",
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(valid, tc.edit, replacements[tc.name], 1)
			if src == valid {
				t.Fatalf("edit %q not applied", tc.edit)
			}
			_, err := Parse("demo.yaml", []byte(src))
			if err == nil {
				t.Fatal("no error")
			}
			if !IsParseError(err) {
				t.Errorf("error is not a parse error: %T", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n%s\ndoes not contain\n%s", err, tc.want)
			}
		})
	}
}

func TestBuiltinsParse(t *testing.T) {
	infos, err := List()
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) == 0 {
		t.Fatal("no built-in scenarios")
	}
	for _, in := range infos {
		if _, err := Builtin(in.Name); err != nil {
			t.Errorf("%s: %v", in.Name, err)
		}
	}
	sc, err := Builtin("bookingapp-canary")
	if err != nil {
		t.Fatal(err)
	}
	var weights []string
	for _, st := range sc.Rollout.Steps {
		weights = append(weights, strings.TrimSpace(strings.Repeat(" ", 0)+itoa(st.Weights["v1"])+"/"+itoa(st.Weights["v2"])))
	}
	if got := strings.Join(weights, " "); got != "100/0 75/25 50/50 20/80 0/100" {
		t.Errorf("bookingapp-canary steps %s", got)
	}
}

func TestResolveFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mine.yaml")
	if err := os.WriteFile(p, []byte(valid), 0o644); err != nil {
		t.Fatal(err)
	}
	sc, err := Resolve(p)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Source != p {
		t.Errorf("source %q", sc.Source)
	}
	if _, err := Resolve("no-such-scenario"); err == nil || !strings.Contains(err.Error(), "scenarios list") {
		t.Errorf("unknown builtin: %v", err)
	}
	if _, err := Resolve(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("missing file: no error")
	}
}

const deployments = `name: dep
routing: serviceconnect
timeScale: 60
services:
  - name: web
    backends: [api]
    versions: [{name: v1}]
  - name: api
    versions:
      - {name: v1, count: 3}
      - {name: v2, shutdown: abrupt, health: fail, crashAfter: 20s}
ingress: {service: web}
rollout:
  service: api
  deployments:
    - to: v2
      strategy: CANARY
      canary: {percent: 10, bake: 5m}
      bake: 2m
      hooks:
        - {stages: [PRE_PRODUCTION_TRAFFIC_SHIFT], maxErrorRate: 0.01, maxP99: 200ms}
      expect: ROLLBACK_SUCCESSFUL
`

func TestParseDeployments(t *testing.T) {
	sc, err := Parse("dep.yaml", []byte(deployments))
	if err != nil {
		t.Fatal(err)
	}
	dep := sc.Rollout.Deployments[0]
	if dep.Strategy != "CANARY" || dep.CanaryPercent != 10 || dep.CanaryBake != 5*time.Minute || dep.Bake != 2*time.Minute ||
		dep.MinimumHealthyPercent != 100 || dep.MaximumPercent != 200 || dep.Expect != "ROLLBACK_SUCCESSFUL" || dep.Hold != 5*time.Second {
		t.Errorf("deployment %+v", dep)
	}
	if h := dep.Hooks[0]; h.MaxErrorRate != 0.01 || h.MaxP99 != 200*time.Millisecond || h.Window != 5*time.Second {
		t.Errorf("hook %+v", h)
	}
	api, _ := sc.Service("api")
	if v := api.Versions[1]; v.Shutdown != "abrupt" || !v.FailHealth || v.CrashAfter != 20*time.Second {
		t.Errorf("version %+v", v)
	}
	// 7 minutes of AWS time at 60× plus the 5 s hold.
	if got := sc.Duration(); got != 7*time.Second+5*time.Second {
		t.Errorf("duration %v", got)
	}
}

func TestParseDeploymentErrors(t *testing.T) {
	tests := []struct{ old, new, want string }{
		{"routing: serviceconnect\n", "", "strategy CANARY shifts traffic through Service Connect"},
		{"bake: 2m", "bake: 90s", "bake is 1m30s: ECS takes whole minutes"},
		{"to: v2", "to: v9", `to: "v9" is not a version of service "api"`},
		{"strategy: CANARY", "strategy: YOLO", "deployments[].strategy must be one of ROLLING, BLUE_GREEN, LINEAR, CANARY"},
		{"stages: [PRE_PRODUCTION_TRAFFIC_SHIFT]", "stages: [LUNCH]", `hooks[].stages[] must be one of`},
		{", maxErrorRate: 0.01, maxP99: 200ms", "", "give maxErrorRate, maxP99, analysis or several"},
		{", maxErrorRate: 0.01, maxP99: 200ms", ", analysis: {pass: 70, marginal: 80}", "hooks[].analysis.marginal 80 is above pass 70"},
		{", maxErrorRate: 0.01, maxP99: 200ms", ", analysis: {pass: 120}", "hooks[].analysis.pass must be between 0 and 100"},
		{", maxErrorRate: 0.01, maxP99: 200ms", ", analysis: {score: 9}", "score"},
		{"health: fail", "health: meh", "versions[].health must be one of ok, fail"},
		{"  deployments:", "  steps: [{weights: {v1: 100}, bake: 1s}]\n  deployments:", "give steps or deployments, not both"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			src := strings.Replace(deployments, tc.old, tc.new, 1)
			if src == deployments {
				t.Fatalf("edit %q not applied", tc.old)
			}
			_, err := Parse("dep.yaml", []byte(src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestParseAnalysisAndCompare: a hook's canary analysis and the compare
// section are read, and their mistakes named.
func TestParseAnalysisAndCompare(t *testing.T) {
	src := strings.Replace(deployments, ", maxErrorRate: 0.01, maxP99: 200ms", ", analysis: {pass: 90, marginal: 70, interval: 2s, threshold: 3}", 1)
	src += "compare: {alpha: 0.05, errorRatePp: 0.5, minLatencyShift: 3ms, gate: [errors, latency]}\n"
	sc, err := Parse("dep.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	a := sc.Rollout.Deployments[0].Hooks[0].Analysis
	if a == nil || a.Pass != 90 || a.Marginal != 70 || a.Interval != 2*time.Second || a.Threshold != 3 {
		t.Errorf("analysis %+v", a)
	}
	c := sc.Compare
	if c == nil || c.Alpha != 0.05 || c.ErrorRatePP != 0.5 || c.MinLatencyShift != 3*time.Millisecond || c.WeightErrorPP != -1 || strings.Join(c.Gate, ",") != "errors,latency" {
		t.Errorf("compare %+v", c)
	}
	_, err = Parse("dep.yaml", []byte(deployments+"compare: {gate: [vibes]}\n"))
	if err == nil || !strings.Contains(err.Error(), "compare.gate[] must be one of errors, weights") {
		t.Errorf("bad gate: %v", err)
	}
}

func TestParseSidecarFaults(t *testing.T) {
	src := valid + `faults:
  - {action: delay, service: api, version: v2, step: "step 1", after: 1s, delay: 200ms}
  - {action: drop, service: api, percent: 12.5, at: 2s}
  - {action: heal, service: api, step: "step 2"}
`
	sc, err := Parse("demo.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []Fault{
		{Action: "delay", Service: "api", Version: "v2", Count: 1, Step: "step 1", After: time.Second, Delay: 200 * time.Millisecond, Pos: Pos{"demo.yaml", 22, 5}},
		{Action: "drop", Service: "api", Count: 1, At: 2 * time.Second, Percent: 12.5, Pos: Pos{"demo.yaml", 23, 5}},
		{Action: "heal", Service: "api", Count: 1, Step: "step 2", Pos: Pos{"demo.yaml", 24, 5}},
	}
	if len(sc.Faults) != len(want) {
		t.Fatalf("faults %+v", sc.Faults)
	}
	for i := range want {
		if sc.Faults[i] != want[i] {
			t.Errorf("fault %d = %+v, want %+v", i, sc.Faults[i], want[i])
		}
	}

	errs := []struct{ fault, want string }{
		{"{action: delay, service: api, at: 1s}", "demo.yaml:22:5: faults[0]: action delay needs delay (the latency to add, e.g. 200ms)"},
		{"{action: delay, service: api, at: 1s, delay: 0s}", "demo.yaml:22:5: faults[0]: action delay needs delay"},
		{"{action: delay, service: api, at: 1s, delay: soon}", "demo.yaml:22:50: faults[].delay must be a duration"},
		{"{action: drop, service: api, at: 1s}", "demo.yaml:22:5: faults[0]: action drop needs percent (the share of requests to drop, 1-100)"},
		{"{action: drop, service: api, at: 1s, percent: 120}", "demo.yaml:22:51: faults[].percent must be between 0 and 100, not 120"},
		{"{action: drop, service: api, at: 1s, percent: lots}", "demo.yaml:22:51: faults[].percent must be a number"},
		{"{action: heal, service: api, at: 1s, delay: 1s}", "demo.yaml:22:5: faults[0].delay is for action delay"},
		{"{action: kill, service: api, at: 1s, percent: 5}", "demo.yaml:22:5: faults[0].percent is for action drop"},
		{"{action: slow, service: api, at: 1s}", "demo.yaml:22:14: faults[].action must be one of stop-task, kill, pause, unpause, disconnect, reconnect, delay, drop, heal"},
	}
	for _, tc := range errs {
		t.Run(tc.fault, func(t *testing.T) {
			_, err := Parse("demo.yaml", []byte(valid+"faults:\n  - "+tc.fault+"\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
