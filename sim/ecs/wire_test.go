package ecs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/schemas"
	smithy "github.com/aws/smithy-go"

	"github.com/meshsim/meshsim/sim/ecs"
	"github.com/meshsim/meshsim/sim/events"
)

// post sends a raw JSON 1.1 request for operation op to h, as a client
// that does not check types would, and returns the status and the error
// shape's code and message (empty on success).
func post(t *testing.T, h http.Handler, op string, body any) (status int, code, msg string) {
	t.Helper()
	b, ok := body.([]byte)
	if s, isString := body.(string); isString {
		b, ok = []byte(s), true
	}
	if !ok {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(b))
	r.Header.Set("X-Amz-Target", ecs.TargetPrefix+"."+op)
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=meshsim/20260101/eu-west-1/ecs/aws4_request")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if w.Code != http.StatusOK {
		_ = json.Unmarshal(w.Body.Bytes(), &e)
	}
	return w.Code, e.Type, e.Message
}

// wrongCase is a request with one member of the wrong type.
type wrongCase struct {
	path  []any // member names and list indexes
	value any   // a value of the wrong type
}

func (c wrongCase) String() string {
	var b strings.Builder
	for i, p := range c.path {
		switch p := p.(type) {
		case int:
			b.WriteString("[" + strconv.Itoa(p) + "]")
		case string:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(p)
		}
	}
	return b.String()
}

// wrongValue returns a JSON value that is not of shape type typ, or nil
// when every value is (a document).
func wrongValue(typ smithy.ShapeType) any {
	switch typ {
	case smithy.ShapeTypeDocument:
		return nil
	case smithy.ShapeTypeStructure, smithy.ShapeTypeUnion, smithy.ShapeTypeMap:
		return "x"
	case smithy.ShapeTypeBoolean:
		return "yes"
	case smithy.ShapeTypeList, smithy.ShapeTypeSet:
		return map[string]any{"a": 1}
	}
	return map[string]any{"a": 1} // scalars
}

// wrongCases lists, for every member of schema s down to depth levels,
// a case with the member of the wrong type; members of lists are
// reached through index 0, of maps through key "k".
func wrongCases(s *smithy.Schema, prefix []any, depth int) []wrongCase {
	var out []wrongCase
	names := make([]string, 0, len(s.Members()))
	for name := range s.Members() {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		ms := s.Members()[name]
		path := append(slices.Clone(prefix), name)
		if v := wrongValue(ms.Type()); v != nil {
			out = append(out, wrongCase{path, v})
		}
		if depth == 0 {
			continue
		}
		out = append(out, nested(ms, path, depth-1)...)
	}
	return out
}

// nested lists the cases inside a member of schema ms at path.
func nested(ms *smithy.Schema, path []any, depth int) []wrongCase {
	var elem *smithy.Schema
	var at any
	switch ms.Type() {
	case smithy.ShapeTypeStructure, smithy.ShapeTypeUnion:
		return wrongCases(ms, path, depth)
	case smithy.ShapeTypeList, smithy.ShapeTypeSet:
		elem, at = ms.ListMember(), 0
	case smithy.ShapeTypeMap:
		elem, at = ms.MapValue(), "k"
	default:
		return nil
	}
	p := append(slices.Clone(path), at)
	var out []wrongCase
	if v := wrongValue(elem.Type()); v != nil {
		out = append(out, wrongCase{p, v})
	}
	return append(out, nested(elem, p, depth)...)
}

// set sets the member at path of the decoded JSON request v to value,
// making the objects and lists on the way.
func set(v any, path []any, value any) any {
	if len(path) == 0 {
		return value
	}
	switch p := path[0].(type) {
	case string:
		m, _ := v.(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		m[p] = set(m[p], path[1:], value)
		return m
	default:
		l, _ := v.([]any)
		if len(l) == 0 {
			l = []any{nil}
		}
		l[0] = set(l[0], path[1:], value)
		return l
	}
}

// TestWrongTypesRejected sends RegisterTaskDefinition and CreateService
// requests with every member of the ECS model, down to five levels, of
// the wrong type: each is rejected with the member named, and nothing is
// stored.
func TestWrongTypesRejected(t *testing.T) {
	fake := ecs.New(ecs.Options{})
	defer fake.Close()
	client := memClient(fake)
	ctx := context.Background()
	if _, err := client.CreateCluster(ctx, &sdk.CreateClusterInput{ClusterName: aws.String(testCluster)}); err != nil {
		t.Fatal(err)
	}
	if status, code, msg := post(t, fake, "RegisterTaskDefinition", map[string]any{
		"family": "web", "containerDefinitions": []any{map[string]any{"name": "app", "image": "img"}},
	}); status != http.StatusOK {
		t.Fatalf("valid task definition: %d %s %s", status, code, msg)
	}
	ops := []struct {
		op     string
		schema *smithy.Schema
		base   string
		code   string
	}{
		{"RegisterTaskDefinition", schemas.RegisterTaskDefinitionRequest,
			`{"family":"bad","containerDefinitions":[{"name":"app","image":"img"}]}`, "ClientException"},
		{"CreateService", schemas.CreateServiceRequest,
			`{"cluster":"sim","serviceName":"bad","taskDefinition":"web","desiredCount":0}`, "InvalidParameterException"},
	}
	rejected, accepted := 0, 0
	for _, o := range ops {
		cases := wrongCases(o.schema, nil, 5)
		for _, c := range cases {
			var req any
			if err := json.Unmarshal([]byte(o.base), &req); err != nil {
				t.Fatal(err)
			}
			req = set(req, c.path, c.value)
			status, code, msg := post(t, fake, o.op, req)
			want := "parameter " + c.String() + ":"
			if status != http.StatusBadRequest || code != o.code || !strings.Contains(msg, want) {
				accepted++
				t.Errorf("%s with %s = %v: %d %s %q, want %s naming %s", o.op, c, c.value, status, code, msg, o.code, c)
				continue
			}
			rejected++
		}
	}
	t.Logf("%d wrong-typed members rejected, %d not", rejected, accepted)
	if rejected < 300 {
		t.Errorf("only %d cases: the model walk is broken", rejected)
	}

	// Nothing was stored: the SDK describes what exists and finds no more.
	if _, err := client.DescribeTaskDefinition(ctx, &sdk.DescribeTaskDefinitionInput{TaskDefinition: aws.String("bad")}); err == nil {
		t.Error("a task definition with a wrong-typed member was stored")
	}
	out, err := client.DescribeTaskDefinition(ctx, &sdk.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web")})
	if err != nil || out.TaskDefinition.Revision != 1 {
		t.Errorf("DescribeTaskDefinition web: %v; want revision 1 and no other", err)
	}
	list, err := client.ListServices(ctx, &sdk.ListServicesInput{Cluster: aws.String(testCluster)})
	if err != nil || len(list.ServiceArns) != 0 {
		t.Errorf("ListServices: %v %v; want no service", list.ServiceArns, err)
	}
}

var markers atomic.Int64

// newMarker returns a unique test marker.
func newMarker() string { return strconv.FormatInt(markers.Add(1), 10) }

// busEvents returns the events on bus so far.
func busEvents(t *testing.T, bus *events.Bus) []events.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	marker := newMarker()
	bus.Emit(events.Event{Source: "test", Type: "test.marker", Resource: marker})
	var out []events.Event
	for e := range bus.Subscribe(ctx, 0) {
		if e.Type == "test.marker" && e.Resource == marker {
			return out
		}
		out = append(out, e)
	}
	t.Fatal("the bus closed")
	return nil
}

// TestIgnoredMembersReported registers a task definition and creates a
// ROLLING and a BLUE_GREEN service from the kind of --cli-input-json
// documents the AWS documentation shows: ECS accepts them whole, echoes
// what it stored so that the SDK reads it back, and reports in a
// "request.ignored" event each member it does not act on.
func TestIgnoredMembersReported(t *testing.T) {
	bus := events.NewBus(0)
	fake := ecs.New(ecs.Options{Bus: bus})
	defer fake.Close()
	client := memClient(fake)
	ctx := context.Background()
	if _, err := client.CreateCluster(ctx, &sdk.CreateClusterInput{ClusterName: aws.String(testCluster)}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		op, file, resource string
		ignored            []string
	}{
		{"RegisterTaskDefinition", "taskdef-webserver.json", "webserver", []string{
			"containerDefinitions[0].linuxParameters", "containerDefinitions[0].logConfiguration",
			"containerDefinitions[0].portMappings[0].hostPort",
			"cpu", "executionRoleArn", "memory", "requiresCompatibilities", "runtimePlatform",
		}},
		{"CreateService", "service-rolling.json", "webserver-rolling", []string{
			"enableECSManagedTags", "launchType",
			"networkConfiguration.awsvpcConfiguration.assignPublicIp", "networkConfiguration.awsvpcConfiguration.securityGroups",
			"platformVersion", "propagateTags",
		}},
		{"CreateService", "service-blue-green.json", "webserver-blue-green", []string{
			"deploymentConfiguration.lifecycleHooks[0].roleArn", "launchType",
			"networkConfiguration.awsvpcConfiguration.assignPublicIp", "networkConfiguration.awsvpcConfiguration.securityGroups",
		}},
	}
	for _, tt := range tests {
		body, err := os.ReadFile(filepath.Join("testdata", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		if status, code, msg := post(t, fake, tt.op, body); status != http.StatusOK {
			t.Fatalf("%s %s: %d %s %s", tt.op, tt.file, status, code, msg)
		}
		var reports []events.Event
		for _, e := range busEvents(t, bus) {
			if e.Type == "request.ignored" && e.Resource == tt.resource {
				reports = append(reports, e)
			}
		}
		if len(reports) != 1 {
			t.Fatalf("%s: %d request.ignored events, want 1", tt.file, len(reports))
		}
		if got := strings.Split(reports[0].Detail["ignored"], ","); reports[0].Detail["operation"] != tt.op || !slices.Equal(got, tt.ignored) {
			t.Errorf("%s: %s ignored %q, want %q", tt.file, reports[0].Detail["operation"], got, tt.ignored)
		}
	}

	// What was stored reads back through the SDK, ignored members and all.
	td, err := client.DescribeTaskDefinition(ctx, &sdk.DescribeTaskDefinitionInput{TaskDefinition: aws.String("webserver")})
	if err != nil {
		t.Fatal(err)
	}
	c := td.TaskDefinition.ContainerDefinitions[0]
	if c.LinuxParameters == nil || !aws.ToBool(c.LinuxParameters.InitProcessEnabled) || c.LogConfiguration == nil ||
		c.LogConfiguration.Options["awslogs-group"] != "/ecs/webserver" || aws.ToString(td.TaskDefinition.Memory) != "512" {
		t.Errorf("DescribeTaskDefinition echoed %+v", c)
	}
	out, err := client.DescribeServices(ctx, &sdk.DescribeServicesInput{
		Cluster: aws.String(testCluster), Services: []string{"webserver-rolling", "webserver-blue-green"},
	})
	if err != nil || len(out.Services) != 2 {
		t.Fatalf("DescribeServices: %v %+v", err, out)
	}
	for _, s := range out.Services {
		if len(s.LoadBalancers) != 1 || aws.ToInt32(s.LoadBalancers[0].ContainerPort) != 80 {
			t.Errorf("%s: load balancers %+v", aws.ToString(s.ServiceName), s.LoadBalancers)
		}
	}
	if lb := out.Services[1].LoadBalancers[0]; lb.AdvancedConfiguration == nil || !strings.HasSuffix(aws.ToString(lb.AdvancedConfiguration.AlternateTargetGroupArn), "green/6543210987654321") {
		t.Errorf("blue/green load balancer %+v", lb)
	}
	if s := out.Services[1]; s.DeploymentConfiguration.Strategy != "BLUE_GREEN" || aws.ToInt32(s.DeploymentConfiguration.BakeTimeInMinutes) != 5 {
		t.Errorf("blue/green deployment configuration %+v", s.DeploymentConfiguration)
	}
}

// TestUnknownMembersDropped sends members the ECS API does not have: the
// request succeeds, they are neither stored nor echoed, and they are
// reported.
func TestUnknownMembersDropped(t *testing.T) {
	bus := events.NewBus(0)
	fake := ecs.New(ecs.Options{Bus: bus})
	defer fake.Close()
	client := memClient(fake)
	ctx := context.Background()
	if status, code, msg := post(t, fake, "CreateCluster", `{"clusterName":"extra","colour":"blue","settings":[{"name":"containerInsights","value":"enabled","shade":1}]}`); status != http.StatusOK {
		t.Fatalf("CreateCluster with unknown members: %d %s %s", status, code, msg)
	}
	var report events.Event
	for _, e := range busEvents(t, bus) {
		if e.Type == "request.ignored" && e.Resource == "extra" {
			report = e
		}
	}
	if report.Detail["unknown"] != "colour,settings[0].shade" || report.Detail["ignored"] != "settings" {
		t.Errorf("CreateCluster report %v", report.Detail)
	}
	clusters, err := client.DescribeClusters(ctx, &sdk.DescribeClustersInput{Clusters: []string{"extra"}})
	if err != nil || len(clusters.Clusters) != 1 || len(clusters.Clusters[0].Settings) != 1 {
		t.Fatalf("DescribeClusters extra: %v %+v", err, clusters)
	}
	if s := clusters.Clusters[0].Settings[0]; aws.ToString(s.Value) != "enabled" {
		t.Errorf("settings %+v", clusters.Clusters[0].Settings)
	}
}

func TestRequestLimits(t *testing.T) {
	fake := ecs.New(ecs.Options{})
	defer fake.Close()
	if status, code, msg := post(t, fake, "CreateCluster", `{"clusterName":"sim"}`); status != http.StatusOK {
		t.Fatalf("CreateCluster: %s %s", code, msg)
	}
	tags := func(n int, key, value string) []any {
		var out []any
		for i := range n {
			out = append(out, map[string]any{"key": key + strconv.Itoa(i), "value": value})
		}
		return out
	}
	container := func(name string) map[string]any { return map[string]any{"name": name, "image": "img"} }
	taskDef := func(members map[string]any) map[string]any {
		out := map[string]any{"family": "web", "containerDefinitions": []any{container("app")}}
		for k, v := range members {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name, op string
		body     any
		code     string
		msg      string
	}{
		{"50 tags", "CreateCluster", map[string]any{"clusterName": "a", "tags": tags(50, "k", "v")}, "", ""},
		{"51 tags", "CreateCluster", map[string]any{"clusterName": "a", "tags": tags(51, "k", "v")},
			"InvalidParameterException", "tags: a resource can have at most 50 tags, not 51."},
		{"1000 tags on a service", "CreateService", map[string]any{"cluster": "sim", "serviceName": "s", "taskDefinition": "web", "desiredCount": 0, "tags": tags(1000, "k", "v")},
			"InvalidParameterException", "tags: a resource can have at most 50 tags, not 1000."},
		{"long tag key", "RegisterTaskDefinition", taskDef(map[string]any{"tags": tags(1, strings.Repeat("k", 128), "v")}),
			"ClientException", "tags[0].key can have at most 128 characters."},
		{"long tag value", "CreateCluster", map[string]any{"clusterName": "a", "tags": tags(1, "k", strings.Repeat("v", 257))},
			"InvalidParameterException", "tags[0].value can have at most 256 characters."},
		{"reserved tag prefix", "CreateCluster", map[string]any{"clusterName": "a", "tags": []any{map[string]any{"key": "AWS:x", "value": "v"}}},
			"InvalidParameterException", "tags[0].key: the aws: prefix is reserved for AWS use."},
		{"11 containers", "RegisterTaskDefinition", taskDef(map[string]any{"containerDefinitions": []any{
			container("a"), container("b"), container("c"), container("d"), container("e"), container("f"),
			container("g"), container("h"), container("i"), container("j"), container("k")}}),
			"ClientException", "containerDefinitions: a task definition can have at most 10 containers, not 11."},
		{"container name with a slash", "RegisterTaskDefinition", taskDef(map[string]any{"containerDefinitions": []any{container("a/b")}}),
			"ClientException", "containerDefinitions[0].name: a container name can have up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens."},
		{"task definition over 64 KiB", "RegisterTaskDefinition", taskDef(map[string]any{"containerDefinitions": []any{
			map[string]any{"name": "app", "image": "img", "command": []any{strings.Repeat("x", 70000)}}}}),
			"ClientException", "The task definition is 70085 bytes; Amazon ECS takes at most 65536."},
		{"family too long", "RegisterTaskDefinition", taskDef(map[string]any{"family": strings.Repeat("f", 256)}),
			"ClientException", "Family can have up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens."},
		{"invalid UTF-8", "CreateCluster", []byte("{\"clusterName\":\"a\xff\"}"), "InvalidParameterException", "request body is not valid UTF-8 (invalid byte at offset 17)"},
		{"two JSON values", "CreateCluster", `{"clusterName":"a"} {}`, "InvalidParameterException", "request body is not valid JSON: invalid character '{' after top-level value"},
		{"integer out of range", "CreateService", `{"cluster":"sim","serviceName":"s","taskDefinition":"web","desiredCount":4294967296}`,
			"InvalidParameterException", "Invalid value for parameter desiredCount: 4294967296 is not a 32-bit integer."},
		{"fraction for an integer", "CreateService", `{"cluster":"sim","serviceName":"s","taskDefinition":"web","desiredCount":1.5}`,
			"InvalidParameterException", "Invalid value for parameter desiredCount: 1.5 is not a 32-bit integer."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, code, msg := post(t, fake, tt.op, tt.body)
			if tt.code == "" && status != http.StatusOK || code != tt.code || msg != tt.msg {
				t.Errorf("%d %s %q, want %s %q", status, code, msg, tt.code, tt.msg)
			}
		})
	}
}
