package scenarios

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateRunTimeFailures covers scenarios that once validated but
// failed or were ignored at run time: each is an error at its place.
func TestValidateRunTimeFailures(t *testing.T) {
	const faults = "faults:\n  - "
	tests := []struct {
		name     string
		base     string // valid, or deployments
		old, new string
		want     string
		at       string // the error is at this text of the changed source ("" for 1:1)
	}{
		{"region with spaces", valid, "name: demo\n", "name: demo\nregion: us east 1\n", `region "us east 1": an AWS region such as us-east-1`, "us east 1"},
		{"region upper case", valid, "name: demo\n", "name: demo\nregion: US-EAST-1\n", `region "US-EAST-1"`, "US-EAST-1"},
		{"cluster", valid, "name: demo\n", "name: demo\ncluster: a/b\n", `cluster "a/b": ECS takes 1-255 letters, digits, '-' and '_'`, "a/b"},
		{"mesh", valid, "name: demo\n", "name: demo\nmesh: \"a b\"\n", `mesh "a b": App Mesh takes`, `"a b"`},
		{"namespace with a space", valid, "name: demo\n", "name: demo\nnamespace: my ns.local\n", `namespace "my ns.local": "my ns" is not a DNS label`, "namespace:"},
		{"namespace label", valid, "name: demo\n", "name: demo\nnamespace: -a.local\n", `"-a" is not a DNS label`, "namespace:"},
		{"default namespace", valid, "name: demo\n", "name: demo\nmesh: my_mesh\n", `namespace "my_mesh.local" (the default, MESH.local): "my_mesh" is not a DNS label`, "mesh:"},
		{"load path CRLF", valid, "load: {rate: 100}", "load: {rate: 100, path: \"/a\\r\\nb\"}", `load.path "/a\r\nb": byte 3 is a space or control character`, `"/a\r`},
		{"load path relative", valid, "load: {rate: 100}", "load: {rate: 100, path: a/b}", `load.path "a/b": it must start with /`, "a/b"},
		{"health check quote", valid, "  - name: api\n", "  - name: api\n    healthCheckPath: \"/he'alth\"\n", `services[].healthCheckPath "/he'alth": the container health check runs`, `"/he'alth"`},
		{"health check space", valid, "  - name: api\n", "  - name: api\n    healthCheckPath: /a b\n", `services[].healthCheckPath "/a b"`, "/a b"},
		{"health check query", valid, "  - name: api\n", "  - name: api\n    healthCheckPath: /h?x=1&y=2\n", `services[].healthCheckPath "/h?x=1&y=2"`, "/h?x"},
		{"health check escape", valid, "  - name: api\n", "  - name: api\n    healthCheckPath: /h%zz\n", `services[].healthCheckPath "/h%zz"`, "/h%zz"},
		{"all counts 0", valid, "versions: [{name: v1}]", "versions: [{name: v1, count: 0}]", `service "web": every version has count 0: no task of it would ever run`, "name: web"},
		{"deployed service count 0", deployments, "{name: v1, count: 3}", "{name: v1, count: 0}", `service "api": version "v1" has count 0: the service starts with no task`, "{name: v1, count: 0}"},
		{"backend cycle", valid, "  - name: api\n", "  - name: api\n    backends: [web]\n", "services call each other in a loop: web → api → web", "name: api\n    backends"},
		{"backend cycle of three", strings.Replace(valid, "  - name: api\n", "  - name: api\n    backends: [db]\n", 1), "ingress:", "  - name: db\n    backends: [web]\n    versions: [{name: v1}]\ningress:", "services call each other in a loop: web → api → db → web", "name: db"},
		{"fault step", valid, "assertions:", faults + "{action: stop-task, service: api, step: nope}\nassertions:", `faults[0].step "nope" names no step (steps: "step 1", "step 2"): the fault would never fire`, "{action: stop-task"},
		{"fault after the end", valid, "assertions:", faults + "{action: stop-task, service: api, step: step 2, after: 1s}\nassertions:", `faults[0] fires 1s after step "step 2" begins, but the steps end 1s after it`, "{action: stop-task"},
		{"fault at after the end", valid, "assertions:", faults + "{action: stop-task, service: api, at: 5s}\nassertions:", "faults[0] fires 5s after the load starts, but the steps end 3s after it", "{action: stop-task"},
		{"fault on no task", valid, "{name: v2, count: 1, latency: 5ms}", "{name: v2, count: 0, latency: 5ms}", `faults[0]: version "v2" of service "api" has count 0: the fault would find no task`, "{action: stop-task"},
		{"fault phase", deployments, "      expect: ROLLBACK_SUCCESSFUL\n", "      expect: ROLLBACK_SUCCESSFUL\n" + faults + "{action: stop-task, service: api, step: \"canary: LUNCH\"}\n", `faults[0].step "canary: LUNCH" names no phase of a deployment`, "{action: stop-task"},
		{"step name with a line break", valid, "{weights: {v2: 100}, bake: 1s}", "{name: \"a\\nb\", weights: {v2: 100}, bake: 1s}", `steps[].name "a\nb" holds a control character`, `"a\nb"`},
		{"blank description", valid, "name: demo\n", "name: demo\ndescription: \" \"\n", "description is blank", `" "`},
		{"duplicate step names", valid, "{weights: {v2: 100}, bake: 1s}", "{name: step 1, weights: {v2: 100}, bake: 1s}", `rollout.steps[1].name "step 1" is also the name of step 0`, "{name: step 1"},
		{"duplicate deployment names", deployments, "      expect: ROLLBACK_SUCCESSFUL\n", "      expect: ROLLBACK_SUCCESSFUL\n    - {name: deployment 1, to: v1}\n", `rollout.deployments[1].name "deployment 1" is also the name of deployments[0]`, "{name: deployment 1"},
		{"duplicate service", valid, "  - name: api\n", "  - name: api\n    versions: [{name: v1}]\n  - name: api\n", `service "api" is defined twice`, "name: api\n    versions:\n"},
		{"duplicate version", valid, "{name: v2, count: 1, latency: 5ms}", "{name: v1, count: 1, latency: 5ms}", `service "api": version "v1" is defined twice`, "{name: v1, count: 1"},
		{"version names collide", valid, "{name: v1, count: 2}", "{name: \"1.0\", count: 2}\n      - {name: 1-0}", `version "1-0" of service "api" and version "1.0" of service "api" would both be the ECS service "api-1-0"`, "{name: 1-0}"},
		{"ingress name collides", valid, "ingress: {service: web}", "ingress: {service: web, name: api-v1}", `the ingress and version "v1" of service "api" would both be the ECS service "api-v1"`, "{service: web, name"},
		{"name too long", valid, "ingress:", "  - name: s" + strings.Repeat("x", 39) + "\n    versions: [{name: v" + strings.Repeat("x", 29) + "}]\ningress:", "characters long: Cloud Map takes at most 63", "{name: vx"},
		{"service connect upper case", deployments, "  - name: api\n", "  - name: Api\n", `would be the Service Connect discovery name "Api"`, "name: Api"},
		{"measure unreachable", valid, "load: {rate: 100}", "load: {rate: 100, measure: db}\n", `load.measure "db": the load enters at "web" and never reaches it`, "{rate: 100, measure"},
		{"rollout unreachable", valid, "    backends: [api]\n", "", `rollout.service "api": the load enters at "web" and never reaches it`, "service: api\n  steps"},
		{"canary on linear", deployments, "strategy: CANARY", "strategy: LINEAR", "deployments[].canary configures strategy CANARY: this deployment's strategy is LINEAR, which would ignore it", "canary: {"},
		{"bake on rolling", deployments, "strategy: CANARY\n      canary: {percent: 10, bake: 5m}\n      ", "", "a ROLLING deployment would ignore it", "bake: 2m"},
		{"hooks on rolling", deployments, "strategy: CANARY\n      canary: {percent: 10, bake: 5m}\n      bake: 2m\n", "strategy: ROLLING\n", "hooks: ECS runs lifecycle hooks in BLUE_GREEN, LINEAR and CANARY deployments, not ROLLING", "{stages:"},
		{"deployments assertion without deployments", valid, "assertions:\n", "assertions:\n  - deployments-as-expected\n", "assertion deployments-as-expected judges ECS deployments: this rollout has none", "deployments-as-expected\n"},
		{"stream assertion without streams", valid, "assertions:\n", "assertions:\n  - no-message-lost\n", "assertion no-message-lost judges gRPC streams: give load.streams", "no-message-lost\n"},
		{"duration overflow", valid, "bake: 2s}", "bake: 2562047h}", "steps[].bake is 2562047h: meshsim takes durations up to 24h0m0s", "2562047h"},
		{"rollout too long", valid, "bake: 2s}", "bake: 23h}\n    - {weights: {v1: 100}, bake: 2h}", "the rollout would last more than 24h0m0s of wall time", "service: api\n  steps"},
		{"deployments too long", deployments, "timeScale: 60\n", "timeScale: 1\n", "", ""}, // 7m of AWS time: fine
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(tc.base, tc.old, tc.new, 1)
			if src == tc.base {
				t.Fatalf("edit %q not applied", tc.old)
			}
			if tc.name == "fault on no task" {
				src += faults + "{action: stop-task, service: api, version: v2, at: 1s}\n"
			}
			if tc.name == "measure unreachable" {
				src = strings.Replace(src, "ingress:", "  - name: db\n    versions: [{name: v1}]\ningress:", 1)
			}
			_, err := Parse("demo.yaml", []byte(src))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			line, col := 1, 1
			if tc.at != "" {
				line, col = placeOf(t, src, tc.at)
			}
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

// TestParseSource covers what is wrong with a file as a whole: its size,
// its encoding, its YAML syntax and its number of documents. Each error is
// at the line and column of the problem.
func TestParseSource(t *testing.T) {
	tests := []struct {
		name, src, want string
		line, col       int
	}{
		{"second document", valid + "---\nname: other\n", "a second YAML document", 21, 1},
		{"second document without content", valid + "---\n", "", 0, 0},
		{"bad UTF-8", "name: demo\ndescription: caf\xc3\xa9 \xff\n", "byte 0xff is not UTF-8", 2, 19},
		{"truncated UTF-8", "name: d\xc3", "byte 0xc3 is not UTF-8", 1, 8},
		{"empty", "", "empty scenario file", 1, 1},
		{"comments only", "# nothing\n", "empty scenario file", 1, 1},
		{"a document marker only", "---", "empty scenario file", 1, 1}, // found by FuzzParse
		{"an empty value at the end", "name:", `name "": use 1-48 letters`, 1, 6},
		{"unclosed flow mapping", "name: a\nload: {rate: 100\nx: [\n", "YAML syntax: did not find expected ',' or '}'", 2, 8},
		{"bad indentation", "name: a\nservices:\n  - name: b\n   port: 3\n", "YAML syntax: did not find expected '-' indicator", 4, 4},
		{"mapping in a value", "name: a\nkey: a: b\n", "YAML syntax: mapping values are not allowed in this context", 2, 7},
		{"reserved character", "name: a\nkey: @x\n", "YAML syntax: found character that cannot start any token", 2, 6},
		{"unterminated quote", "name: a\nkey: \"abc\n", "YAML syntax: found unexpected end of stream", 2, 6},
		{"text after a quote", "name: a\nkey: 'x' y\n", "YAML syntax: did not find expected key", 2, 10},
		{"tab", "name: a\nkey:\n\t- x\n", "YAML syntax: found character that cannot start any token", 3, 1},
		{"unknown escape", "a: 1\nb: \"\\q\"\n", "YAML syntax: found unknown escape character", 2, 5},
		{"CR line breaks", "name: a\rkey: a: b\r", "YAML syntax: mapping values are not allowed in this context", 2, 7},
		{"CR LF line breaks", "name: a\r\nkey: a: b\r\n", "YAML syntax: mapping values are not allowed in this context", 2, 7},
		{"bad UTF-8 after CR", "name: a\rb: \xff\r", "byte 0xff is not UTF-8", 2, 4},
		{"column in characters", "name: é\nkey: é: b\n", "YAML syntax: mapping values are not allowed in this context", 2, 7},
		{"error in the second document", valid + "---\nkey: a: b\n", "YAML syntax: mapping values are not allowed in this context", 22, 7},
		{"too large", "name: demo\n" + strings.Repeat("# padding\n", MaxScenarioSize/10), "larger than 1 MiB", 104858, 6}, // byte 1 MiB + 1: 11 + 104856 lines of 10 + 5
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tc.src))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			es, ok := err.(Errors)
			if !ok || len(es) != 1 {
				t.Fatalf("error %v (%T), want one Error", err, err)
			}
			e := es[0]
			if !strings.Contains(e.Msg, tc.want) || e.Pos != (Pos{"f.yaml", tc.line, tc.col}) {
				t.Errorf("error %v, want %q at f.yaml:%d:%d", e, tc.want, tc.line, tc.col)
			}
		})
	}
}

// TestLoadFileTooLarge: a 50 MB scenario file fails at once, read no
// further than the limit.
func TestLoadFileTooLarge(t *testing.T) {
	p := filepath.Join(t.TempDir(), "huge.yaml")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(50 << 20); err != nil { // sparse: no 50 MB written
		t.Fatal(err)
	}
	f.Close()
	_, err = LoadFile(p)
	if err == nil || !strings.Contains(err.Error(), p+":1:1048577: the scenario file is larger than 1 MiB") {
		t.Errorf("error %v", err)
	}
}

func TestValidateDurationLimits(t *testing.T) {
	src := strings.Replace(valid, "bake: 2s}", "bake: 24h}", 1)
	src = strings.Replace(src, "bake: 1s}", "bake: 0s}", 1)
	if _, err := Parse("demo.yaml", []byte(src)); err == nil || !strings.Contains(err.Error(), "rollout.steps[1].bake is required") {
		t.Fatalf("error %v", err)
	}
	src = strings.Replace(valid, "bake: 2s}", "bake: 24h}", 1)
	if _, err := Parse("demo.yaml", []byte(src)); err == nil || !strings.Contains(err.Error(), "more than 24h0m0s") {
		t.Fatalf("24h + 1s: error %v", err)
	}
	src = strings.Replace(valid, "bake: 2s}", "bake: 23h59m59s}", 1)
	sc, err := Parse("demo.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Duration() != MaxRollout {
		t.Errorf("duration %v", sc.Duration())
	}
}

// TestParseLimits: lists, tasks and the number of problems reported are
// bounded, each limit stated at its place.
func TestParseLimits(t *testing.T) {
	hook := "        - {stages: [PRE_PRODUCTION_TRAFFIC_SHIFT], maxErrorRate: 0.01}\n"
	hooks := strings.Replace(deployments, hook[:len(hook)-len("maxErrorRate: 0.01}\n")]+"maxErrorRate: 0.01, maxP99: 200ms}\n", strings.Repeat(hook, 11), 1)
	if hooks == deployments {
		t.Fatal("hooks edit not applied")
	}
	var versions strings.Builder
	for i := range 21 {
		fmt.Fprintf(&versions, "      - {name: v%d, count: 50}\n", i+3)
	}
	many := strings.Replace(valid, "      - {name: v2, count: 1, latency: 5ms}\n", "      - {name: v2, count: 1, latency: 5ms}\n"+versions.String(), 1)
	tests := []struct {
		name, src, want string
		line, col       int
	}{
		{"hooks", hooks, "deployments[].hooks: at most 10, not 11 (meshsim's limit)", 31, 11},
		{"tasks", many, "the scenario asks for 1055 tasks (with the ingress): meshsim's ECS runs at most 1000", 2, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tc.src))
			es, _ := err.(Errors)
			for _, e := range es {
				if strings.Contains(e.Msg, tc.want) && e.Pos == (Pos{"f.yaml", tc.line, tc.col}) {
					return
				}
			}
			t.Errorf("error %v, want %q at %d:%d", err, tc.want, tc.line, tc.col)
		})
	}

	src := "name: a\n" + strings.Repeat("x: 1\n", 2000)
	_, err := Parse("f.yaml", []byte(src))
	es, _ := err.(Errors)
	if len(es) != maxShownErrors+1 {
		t.Fatalf("%d errors, want %d", len(es), maxShownErrors+1)
	}
	if last := es[maxShownErrors]; last.Msg != "and 1950 more problems from here on" || last.Pos.Line != 52 {
		t.Errorf("last error %v", last)
	}
}
