package scenarios

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
)

const userSoftware = `name: mine
routing: serviceconnect
timeScale: 60
services:
  - name: web
    portEnv: APP_PORT
    serviceFile: service.json
    versions:
      - {name: v1, count: 2, image: "myorg/web:1.4", env: {APP_VERSION: v1}, stopTimeout: 30s}
      - {name: v2, count: 2, command: ["./bin/web", "--port", "8080"], env: {APP_VERSION: v2}}
      - {name: v3, taskDefinitionFile: taskdef.json}
ingress: {service: web}
load:
  rate: 50
  requests:
    - {method: POST, path: /orders, headers: {Content-Type: application/json}, body: '{"id": 1}', weight: 3}
    - {path: "/orders?id=1"}
instrument: {maxLag: 250ms, minAchieved: 0.95}
rollout:
  service: web
  deployments:
    - to: v2
      strategy: CANARY
      hooks:
        - {stages: [POST_PRODUCTION_TRAFFIC_SHIFT], maxErrorRate: 0.01, minRequests: 50, noDataWait: 10s, onNoData: continue}
        - {stages: [PRODUCTION_TRAFFIC_SHIFT], maxP99: 100ms}
      expect: ROLLBACK_SUCCESSFUL
      expectReason: circuit breaker
`

const grpcLoad = `name: g
services:
  - name: echo
    protocol: grpc
    versions: [{name: v1, command: [./echo]}]
ingress: {service: echo}
load: {grpcMethod: grpc.health.v1.Health/Check, grpcRequest: {service: "", n: [1, 2]}, protoset: health.protoset}
rollout: {service: echo, steps: [{weights: {v1: 100}, bake: 1s}]}
`

// inputDir writes a scenario and the files it names into a new directory
// and returns the scenario's path.
func inputDir(t *testing.T, scenario string) string {
	t.Helper()
	dir := t.TempDir()
	set, err := proto.Marshal(&descriptorpb.FileDescriptorSet{
		File: []*descriptorpb.FileDescriptorProto{protodesc.ToFileDescriptorProto(healthpb.File_grpc_health_v1_health_proto)},
	})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"mine.yaml":       []byte(scenario),
		"service.json":    []byte(`{"serviceName": "web", "desiredCount": 2}`),
		"taskdef.json":    []byte(`{"family": "web", "containerDefinitions": [{"name": "app", "image": "myorg/web:1.5"}]}`),
		"targets.txt":     []byte("GET http://ingress/orders\nX-Tenant: a\n\nPOST http://ingress/orders\nContent-Type: application/json\n"),
		"bad-targets.txt": []byte("GET http://ingress/orders\nnot a header\n"),
		"not.json":        []byte("{\n  \"family\": web\n}\n"),
		"health.protoset": set,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The programs of the versions' commands.
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bin/web", "echo"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "mine.yaml")
}

func TestParseUserSoftware(t *testing.T) {
	p := inputDir(t, userSoftware)
	dir := filepath.Dir(p)
	sc, err := LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	web := sc.Services[0]
	if web.PortEnv != "APP_PORT" || web.HostEnv != DefaultHostEnv || web.ServiceFile != filepath.Join(dir, "service.json") {
		t.Errorf("service: portEnv %q hostEnv %q serviceFile %q", web.PortEnv, web.HostEnv, web.ServiceFile)
	}
	want := []Version{
		{Name: "v1", Count: 2, Image: "myorg/web:1.4", Env: map[string]string{"APP_VERSION": "v1"}, StopTimeout: 30 * time.Second, Pos: Pos{p, 9, 9}},
		{Name: "v2", Count: 2, Command: []string{"./bin/web", "--port", "8080"}, Env: map[string]string{"APP_VERSION": "v2"}, Pos: Pos{p, 10, 9}},
		{Name: "v3", Count: 1, TaskDefinitionFile: filepath.Join(dir, "taskdef.json"), Pos: Pos{p, 11, 9}},
	}
	if !reflect.DeepEqual(web.Versions, want) {
		t.Errorf("versions\n%+v\nwant\n%+v", web.Versions, want)
	}
	for _, v := range web.Versions {
		if !v.UserSoftware() {
			t.Errorf("version %s: UserSoftware false", v.Name)
		}
	}
	if (Version{Name: "s", Latency: time.Second}).UserSoftware() {
		t.Error("a sample version is UserSoftware")
	}
	wantReqs := []Request{
		{Method: "POST", Path: "/orders", Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"id": 1}`, Weight: 3, Pos: Pos{p, 16, 7}},
		{Method: "GET", Path: "/orders?id=1", Weight: 1, Pos: Pos{p, 17, 7}},
	}
	if !reflect.DeepEqual(sc.Load.Requests, wantReqs) || sc.Load.Path != "" {
		t.Errorf("requests %+v path %q", sc.Load.Requests, sc.Load.Path)
	}
	if sc.Instrument.MaxLag != 250*time.Millisecond || sc.Instrument.MinAchieved != 0.95 {
		t.Errorf("instrument %+v", sc.Instrument)
	}
	dep := sc.Rollout.Deployments[0]
	if dep.ExpectReason != "circuit breaker" || dep.Strategy != StrategyCanary {
		t.Errorf("deployment %+v", dep)
	}
	h0, h1 := dep.Hooks[0], dep.Hooks[1]
	if h0.MinRequests != 50 || h0.NoDataWait != 10*time.Second || h0.OnNoData != OnNoDataContinue {
		t.Errorf("hook 0 %+v", h0)
	}
	if h1.MinRequests != DefaultHookMinRequests || h1.NoDataWait != DefaultHookNoDataWait || h1.OnNoData != OnNoDataRollback || h1.Window != DefaultHookWindow {
		t.Errorf("hook 1 defaults %+v", h1)
	}
}

func TestParseDefaultsOfNewFields(t *testing.T) {
	sc, err := Parse("demo.yaml", []byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Instrument.MaxLag != DefaultMaxLag || sc.Instrument.MinAchieved != DefaultMinAchieved {
		t.Errorf("instrument defaults %+v", sc.Instrument)
	}
	for _, s := range sc.Services {
		if s.PortEnv != "PORT" || s.HostEnv != "HOST" || s.ServiceFile != "" {
			t.Errorf("service %s: portEnv %q hostEnv %q serviceFile %q", s.Name, s.PortEnv, s.HostEnv, s.ServiceFile)
		}
		for _, v := range s.Versions {
			if v.UserSoftware() {
				t.Errorf("%s %s: sample version is UserSoftware", s.Name, v.Name)
			}
		}
	}
	if sc.Load.Path != "/" {
		t.Errorf("load.path default %q", sc.Load.Path)
	}
}

func TestParseTargetsFileAndGRPCLoad(t *testing.T) {
	src := strings.Replace(userSoftware, `  requests:
    - {method: POST, path: /orders, headers: {Content-Type: application/json}, body: '{"id": 1}', weight: 3}
    - {path: "/orders?id=1"}
`, "  targetsFile: targets.txt\n", 1)
	p := inputDir(t, src)
	sc, err := LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(filepath.Dir(p), "targets.txt"); sc.Load.TargetsFile != want || sc.Load.Path != "" {
		t.Errorf("targetsFile %q path %q, want %q and no path", sc.Load.TargetsFile, sc.Load.Path, want)
	}

	for _, req := range []string{`{service: "", n: [1, 2]}`, `'{"service": "", "n": [1, 2]}'`} {
		src := strings.Replace(grpcLoad, `{service: "", n: [1, 2]}`, req, 1)
		p := inputDir(t, src)
		sc, err := LoadFile(p)
		if err != nil {
			t.Fatalf("%s: %v", req, err)
		}
		l := sc.Load
		if l.GRPCMethod != "grpc.health.v1.Health/Check" || l.Protoset != filepath.Join(filepath.Dir(p), "health.protoset") {
			t.Errorf("grpc load %+v", l)
		}
		if got := strings.ReplaceAll(string(l.GRPCRequest), " ", ""); got != `{"n":[1,2],"service":""}` && got != `{"service":"","n":[1,2]}` {
			t.Errorf("grpcRequest %s", l.GRPCRequest)
		}
	}
}

func TestParseUserSoftwareErrors(t *testing.T) {
	tests := []struct {
		name      string
		base      string
		old, new  string
		want      string
		wantField string // the error is at the place of this text in the changed source
	}{
		{"sample knob on an image", userSoftware, `env: {APP_VERSION: v1}`, `env: {APP_VERSION: v1}, latency: 5ms`,
			`versions[].latency shapes meshsim's sample service; version "v1" runs your software`, "latency: 5ms"},
		{"health on a command", userSoftware, `env: {APP_VERSION: v2}}`, `env: {APP_VERSION: v2}, health: fail}`,
			`versions[].health shapes meshsim's sample service`, "health: fail"},
		{"image and command", userSoftware, `stopTimeout: 30s}`, `stopTimeout: 30s, command: [./x]}`,
			"give image (run with --runtime docker) or command (a local process, the inproc runtime), not both", "command: [./x]"},
		{"bad image", userSoftware, `"myorg/web:1.4"`, `"MyOrg/Web:1.4"`, `versions[].image "MyOrg/Web:1.4" is not a Docker image reference`, `"MyOrg/Web:1.4"`},
		{"stopTimeout too short", userSoftware, "stopTimeout: 30s", "stopTimeout: 1s", "versions[].stopTimeout is 1s: ECS takes whole seconds from 2s to 120s", "1s}"},
		{"stopTimeout too long", userSoftware, "stopTimeout: 30s", "stopTimeout: 121s", "versions[].stopTimeout is 2m1s", "121s}"},
		{"stopTimeout fraction", userSoftware, "stopTimeout: 30s", "stopTimeout: 2500ms", "versions[].stopTimeout is 2.5s", "2500ms}"},
		{"env name", userSoftware, `{APP_VERSION: v1}`, `{APP-VERSION: v1}`, `versions[].env name "APP-VERSION" is not an environment variable name`, "APP-VERSION"},
		{"env value list", userSoftware, `{APP_VERSION: v1}`, `{APP_VERSION: [v1]}`, "versions[].env.APP_VERSION must be a single value", "[v1]}"},
		{"env sets the port", userSoftware, `{APP_VERSION: v2}`, `{APP_PORT: "9"}`, `version "v2": env.APP_PORT is set by meshsim`, "{name: v2"},
		{"empty command", userSoftware, `command: ["./bin/web", "--port", "8080"]`, `command: []`, "versions[].command must be a non-empty list", "[]"},
		{"missing task definition", userSoftware, "taskdef.json", "nope.json", "nope.json does not exist", "nope.json"},
		{"task definition not JSON", userSoftware, "taskdef.json", "not.json", "not.json: line 2, column 13: invalid character 'w'", "not.json"},
		{"missing service file", userSoftware, "service.json", "svc.json", "svc.json does not exist", "svc.json"},
		{"bad portEnv", userSoftware, "portEnv: APP_PORT", "portEnv: 1PORT", `services[].portEnv "1PORT" is not an environment variable name`, "1PORT"},
		{"path and requests", userSoftware, "  rate: 50\n", "  rate: 50\n  path: /x\n", "load: give one of path, targetsFile and requests, not path and requests", "requests:"},
		{"request path", userSoftware, "path: /orders,", "path: orders,", `requests[].path "orders": it must start with /`, "orders,"},
		{"request method", userSoftware, "method: POST", "method: \"PO ST\"", `requests[].method "PO ST" is not an HTTP method`, `"PO ST"`},
		{"request weight", userSoftware, "weight: 3", "weight: 0", "requests[].weight must be between 1 and 1000000, not 0", "0}"},
		{"request header", userSoftware, "{Content-Type: application/json}", `{"Content Type": x}`, `requests[].headers: "Content Type" is not an HTTP header name`, `"Content Type"`},
		{"request without path", userSoftware, `{path: "/orders?id=1"}`, `{method: GET}`, "requests[].path is required", "{method: GET}"},
		{"bad targets", userSoftware, `  requests:
    - {method: POST, path: /orders, headers: {Content-Type: application/json}, body: '{"id": 1}', weight: 3}
    - {path: "/orders?id=1"}
`, "  targetsFile: bad-targets.txt\n", "bad-targets.txt: target 1: bad header: not a header", "bad-targets.txt"},
		{"grpc on http", userSoftware, "  rate: 50\n", "  rate: 50\n  grpcMethod: a.B/C\n", `load.grpcMethod applies to a gRPC ingress service; "web" speaks http`, "rate: 50"},
		{"expectReason without rollback", userSoftware, "expect: ROLLBACK_SUCCESSFUL", "expect: SUCCESSFUL", "deployments[].expectReason is the reason of a rollback: it needs expect: ROLLBACK_SUCCESSFUL", "expectReason"},
		{"onNoData", userSoftware, "onNoData: continue", "onNoData: shrug", "hooks[].onNoData must be one of rollback, continue, not \"shrug\"", "shrug"},
		{"minRequests", userSoftware, "minRequests: 50", "minRequests: 0", "hooks[].minRequests must be between 1 and 1000000, not 0", "0, noDataWait"},
		{"minAchieved", userSoftware, "minAchieved: 0.95", "minAchieved: 1.5", "instrument.minAchieved must be between 0 and 1, not 1.5", "1.5}"},
		{"maxLag", userSoftware, "maxLag: 250ms", "maxLag: soon", "instrument.maxLag must be a duration", "soon,"},
		{"instrument field", userSoftware, "maxLag: 250ms", "maxlag: 250ms", `unknown field "maxlag" in instrument`, "maxlag"},
		{"grpc method", grpcLoad, "grpc.health.v1.Health/Check", "Check", `load.grpcMethod "Check": give the full method, package.Service/Method`, "Check,"},
		{"grpc method not in protoset", grpcLoad, "Health/Check", "Health/Probe", "service grpc.health.v1.Health has no method Probe (load.grpcMethod)", "protoset:"},
		{"grpc service not in protoset", grpcLoad, "grpc.health.v1.Health/Check", "a.Health/Check", "describes no service a.Health (load.grpcMethod)", "protoset:"},
		{"protoset not a set", grpcLoad, "protoset: health.protoset", "protoset: service.json", "load.protoset " /* path */, "service.json}"},
		{"grpcRequest list", grpcLoad, `{service: "", n: [1, 2]}`, `[1]`, "load.grpcRequest must be a JSON object", "[1],"},
		{"grpcRequest bad JSON", grpcLoad, `{service: "", n: [1, 2]}`, `'{"service": }'`, "load.grpcRequest: line 1, column 13: invalid character '}'", `'{"service"`},
		{"grpcRequest without method", grpcLoad, "grpcMethod: grpc.health.v1.Health/Check, ", "", "load.grpcRequest is the request of load.grpcMethod", "{grpcRequest"},
		{"requests on grpc", grpcLoad, "protoset: health.protoset}", "protoset: health.protoset, requests: [{path: /}]}", `load.requests is HTTP load; ingress service "echo" speaks grpc`, "{grpcMethod"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(tc.base, tc.old, tc.new, 1)
			if src == tc.base {
				t.Fatalf("edit %q not applied", tc.old)
			}
			p := inputDir(t, src)
			_, err := LoadFile(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			line, col := placeOf(t, src, tc.wantField)
			prefix := p + ":" + itoa(line) + ":" + itoa(col) + ": "
			found := false
			for _, e := range strings.Split(err.Error(), "\n") {
				if strings.HasPrefix(e, prefix) && strings.Contains(e, tc.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("error\n%v\nhas no %q at %s", err, tc.want, prefix)
			}
		})
	}
}

// placeOf returns the line and column of the first occurrence of s in src.
func placeOf(t *testing.T, src, s string) (int, int) {
	t.Helper()
	i := strings.Index(src, s)
	if i < 0 {
		t.Fatalf("%q not in the source", s)
	}
	return lineCol([]byte(src), i)
}

func TestCheckCommands(t *testing.T) {
	tests := []struct{ program, want string }{
		{"./bin/web", ""},
		{"sh", ""},
		{"./bin/api", "/bin/api does not exist (a relative path is taken from the scenario file's directory)"},
		{"./service.json", "service.json is not an executable file"},
		{"meshsim-no-such-program", `command "meshsim-no-such-program": no such program in PATH`},
	}
	for _, tc := range tests {
		t.Run(tc.program, func(t *testing.T) {
			p := inputDir(t, strings.Replace(userSoftware, `"./bin/web"`, strconv.Quote(tc.program), 1))
			sc, err := LoadFile(p) // a program that cannot run is no parse error
			if err != nil {
				t.Fatal(err)
			}
			err = sc.CheckCommands()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if want := p + ":10:9: service \"web\" version \"v2\": "; err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %s...%s", err, want, tc.want)
			}
		})
	}
}

func TestScenarioDir(t *testing.T) {
	p := inputDir(t, userSoftware)
	sc, err := LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Dir() != filepath.Dir(p) {
		t.Errorf("Dir %q, want %q", sc.Dir(), filepath.Dir(p))
	}
	b, err := Builtin("bookingapp-canary")
	if err != nil {
		t.Fatal(err)
	}
	if b.Dir() != "" {
		t.Errorf("built-in Dir %q, want the working directory (\"\")", b.Dir())
	}
}
