package scenarios

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	data, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(SchemaID)
	if err != nil {
		t.Fatalf("compiling the schema: %v", err)
	}
	return sch
}

// yamlAsJSON decodes YAML into the values a JSON Schema validator takes.
func yamlAsJSON(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestJSONSchemaAcceptsScenarios: every built-in and example scenario, all
// valid for the parser, is valid for the schema.
func TestJSONSchemaAcceptsScenarios(t *testing.T) {
	sch := compileSchema(t)
	checked := 0
	files, _ := filepath.Glob("builtin/*.yaml")
	examples, _ := filepath.Glob("../examples/*/*.yaml")
	for _, f := range append(files, examples...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := LoadFile(f); err != nil {
			continue // not a scenario (a traffic file), or one the parser refuses
		}
		checked++
		if err := sch.Validate(yamlAsJSON(t, data)); err != nil {
			t.Errorf("%s: the parser accepts it, the schema does not: %v", f, err)
		}
	}
	if checked < len(files) {
		t.Fatalf("checked %d scenarios, fewer than the %d built-in ones", checked, len(files))
	}
}

// TestJSONSchemaRefuses: mistakes an editor should flag.
func TestJSONSchemaRefuses(t *testing.T) {
	sch := compileSchema(t)
	base, err := os.ReadFile("builtin/bookingapp-canary.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, from, to string }{
		{"unknown top-level field", "name: bookingapp-canary", "name: bookingapp-canary\nnmae: x"},
		{"bad routing", "name: bookingapp-canary", "name: bookingapp-canary\nrouting: istio"},
		{"bad duration", "bake: 6s}", "bake: soon}"},
		{"rate out of range", "rate:", "rate: 50000\n  x:"},
		{"unknown assertion", "assertions:", "assertions:\n  - all-good"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(string(base), tc.from, tc.to, 1)
			if src == string(base) {
				t.Fatalf("%q not in the scenario", tc.from)
			}
			var v any
			if err := yaml.Unmarshal([]byte(src), &v); err != nil {
				return // not even YAML: an editor flags it too
			}
			if err := sch.Validate(yamlAsJSON(t, []byte(src))); err == nil {
				t.Errorf("the schema accepts:\n%s", src)
			}
		})
	}
}

var knownList = regexp.MustCompile(`\(known: ([^)]*)\)`)

// TestJSONSchemaFields: each object of the schema names exactly the fields
// the parser knows at that place (read from its "unknown field" error).
func TestJSONSchemaFields(t *testing.T) {
	var schema map[string]any
	data, _ := JSONSchema()
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		yaml string
		path []string // through the schema: property names, "[]" for items
	}{
		{"zzz: 1\n", nil},
		{"services:\n- zzz: 1\n", []string{"services", "[]"}},
		{"services:\n- versions:\n  - zzz: 1\n", []string{"services", "[]", "versions", "[]"}},
		{"ingress:\n  zzz: 1\n", []string{"ingress"}},
		{"load:\n  zzz: 1\n", []string{"load"}},
		{"load:\n  requests:\n  - zzz: 1\n", []string{"load", "requests", "[]"}},
		{"instrument:\n  zzz: 1\n", []string{"instrument"}},
		{"dns:\n  zzz: 1\n", []string{"dns"}},
		{"rollout:\n  zzz: 1\n", []string{"rollout"}},
		{"rollout:\n  steps:\n  - zzz: 1\n", []string{"rollout", "steps", "[]"}},
		{"rollout:\n  deployments:\n  - zzz: 1\n", []string{"rollout", "deployments", "[]"}},
		{"rollout:\n  deployments:\n  - circuitBreaker: {zzz: 1}\n", []string{"rollout", "deployments", "[]", "circuitBreaker"}},
		{"rollout:\n  deployments:\n  - canary: {zzz: 1}\n", []string{"rollout", "deployments", "[]", "canary"}},
		{"rollout:\n  deployments:\n  - linear: {zzz: 1}\n", []string{"rollout", "deployments", "[]", "linear"}},
		{"rollout:\n  deployments:\n  - hooks:\n    - zzz: 1\n", []string{"rollout", "deployments", "[]", "hooks", "[]"}},
		{"faults:\n- zzz: 1\n", []string{"faults", "[]"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.path, "."), func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml))
			m := knownList.FindStringSubmatch(errString(err))
			if m == nil {
				t.Fatalf("no known-fields list in the parser's error: %v", err)
			}
			parser := strings.Split(m[1], ", ")
			node := schema
			for _, p := range tc.path {
				if p == "[]" {
					node = node["items"].(map[string]any)
				} else {
					node = node["properties"].(map[string]any)[p].(map[string]any)
				}
			}
			var fields []string
			for k := range node["properties"].(map[string]any) {
				fields = append(fields, k)
			}
			sort.Strings(fields)
			if strings.Join(fields, ", ") != strings.Join(parser, ", ") {
				t.Errorf("schema fields %v\nparser fields %v", fields, parser)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestSuggest(t *testing.T) {
	tests := []struct{ in, want string }{
		{"bookingap-canary", "bookingapp-canary"},
		{"ecs-canry", "ecs-canary"},
		{"gated-canary-bda", "gated-canary-bad"},
		{"ecs-blue-gren", "ecs-blue-green"},
		{"alb-blue", "alb-blue-green"},
		{"zzzzzzzz", ""},
	}
	for _, tc := range tests {
		if got := Suggest(tc.in); got != tc.want {
			t.Errorf("Suggest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if _, err := Builtin("bookingap-canary"); err == nil || !strings.Contains(err.Error(), "did you mean bookingapp-canary?") {
		t.Errorf("Builtin of a typo: %v", err)
	}
}
