package sim_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	smithy "github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/meshsim/meshsim/sim"
	"github.com/meshsim/meshsim/sim/awsclient"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite README.md's table of operations per service")

// apiCoverage is one AWS API the fakes serve, for TestOperationCoverage.
type apiCoverage struct {
	// name is the service's name in README.md's table.
	name string
	// client returns the real aws-sdk-go-v2 client for the endpoint: its
	// methods are the SDK's own operation set.
	client func(c awsclient.Clients) any
	// leftOut are the operations the fake deliberately does not implement,
	// each with the reason (docs/fakes.md says more). Every other operation
	// must be served.
	leftOut map[string]string
	// moto and localStack are how many operations those fakes implement,
	// as measured for issue 13 (see docs/fakes.md).
	moto, localStack string
}

var coveredAPIs = []apiCoverage{
	{
		name:       "ECS",
		client:     func(c awsclient.Clients) any { return c.ECS },
		moto:       "31",
		localStack: "57",
		leftOut:    ecsLeftOut,
	},
	{
		name:       "Cloud Map",
		client:     func(c awsclient.Clients) any { return c.CloudMap },
		moto:       "27",
		localStack: "23 (Pro only)",
		leftOut:    nil,
	},
	{
		name:       "App Mesh",
		client:     func(c awsclient.Clients) any { return c.AppMesh },
		moto:       "32",
		localStack: "—",
		leftOut:    nil,
	},
	{
		name:       "CloudWatch",
		client:     func(c awsclient.Clients) any { return c.CloudWatch },
		moto:       "not measured",
		localStack: "not measured",
		leftOut:    cloudWatchLeftOut,
	},
	{
		name:       "Route 53",
		client:     func(c awsclient.Clients) any { return c.Route53 },
		moto:       "not measured",
		localStack: "not measured",
		leftOut:    route53LeftOut,
	},
}

// route53LeftOut are the Route 53 operations the fake leaves out: a
// rehearsal moves traffic with weighted, failover and alias records and
// health checks (issue 16), not with traffic policies, DNSSEC, query
// logging or private-zone VPC plumbing.
var route53LeftOut = merge(
	reason("traffic policies: meshsim's records are changed one batch at a time, as a pipeline does",
		"CreateTrafficPolicy", "CreateTrafficPolicyInstance", "CreateTrafficPolicyVersion", "DeleteTrafficPolicy",
		"DeleteTrafficPolicyInstance", "GetTrafficPolicy", "GetTrafficPolicyInstance", "GetTrafficPolicyInstanceCount",
		"ListTrafficPolicies", "ListTrafficPolicyInstances", "ListTrafficPolicyInstancesByHostedZone",
		"ListTrafficPolicyInstancesByPolicy", "ListTrafficPolicyVersions", "UpdateTrafficPolicyComment", "UpdateTrafficPolicyInstance"),
	reason("DNSSEC signing: the loopback name server answers unsigned",
		"ActivateKeySigningKey", "CreateKeySigningKey", "DeactivateKeySigningKey", "DeleteKeySigningKey",
		"DisableHostedZoneDNSSEC", "EnableHostedZoneDNSSEC", "GetDNSSEC"),
	reason("query logging: it delivers to CloudWatch Logs, which meshsim has not",
		"CreateQueryLoggingConfig", "DeleteQueryLoggingConfig", "GetQueryLoggingConfig", "ListQueryLoggingConfigs"),
	reason("private zones' VPC associations: the name server answers every zone on loopback",
		"AssociateVPCWithHostedZone", "CreateVPCAssociationAuthorization", "DeleteVPCAssociationAuthorization",
		"DisassociateVPCFromHostedZone", "ListHostedZonesByVPC", "ListVPCAssociationAuthorizations"),
	reason("CIDR and geolocation routing: meshsim's clients all query from one place",
		"ChangeCidrCollection", "CreateCidrCollection", "DeleteCidrCollection", "ListCidrBlocks", "ListCidrCollections",
		"ListCidrLocations", "GetGeoLocation", "ListGeoLocations"),
	reason("reusable delegation sets, account and zone limits, checker IP ranges: AWS account plumbing",
		"CreateReusableDelegationSet", "DeleteReusableDelegationSet", "GetReusableDelegationSet", "GetReusableDelegationSetLimit",
		"ListReusableDelegationSets", "GetAccountLimit", "GetHostedZoneLimit", "GetCheckerIpRanges"),
	reason("tags, record set protections and hosted zone features (2025 additions no rehearsal uses)",
		"ChangeTagsForResource", "ListTagsForResource", "ListTagsForResources", "CreateResourceRecordSetProtections",
		"DeleteResourceRecordSetProtections", "ListResourceRecordSetProtections", "UpdateHostedZoneFeatures"),
	reason("updating a health check in place: a rehearsal creates its health checks with their configuration (delete and create one to change it)",
		"UpdateHealthCheck"),
)

// cloudWatchLeftOut are the CloudWatch operations the fake leaves out: a
// rehearsal watches metric alarms on its own metrics (issue 18), not
// dashboards, anomaly bands, composite or log alarms, Contributor Insights,
// metric streams or OpenTelemetry enrichment.
var cloudWatchLeftOut = merge(
	reason("composite, log and contributor alarms, mute rules: meshsim's alarms watch one metric",
		"PutCompositeAlarm", "PutLogAlarm", "DescribeAlarmContributors", "PutAlarmMuteRule", "GetAlarmMuteRule",
		"DeleteAlarmMuteRule", "ListAlarmMuteRules"),
	reason("anomaly detection: no model to fit in a rehearsal", "PutAnomalyDetector", "DeleteAnomalyDetector", "DescribeAnomalyDetectors"),
	reason("dashboards and widget images: nothing to look at locally; meshsim's report charts the run",
		"PutDashboard", "GetDashboard", "DeleteDashboards", "ListDashboards", "GetMetricWidgetImage"),
	reason("Contributor Insights rules: they read CloudWatch Logs, which meshsim has not",
		"PutInsightRule", "DeleteInsightRules", "DescribeInsightRules", "EnableInsightRules", "DisableInsightRules",
		"GetInsightRuleReport", "PutManagedInsightRules", "ListManagedInsightRules"),
	reason("metric streams: they deliver to Kinesis Firehose, which meshsim has not",
		"PutMetricStream", "GetMetricStream", "DeleteMetricStream", "ListMetricStreams", "StartMetricStreams", "StopMetricStreams"),
	reason("saved metric queries, datasets, resource metrics configuration and OpenTelemetry enrichment (2025–2026 additions no rehearsal uses)",
		"PutMetricDataQueryDefinition", "GetMetricDataQueryDefinition", "DeleteMetricDataQueryDefinition", "ListMetricDataQueryDefinitions",
		"AssociateDatasetKmsKey", "DisassociateDatasetKmsKey", "GetDataset", "CreateResourceMetricsConfiguration",
		"GetResourceMetricsConfiguration", "UpdateResourceMetricsConfiguration", "DeleteResourceMetricsConfiguration",
		"GetOTelEnrichment", "StartOTelEnrichment", "StopOTelEnrichment", "UpdateOTelEnrichment"),
)

// ecsLeftOut are the ECS operations the fake leaves out: the APIs for ECS
// Managed Instances daemons, Express Mode services and gateways, which
// meshsim's rehearsals do not use.
var ecsLeftOut = merge(
	reason("ECS Managed Instances daemons: not rehearsed by meshsim",
		"CreateDaemon", "DeleteDaemon", "DeleteDaemonTaskDefinition", "DescribeDaemon", "DescribeDaemonDeployments",
		"DescribeDaemonRevisions", "DescribeDaemonTaskDefinition", "ListDaemonDeployments", "ListDaemonTaskDefinitions",
		"ListDaemons", "RegisterDaemonTaskDefinition", "UpdateDaemon"),
	reason("ECS Express Mode services: not rehearsed by meshsim",
		"CreateExpressGatewayService", "DeleteExpressGatewayService", "DescribeExpressGatewayService", "UpdateExpressGatewayService"),
	reason("ECS gateways: not rehearsed by meshsim",
		"AssociateGatewayWithCluster", "CreateGateway", "DeleteGateway", "DescribeGateway", "DescribeGatewayResources",
		"DescribeGatewayRoute", "DisassociateGatewayFromCluster", "ListGatewayClusterAssociations", "ListGatewayRoutes",
		"ListGateways", "UpdateGateway"),
)

// reason gives each of ops the reason why it is left out.
func reason(why string, ops ...string) map[string]string {
	m := make(map[string]string, len(ops))
	for _, op := range ops {
		m[op] = why
	}
	return m
}

// merge merges lists of operations left out.
func merge(lists ...map[string]string) map[string]string {
	m := map[string]string{}
	for _, l := range lists {
		maps.Copy(m, l)
	}
	return m
}

// TestOperationCoverage sends one minimal request per operation of each
// API, as the SDK's client defines them, through the real client (its
// input validation off, so that the fake sees even requests that lack
// required members) and fails when one answers UnknownOperationException or
// a 5xx, except the operations left out on purpose; and checks README.md's
// table of operations per service (-update-readme rewrites it).
func TestOperationCoverage(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := sim.Start(ctx, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	clients := awsclient.New(w.Endpoint, "us-east-1")
	var rows []string
	for _, api := range coveredAPIs {
		ops := operations(api.client(clients))
		implemented := 0
		for _, op := range ops {
			served, err := callMinimal(ctx, api.client(clients), op)
			_, left := api.leftOut[op]
			switch {
			case served && left:
				t.Errorf("%s %s is served but listed as left out (%s): take it off the list", api.name, op, api.leftOut[op])
			case !served && !left:
				t.Errorf("%s %s: %v", api.name, op, err)
			}
			if served {
				implemented++
			}
		}
		for op := range api.leftOut {
			if !slices.Contains(ops, op) {
				t.Errorf("%s: %s is listed as left out but is not an operation of the SDK's client", api.name, op)
			}
		}
		rows = append(rows, fmt.Sprintf("| %s | %d / %d | %s | %s |", api.name, implemented, len(ops), api.moto, api.localStack))
	}
	checkReadmeTable(t, rows)
}

// operations returns the names of the operations of an aws-sdk-go-v2
// client: its methods that take a context and an *<Name>Input.
func operations(client any) []string {
	typ := reflect.TypeOf(client)
	var ops []string
	for i := range typ.NumMethod() {
		m := typ.Method(i)
		if m.Type.NumIn() == 4 && m.Type.In(2).Kind() == reflect.Pointer && m.Type.In(2).Elem().Name() == m.Name+"Input" {
			ops = append(ops, m.Name)
		}
	}
	return ops
}

// callMinimal calls operation op of client with a minimal input (its
// string members set, nothing else) and without the client's input
// validation. It reports whether the fake served it:
// anything but UnknownOperationException or a 5xx.
func callMinimal(ctx context.Context, client any, op string) (bool, error) {
	m := reflect.ValueOf(client).MethodByName(op)
	in := reflect.New(m.Type().In(1).Elem())
	// Every top-level string member gets a value, so that REST paths
	// (/meshes/{meshName}) can be formed; the rest stays empty.
	for i := range in.Elem().NumField() {
		if f := in.Elem().Field(i); f.Type() == reflect.TypeFor[*string]() {
			f.Set(reflect.ValueOf(new("coverage")))
		}
	}
	optFn := m.Type().In(2).Elem() // func(*<service>.Options)
	noValidation := reflect.MakeFunc(optFn, func(args []reflect.Value) []reflect.Value {
		o := args[0].Elem()
		o.FieldByName("RetryMaxAttempts").SetInt(1)
		api := o.FieldByName("APIOptions")
		api.Set(reflect.Append(api, reflect.ValueOf(removeValidation)))
		return nil
	})
	out := m.Call([]reflect.Value{reflect.ValueOf(ctx), in, noValidation})
	err, _ := out[1].Interface().(error)
	if err == nil {
		return true, nil
	}
	var apiErr smithy.APIError
	var httpErr *smithyhttp.ResponseError
	switch {
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "UnknownOperationException":
		return false, err
	case errors.As(err, &httpErr) && httpErr.HTTPStatusCode() >= 500:
		return false, err
	case errors.As(err, &apiErr):
		return true, nil // the fake answered with one of the API's errors
	}
	return false, err // no answer at all
}

// removeValidation takes the client-side check of required members out of
// the middleware stack.
func removeValidation(stack *middleware.Stack) error {
	_, err := stack.Initialize.Remove("OperationInputValidation")
	if err != nil && !strings.Contains(err.Error(), "not found") {
		return err
	}
	return nil
}

const (
	tableStart = "<!-- operations table: generated by TestOperationCoverage (go test ./sim -run TestOperationCoverage -update-readme) -->"
	tableEnd   = "<!-- end of operations table -->"
)

// checkReadmeTable checks (or, with -update-readme, writes) the table of
// operations per service in README.md.
func checkReadmeTable(t *testing.T, rows []string) {
	t.Helper()
	const path = "../README.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start, end := strings.Index(readme, tableStart), strings.Index(readme, tableEnd)
	if start < 0 || end < start {
		t.Fatalf("README.md has no operations table between %q and %q", tableStart, tableEnd)
	}
	table := tableStart + "\n\n| Service | meshsim (implemented / total) | moto | LocalStack |\n| --- | --- | --- | --- |\n" +
		strings.Join(rows, "\n") + "\n\n"
	if readme[start:end] == table {
		return
	}
	if !*updateReadme {
		t.Errorf("README.md's operations table is stale; run go test ./sim -run TestOperationCoverage -update-readme. Want:\n%s", table)
		return
	}
	if err := os.WriteFile(path, []byte(readme[:start]+table+readme[end:]), 0o644); err != nil {
		t.Fatal(err)
	}
}
