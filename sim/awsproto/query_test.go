package awsproto_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/schemas"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	smithy "github.com/aws/smithy-go"
	"github.com/aws/smithy-go/traits"

	"github.com/meshsim/meshsim/sim/awsproto"
)

const elbNS = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"

// queryServer answers one Query operation with a real handler: it records
// what DecodeQuery made of the request and answers with answer.
type queryServer struct {
	t       *testing.T
	input   *smithy.Schema
	output  *smithy.Schema
	answer  any
	err     error
	decoded map[string]any
	service string
	unknown []string
}

func (s *queryServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.service = awsproto.Service(r)
	q, err := awsproto.ReadQuery(r)
	if err != nil {
		awsproto.WriteQueryError(w, elbNS, err)
		return
	}
	s.decoded = map[string]any{}
	if s.unknown, err = awsproto.DecodeQuery(q.Params, s.input, &s.decoded); err != nil {
		awsproto.WriteQueryError(w, elbNS, err)
		return
	}
	if s.err != nil {
		awsproto.WriteQueryError(w, elbNS, s.err)
		return
	}
	awsproto.WriteQuery(w, q.Action, elbNS, s.output, s.answer)
}

func newELB(t *testing.T, h http.Handler) *elb.Client {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return elb.NewFromConfig(aws.Config{
		Region:           "eu-west-1",
		Credentials:      credentials.NewStaticCredentialsProvider("meshsim", "meshsim", ""),
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 1,
	})
}

func TestQueryDecodesSDKRequests(t *testing.T) {
	s := &queryServer{t: t, input: schemas.CreateRuleInput, output: schemas.CreateRuleOutput, answer: map[string]any{}}
	c := newELB(t, s)
	_, err := c.CreateRule(context.Background(), &elb.CreateRuleInput{
		ListenerArn: aws.String("arn:l"),
		Priority:    aws.Int32(10),
		Conditions: []elbtypes.RuleCondition{
			{Field: aws.String("path-pattern"), PathPatternConfig: &elbtypes.PathPatternConditionConfig{Values: []string{"/api/*", "/v2/*"}}},
			{Field: aws.String("http-header"), HttpHeaderConfig: &elbtypes.HttpHeaderConditionConfig{HttpHeaderName: aws.String("x-test"), Values: []string{"1"}}},
		},
		Actions: []elbtypes.Action{{
			Type: elbtypes.ActionTypeEnumForward,
			ForwardConfig: &elbtypes.ForwardActionConfig{
				TargetGroups: []elbtypes.TargetGroupTuple{
					{TargetGroupArn: aws.String("arn:blue"), Weight: aws.Int32(90)},
					{TargetGroupArn: aws.String("arn:green"), Weight: aws.Int32(10)},
				},
				TargetGroupStickinessConfig: &elbtypes.TargetGroupStickinessConfig{Enabled: aws.Bool(false)},
			},
		}},
	})
	if err != nil {
		t.Fatalf("CreateRule: %v", err)
	}
	want := `{"Actions":[{"ForwardConfig":{"TargetGroupStickinessConfig":{"Enabled":false},"TargetGroups":[{"TargetGroupArn":"arn:blue","Weight":90},{"TargetGroupArn":"arn:green","Weight":10}]},"Type":"forward"}],` +
		`"Conditions":[{"Field":"path-pattern","PathPatternConfig":{"Values":["/api/*","/v2/*"]}},{"Field":"http-header","HttpHeaderConfig":{"HttpHeaderName":"x-test","Values":["1"]}}],` +
		`"ListenerArn":"arn:l","Priority":10}`
	if got, _ := json.Marshal(s.decoded); string(got) != want {
		t.Errorf("decoded CreateRule\n got %s\nwant %s", got, want)
	}
	if s.service != "elasticloadbalancing" || len(s.unknown) != 0 {
		t.Errorf("service %q, unknown parameters %v", s.service, s.unknown)
	}
}

func TestQueryEncodesSDKResponses(t *testing.T) {
	created := time.Date(2026, 12, 3, 7, 0, 0, 500e6, time.UTC)
	s := &queryServer{t: t, input: schemas.DescribeLoadBalancersInput, output: schemas.DescribeLoadBalancersOutput, answer: map[string]any{
		"NextMarker": "m<&>",
		"LoadBalancers": []map[string]any{{
			"LoadBalancerArn":   "arn:lb",
			"LoadBalancerName":  "web",
			"Type":              "application",
			"CreatedTime":       float64(created.UnixMilli()) / 1000,
			"State":             map[string]any{"Code": "active"},
			"AvailabilityZones": []map[string]any{{"ZoneName": "eu-west-1a"}},
			"SecurityGroups":    []string{},
		}},
	}}
	out, err := newELB(t, s).DescribeLoadBalancers(context.Background(), &elb.DescribeLoadBalancersInput{Names: []string{"web"}})
	if err != nil {
		t.Fatalf("DescribeLoadBalancers: %v", err)
	}
	if len(out.LoadBalancers) != 1 {
		t.Fatalf("load balancers: %+v", out.LoadBalancers)
	}
	lb := out.LoadBalancers[0]
	if aws.ToString(out.NextMarker) != "m<&>" || aws.ToString(lb.LoadBalancerArn) != "arn:lb" || lb.Type != elbtypes.LoadBalancerTypeEnumApplication ||
		lb.State == nil || lb.State.Code != elbtypes.LoadBalancerStateEnumActive || !aws.ToTime(lb.CreatedTime).Equal(created) ||
		len(lb.AvailabilityZones) != 1 || aws.ToString(lb.AvailabilityZones[0].ZoneName) != "eu-west-1a" {
		t.Errorf("decoded by the SDK: %+v %+v", out, lb)
	}
	if got := s.decoded["Names"]; !reflect.DeepEqual(got, []any{"web"}) {
		t.Errorf("Names decoded as %v", got)
	}
}

func TestQueryErrorsReachTheSDK(t *testing.T) {
	s := &queryServer{t: t, input: schemas.DescribeTargetGroupsInput, output: schemas.DescribeTargetGroupsOutput,
		err: awsproto.Errorf(http.StatusBadRequest, "TargetGroupNotFound", "One or more target groups not found")}
	_, err := newELB(t, s).DescribeTargetGroups(context.Background(), &elb.DescribeTargetGroupsInput{Names: []string{"nope"}})
	var nf *elbtypes.TargetGroupNotFoundException
	if !errors.As(err, &nf) || nf.ErrorMessage() != "One or more target groups not found" {
		t.Fatalf("error %T %v, want TargetGroupNotFoundException", err, err)
	}
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "TargetGroupNotFound" || api.ErrorFault() != smithy.FaultClient {
		t.Errorf("API error %v", err)
	}
	s.err = errors.New("boom") // the fake's own failure: a 500 InternalFailure
	_, err = newELB(t, s).DescribeTargetGroups(context.Background(), &elb.DescribeTargetGroupsInput{})
	var status interface{ HTTPStatusCode() int }
	if !errors.As(err, &api) || api.ErrorCode() != awsproto.QueryInternalFailure || !errors.As(err, &status) || status.HTTPStatusCode() != 500 {
		t.Errorf("internal error %v", err)
	}
}

func TestDecodeQuery(t *testing.T) {
	str := smithy.NewSchema(smithy.ShapeID{Namespace: "t", Name: "S"}, smithy.ShapeTypeString, 0)
	i32 := smithy.NewSchema(smithy.ShapeID{Namespace: "t", Name: "I"}, smithy.ShapeTypeInteger, 0)
	flag := smithy.NewSchema(smithy.ShapeID{Namespace: "t", Name: "B"}, smithy.ShapeTypeBoolean, 0)
	list := smithy.NewSchema(smithy.ShapeID{Namespace: "t", Name: "L"}, smithy.ShapeTypeList, 0)
	list.AddMember("member", str)
	flat := smithy.NewSchema(smithy.ShapeID{Namespace: "t", Name: "F"}, smithy.ShapeTypeList, 0, &traits.XMLFlattened{})
	flat.AddMember("member", i32)
	dict := smithy.NewSchema(smithy.ShapeID{Namespace: "t", Name: "M"}, smithy.ShapeTypeMap, 0)
	dict.AddMember("key", str)
	dict.AddMember("value", i32)
	in := smithy.NewSchema(smithy.ShapeID{Namespace: "t", Name: "In"}, smithy.ShapeTypeStructure, 0)
	in.AddMember("Name", str)
	in.AddMember("Count", i32)
	in.AddMember("On", flag)
	in.AddMember("Names", list)
	in.AddMember("Ports", flat)
	in.AddMember("Limits", dict)
	in.AddMember("Renamed", str, &traits.XMLName{Name: "Other"})

	tests := []struct {
		name, form, want, err string
		unknown               []string
	}{
		{name: "scalars", form: "Action=A&Name=x&Count=-3&On=true&Other=y", want: `{"Count":-3,"Name":"x","On":true,"Renamed":"y"}`},
		{name: "list", form: "Names.member.1=a&Names.member.2=b", want: `{"Names":["a","b"]}`},
		{name: "empty list", form: "Names=", want: `{"Names":[]}`},
		{name: "list stops at a gap", form: "Names.member.1=a&Names.member.3=c", want: `{"Names":["a"]}`, unknown: []string{"Names.member.3"}},
		{name: "flattened list", form: "Ports.1=80&Ports.2=443", want: `{"Ports":[80,443]}`},
		{name: "map", form: "Limits.entry.1.key=a&Limits.entry.1.value=1&Limits.entry.2.key=b&Limits.entry.2.value=2", want: `{"Limits":{"a":1,"b":2}}`},
		{name: "unknown parameter", form: "Name=x&Colour=red", want: `{"Name":"x"}`, unknown: []string{"Colour"}},
		{name: "not an integer", form: "Count=ten", err: `ValidationError: invalid value "ten" for parameter Count: expected a 32-bit integer`},
		{name: "too large", form: "Count=4294967296", err: "expected a 32-bit integer"},
		{name: "not a boolean", form: "On=yes", err: `invalid value "yes" for parameter On: expected true or false`},
		{name: "list element of the wrong type", form: "Ports.1=80&Ports.2=x", err: `parameter Ports.2`},
		{name: "list given as a value", form: "Names=a", err: "parameter Names is a list: give its elements as Names.member.1"},
		{name: "map without key", form: "Limits.entry.1.value=1", err: "parameter Limits.entry.1.key is missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			params, err := url.ParseQuery(tc.form)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			unknown, err := awsproto.DecodeQuery(params, in, &got)
			if tc.err != "" {
				var e *awsproto.Error
				if !errors.As(err, &e) || e.Code != awsproto.QueryValidationError || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want a ValidationError containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(got)
			if string(b) != tc.want || !reflect.DeepEqual(unknown, tc.unknown) {
				t.Errorf("got %s unknown %v, want %s unknown %v", b, unknown, tc.want, tc.unknown)
			}
		})
	}
}

func TestReadQuery(t *testing.T) {
	tests := []struct {
		name, method, target, body, action, code string
	}{
		{name: "post form", method: "POST", target: "/", body: "Action=DescribeRules&Version=2015-12-01", action: "DescribeRules"},
		{name: "get", method: "GET", target: "/?Action=DescribeListeners&Version=2015-12-01", action: "DescribeListeners"},
		{name: "no action", method: "POST", target: "/", body: "Version=2015-12-01", code: awsproto.QueryMissingAction},
		{name: "not a form", method: "POST", target: "/", body: "Action=%zz", code: awsproto.QueryValidationError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			q, err := awsproto.ReadQuery(r)
			if tc.code != "" {
				var e *awsproto.Error
				if !errors.As(err, &e) || e.Code != tc.code {
					t.Fatalf("error %v, want %s", err, tc.code)
				}
				w := httptest.NewRecorder()
				awsproto.WriteQueryError(w, elbNS, err)
				if w.Code != 400 || !strings.Contains(w.Body.String(), "<Type>Sender</Type><Code>"+tc.code+"</Code>") || !strings.Contains(w.Body.String(), "<RequestId>") {
					t.Errorf("error response %d %s", w.Code, w.Body)
				}
				return
			}
			if err != nil || q.Action != tc.action || q.Version != "2015-12-01" {
				t.Fatalf("ReadQuery = %+v, %v", q, err)
			}
		})
	}
}

func TestService(t *testing.T) {
	tests := []struct{ auth, want string }{
		{"AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/elasticloadbalancing/aws4_request, SignedHeaders=host, Signature=x", "elasticloadbalancing"},
		{"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/monitoring/aws4_request", "monitoring"},
		{"", ""},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("Authorization", tc.auth)
		if got := awsproto.Service(r); got != tc.want {
			t.Errorf("Service(%q) = %q, want %q", tc.auth, got, tc.want)
		}
	}
}
