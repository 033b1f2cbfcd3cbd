package cloudmap

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sd "github.com/aws/aws-sdk-go-v2/service/servicediscovery"
	"github.com/aws/aws-sdk-go-v2/service/servicediscovery/types"
	"github.com/aws/smithy-go"

	"github.com/meshsim/meshsim/sim/awsclient"
	"github.com/meshsim/meshsim/sim/awsproto"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/endpoint"
	"github.com/meshsim/meshsim/sim/events"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

type harness struct {
	fake *Fake
	bus  *events.Bus
	url  string
	c    *sd.Client
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	bus := events.NewBus(0)
	opts.Bus = bus
	f := New(opts)
	ep := endpoint.New(bus)
	ep.HandleTarget(TargetPrefix, f)
	srv := httptest.NewServer(ep)
	t.Cleanup(func() {
		srv.Close()
		f.Close()
	})
	return &harness{fake: f, bus: bus, url: srv.URL, c: awsclient.New(srv.URL, "us-east-1").CloudMap}
}

// httpNamespace creates an HTTP namespace and returns its id.
func (h *harness) httpNamespace(t *testing.T, name string) string {
	t.Helper()
	ctx := context.Background()
	out, err := h.c.CreateHttpNamespace(ctx, &sd.CreateHttpNamespaceInput{Name: aws.String(name)})
	if err != nil {
		t.Fatalf("CreateHttpNamespace(%s): %v", name, err)
	}
	op, err := h.c.GetOperation(ctx, &sd.GetOperationInput{OperationId: out.OperationId})
	if err != nil {
		t.Fatalf("GetOperation: %v", err)
	}
	return op.Operation.Targets[string(types.OperationTargetTypeNamespace)]
}

// service creates a service in namespace nsID, with a custom health check
// when customHealth is set, and returns its id.
func (h *harness) service(t *testing.T, nsID, name string, customHealth bool) *types.Service {
	t.Helper()
	in := &sd.CreateServiceInput{Name: aws.String(name), NamespaceId: aws.String(nsID)}
	if customHealth {
		in.HealthCheckCustomConfig = &types.HealthCheckCustomConfig{}
	}
	out, err := h.c.CreateService(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateService(%s): %v", name, err)
	}
	return out.Service
}

func (h *harness) register(t *testing.T, serviceID, instanceID string, attrs map[string]string) string {
	t.Helper()
	out, err := h.c.RegisterInstance(context.Background(), &sd.RegisterInstanceInput{
		ServiceId: aws.String(serviceID), InstanceId: aws.String(instanceID), Attributes: attrs,
	})
	if err != nil {
		t.Fatalf("RegisterInstance(%s): %v", instanceID, err)
	}
	return aws.ToString(out.OperationId)
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error = %v, want API error %s", err, code)
	}
	if apiErr.ErrorCode() != code {
		t.Fatalf("error code = %s (%v), want %s", apiErr.ErrorCode(), err, code)
	}
}

func TestNamespaces(t *testing.T) {
	h := newHarness(t, Options{})
	checkCreateHTTPNamespace(t, h)
	checkCreatePrivateDNSNamespace(t, h)
	checkListNamespaces(t, h)
}

// checkCreateHTTPNamespace creates the HTTP namespace apps and checks its
// operation, what GetNamespace tells of it (by id and by ARN), and that a
// retry with the same CreatorRequestId returns the same operation.
func checkCreateHTTPNamespace(t *testing.T, h *harness) {
	t.Helper()
	ctx := context.Background()
	created, err := h.c.CreateHttpNamespace(ctx, &sd.CreateHttpNamespaceInput{
		Name: aws.String("apps"), Description: aws.String("sample apps"), CreatorRequestId: aws.String("req-1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	op, err := h.c.GetOperation(ctx, &sd.GetOperationInput{OperationId: created.OperationId})
	if err != nil {
		t.Fatal(err)
	}
	if op.Operation.Status != types.OperationStatusSuccess || op.Operation.Type != types.OperationTypeCreateNamespace {
		t.Fatalf("operation = %s %s, want SUCCESS CREATE_NAMESPACE", op.Operation.Status, op.Operation.Type)
	}
	nsID := op.Operation.Targets["NAMESPACE"]
	if !strings.HasPrefix(nsID, "ns-") || len(nsID) != 19 {
		t.Fatalf("namespace id %q, want ns- and 16 characters", nsID)
	}

	got, err := h.c.GetNamespace(ctx, &sd.GetNamespaceInput{Id: aws.String(nsID)})
	if err != nil {
		t.Fatal(err)
	}
	ns := got.Namespace
	wantARN := "arn:aws:servicediscovery:us-east-1:000000000000:namespace/" + nsID
	if aws.ToString(ns.Arn) != wantARN || aws.ToString(ns.Name) != "apps" || ns.Type != types.NamespaceTypeHttp ||
		aws.ToString(ns.Properties.HttpProperties.HttpName) != "apps" || aws.ToString(ns.CreatorRequestId) != "req-1" ||
		aws.ToString(ns.Description) != "sample apps" || ns.CreateDate == nil || time.Since(*ns.CreateDate) > time.Minute {
		t.Fatalf("GetNamespace = %+v", ns)
	}
	// GetNamespace also takes the ARN.
	if _, err := h.c.GetNamespace(ctx, &sd.GetNamespaceInput{Id: aws.String(wantARN)}); err != nil {
		t.Fatalf("GetNamespace(ARN): %v", err)
	}

	// A retry with the same CreatorRequestId returns the same operation.
	again, err := h.c.CreateHttpNamespace(ctx, &sd.CreateHttpNamespaceInput{Name: aws.String("apps"), CreatorRequestId: aws.String("req-1")})
	if err != nil {
		t.Fatalf("retried CreateHttpNamespace: %v", err)
	}
	if aws.ToString(again.OperationId) != aws.ToString(created.OperationId) {
		t.Fatalf("retry operation %s, want %s", aws.ToString(again.OperationId), aws.ToString(created.OperationId))
	}
}

// checkCreatePrivateDNSNamespace creates the private DNS namespace
// svc.local and checks its properties.
func checkCreatePrivateDNSNamespace(t *testing.T, h *harness) {
	t.Helper()
	ctx := context.Background()
	dns, err := h.c.CreatePrivateDnsNamespace(ctx, &sd.CreatePrivateDnsNamespaceInput{
		Name: aws.String("svc.local"), Vpc: aws.String("vpc-1"),
		Properties: &types.PrivateDnsNamespaceProperties{DnsProperties: &types.PrivateDnsPropertiesMutable{SOA: &types.SOA{TTL: aws.Int64(60)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	dnsOp, err := h.c.GetOperation(ctx, &sd.GetOperationInput{OperationId: dns.OperationId})
	if err != nil {
		t.Fatal(err)
	}
	dnsNS, err := h.c.GetNamespace(ctx, &sd.GetNamespaceInput{Id: aws.String(dnsOp.Operation.Targets["NAMESPACE"])})
	if err != nil {
		t.Fatal(err)
	}
	if dnsNS.Namespace.Type != types.NamespaceTypeDnsPrivate ||
		!strings.HasPrefix(aws.ToString(dnsNS.Namespace.Properties.DnsProperties.HostedZoneId), "Z") ||
		aws.ToInt64(dnsNS.Namespace.Properties.DnsProperties.SOA.TTL) != 60 {
		t.Fatalf("private DNS namespace = %+v", dnsNS.Namespace.Properties.DnsProperties)
	}
}

// checkListNamespaces checks that ListNamespaces lists apps and svc.local,
// filters by type, and paginates one at a time through both.
func checkListNamespaces(t *testing.T, h *harness) {
	t.Helper()
	ctx := context.Background()
	list, err := h.c.ListNamespaces(ctx, &sd.ListNamespacesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Namespaces) != 2 || aws.ToString(list.Namespaces[0].Name) != "apps" || aws.ToString(list.Namespaces[1].Name) != "svc.local" {
		t.Fatalf("ListNamespaces = %+v", list.Namespaces)
	}
	filtered, err := h.c.ListNamespaces(ctx, &sd.ListNamespacesInput{Filters: []types.NamespaceFilter{
		{Name: types.NamespaceFilterNameType, Values: []string{"DNS_PRIVATE"}, Condition: types.FilterConditionEq},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(filtered.Namespaces) != 1 || aws.ToString(filtered.Namespaces[0].Name) != "svc.local" {
		t.Fatalf("ListNamespaces(TYPE=DNS_PRIVATE) = %+v", filtered.Namespaces)
	}

	// Paginating one at a time visits both.
	var names []string
	pager := sd.NewListNamespacesPaginator(h.c, &sd.ListNamespacesInput{MaxResults: aws.Int32(1)})
	for pager.HasMorePages() {
		p, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range p.Namespaces {
			names = append(names, aws.ToString(n.Name))
		}
	}
	if !reflect.DeepEqual(names, []string{"apps", "svc.local"}) {
		t.Fatalf("paginated names = %v", names)
	}
}

func TestNamespaceErrors(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	nsID := h.httpNamespace(t, "apps")
	h.service(t, nsID, "movie", false)

	t.Run("duplicate name", func(t *testing.T) {
		_, err := h.c.CreateHttpNamespace(ctx, &sd.CreateHttpNamespaceInput{Name: aws.String("apps")})
		var exists *types.NamespaceAlreadyExists
		if !errors.As(err, &exists) {
			t.Fatalf("err = %v, want NamespaceAlreadyExists", err)
		}
		if aws.ToString(exists.NamespaceId) != nsID {
			t.Fatalf("NamespaceId = %q, want %q", aws.ToString(exists.NamespaceId), nsID)
		}
	})
	t.Run("missing namespace", func(t *testing.T) {
		_, err := h.c.GetNamespace(ctx, &sd.GetNamespaceInput{Id: aws.String("ns-doesnotexist0000")})
		var nf *types.NamespaceNotFound
		if !errors.As(err, &nf) {
			t.Fatalf("err = %v, want NamespaceNotFound", err)
		}
	})
	t.Run("invalid name", func(t *testing.T) {
		_, err := h.c.CreateHttpNamespace(ctx, &sd.CreateHttpNamespaceInput{Name: aws.String("has space")})
		var invalid *types.InvalidInput
		if !errors.As(err, &invalid) || !strings.Contains(invalid.ErrorMessage(), "Name") {
			t.Fatalf("err = %v, want InvalidInput naming Name", err)
		}
	})
	t.Run("delete in use", func(t *testing.T) {
		_, err := h.c.DeleteNamespace(ctx, &sd.DeleteNamespaceInput{Id: aws.String(nsID)})
		var inUse *types.ResourceInUse
		if !errors.As(err, &inUse) {
			t.Fatalf("err = %v, want ResourceInUse", err)
		}
	})
	t.Run("missing operation", func(t *testing.T) {
		_, err := h.c.GetOperation(ctx, &sd.GetOperationInput{OperationId: aws.String("nope")})
		var nf *types.OperationNotFound
		if !errors.As(err, &nf) {
			t.Fatalf("err = %v, want OperationNotFound", err)
		}
	})
	t.Run("delete empty namespace", func(t *testing.T) {
		id := h.httpNamespace(t, "scratch")
		out, err := h.c.DeleteNamespace(ctx, &sd.DeleteNamespaceInput{Id: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		op, err := h.c.GetOperation(ctx, &sd.GetOperationInput{OperationId: out.OperationId})
		if err != nil || op.Operation.Type != types.OperationTypeDeleteNamespace || op.Operation.Status != types.OperationStatusSuccess {
			t.Fatalf("GetOperation = %+v, %v", op, err)
		}
		_, err = h.c.GetNamespace(ctx, &sd.GetNamespaceInput{Id: aws.String(id)})
		wantCode(t, err, "NamespaceNotFound")
	})
}

func TestServices(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	apps := h.httpNamespace(t, "apps")
	other := h.httpNamespace(t, "other")

	created, err := h.c.CreateService(ctx, &sd.CreateServiceInput{
		Name: aws.String("movie"), NamespaceId: aws.String(apps), CreatorRequestId: aws.String("svc-req"),
		Description:             aws.String("movie service"),
		HealthCheckCustomConfig: &types.HealthCheckCustomConfig{FailureThreshold: aws.Int32(1)},
	})
	if err != nil {
		t.Fatal(err)
	}
	svc := created.Service
	id := aws.ToString(svc.Id)
	wantARN := "arn:aws:servicediscovery:us-east-1:000000000000:service/" + id
	if !strings.HasPrefix(id, "srv-") || aws.ToString(svc.Arn) != wantARN || svc.Type != types.ServiceTypeHttp ||
		aws.ToString(svc.NamespaceId) != apps || aws.ToInt32(svc.HealthCheckCustomConfig.FailureThreshold) != 1 {
		t.Fatalf("CreateService = %+v", svc)
	}
	if _, err := h.c.CreateService(ctx, &sd.CreateServiceInput{Name: aws.String("books"), NamespaceId: aws.String(other)}); err != nil {
		t.Fatal(err)
	}

	for _, ref := range []string{id, wantARN} {
		got, err := h.c.GetService(ctx, &sd.GetServiceInput{Id: aws.String(ref)})
		if err != nil {
			t.Fatalf("GetService(%s): %v", ref, err)
		}
		if aws.ToString(got.Service.Name) != "movie" || aws.ToString(got.Service.Description) != "movie service" {
			t.Fatalf("GetService(%s) = %+v", ref, got.Service)
		}
	}

	list, err := h.c.ListServices(ctx, &sd.ListServicesInput{Filters: []types.ServiceFilter{
		{Name: types.ServiceFilterNameNamespaceId, Values: []string{apps}, Condition: types.FilterConditionEq},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Services) != 1 || aws.ToString(list.Services[0].Id) != id {
		t.Fatalf("ListServices(NAMESPACE_ID=%s) = %+v", apps, list.Services)
	}
	all, err := h.c.ListServices(ctx, &sd.ListServicesInput{})
	if err != nil || len(all.Services) != 2 {
		t.Fatalf("ListServices = %+v, %v; want 2", all, err)
	}

	// Retrying with the same CreatorRequestId returns the same service.
	again, err := h.c.CreateService(ctx, &sd.CreateServiceInput{Name: aws.String("movie"), NamespaceId: aws.String(apps), CreatorRequestId: aws.String("svc-req")})
	if err != nil || aws.ToString(again.Service.Id) != id {
		t.Fatalf("retried CreateService = %v, %v; want %s", again, err, id)
	}

	tests := []struct {
		name  string
		in    *sd.CreateServiceInput
		code  string
		check func(t *testing.T, err error)
	}{
		{name: "duplicate", in: &sd.CreateServiceInput{Name: aws.String("movie"), NamespaceId: aws.String(apps)}, code: "ServiceAlreadyExists",
			check: func(t *testing.T, err error) {
				var exists *types.ServiceAlreadyExists
				if !errors.As(err, &exists) || aws.ToString(exists.ServiceId) != id || aws.ToString(exists.ServiceArn) != wantARN {
					t.Fatalf("err = %#v, want ServiceAlreadyExists with ServiceId %s", err, id)
				}
			}},
		{name: "missing namespace", in: &sd.CreateServiceInput{Name: aws.String("x"), NamespaceId: aws.String("ns-missing")}, code: "NamespaceNotFound"},
		{name: "invalid name", in: &sd.CreateServiceInput{Name: aws.String("bad name"), NamespaceId: aws.String(apps)}, code: "InvalidInput"},
		{name: "dns config in http namespace", in: &sd.CreateServiceInput{Name: aws.String("x"), NamespaceId: aws.String(apps),
			DnsConfig: &types.DnsConfig{DnsRecords: []types.DnsRecord{{Type: types.RecordTypeA, TTL: aws.Int64(10)}}}}, code: "InvalidInput"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.c.CreateService(ctx, tt.in)
			wantCode(t, err, tt.code)
			if tt.check != nil {
				tt.check(t, err)
			}
		})
	}

	_, err = h.c.GetService(ctx, &sd.GetServiceInput{Id: aws.String("srv-missing")})
	var nf *types.ServiceNotFound
	if !errors.As(err, &nf) {
		t.Fatalf("GetService(missing) err = %v, want ServiceNotFound", err)
	}

	// A service with an instance is in use; an empty one can be deleted.
	h.register(t, id, "task-1", map[string]string{AttrIPv4: "127.0.0.2", AttrPort: "8080"})
	_, err = h.c.DeleteService(ctx, &sd.DeleteServiceInput{Id: aws.String(id)})
	var inUse *types.ResourceInUse
	if !errors.As(err, &inUse) {
		t.Fatalf("DeleteService(with instances) err = %v, want ResourceInUse", err)
	}
	books, err := h.c.ListServices(ctx, &sd.ListServicesInput{Filters: []types.ServiceFilter{
		{Name: types.ServiceFilterNameNamespaceId, Values: []string{other}},
	}})
	if err != nil || len(books.Services) != 1 {
		t.Fatalf("ListServices(other) = %v, %v", books, err)
	}
	if _, err := h.c.DeleteService(ctx, &sd.DeleteServiceInput{Id: books.Services[0].Id}); err != nil {
		t.Fatalf("DeleteService(empty): %v", err)
	}
	_, err = h.c.GetService(ctx, &sd.GetServiceInput{Id: books.Services[0].Id})
	wantCode(t, err, "ServiceNotFound")
}

func TestInstances(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	nsID := h.httpNamespace(t, "apps")
	svc := h.service(t, nsID, "movie", true)
	svcID := aws.ToString(svc.Id)

	opID := h.register(t, svcID, "task-a", map[string]string{AttrIPv4: "127.0.0.2", AttrPort: "8080", "version": "v1"})
	h.register(t, svcID, "task-b", map[string]string{AttrIPv4: "127.0.0.3", AttrPort: "8080", "version": "v2", AttrInitHealthStatus: Unhealthy})
	h.register(t, svcID, "task-c", map[string]string{AttrIPv4: "127.0.0.4", AttrPort: "8080", "version": "v2"})

	op, err := h.c.GetOperation(ctx, &sd.GetOperationInput{OperationId: aws.String(opID)})
	if err != nil {
		t.Fatal(err)
	}
	wantTargets := map[string]string{"NAMESPACE": nsID, "SERVICE": svcID, "INSTANCE": "task-a"}
	if op.Operation.Type != types.OperationTypeRegisterInstance || op.Operation.Status != types.OperationStatusSuccess ||
		!reflect.DeepEqual(op.Operation.Targets, wantTargets) {
		t.Fatalf("operation = %+v", op.Operation)
	}

	inst, err := h.c.GetInstance(ctx, &sd.GetInstanceInput{ServiceId: svc.Arn, InstanceId: aws.String("task-a")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(inst.Instance.Id) != "task-a" || inst.Instance.Attributes["version"] != "v1" {
		t.Fatalf("GetInstance = %+v", inst.Instance)
	}
	listed, err := h.c.ListInstances(ctx, &sd.ListInstancesInput{ServiceId: aws.String(svcID)})
	if err != nil || len(listed.Instances) != 3 {
		t.Fatalf("ListInstances = %+v, %v", listed, err)
	}
	gotSvc, err := h.c.GetService(ctx, &sd.GetServiceInput{Id: aws.String(svcID)})
	if err != nil || aws.ToInt32(gotSvc.Service.InstanceCount) != 3 {
		t.Fatalf("InstanceCount = %v, %v; want 3", gotSvc, err)
	}

	discover := func(filter types.HealthStatusFilter, query, optional map[string]string) ([]string, int64) {
		t.Helper()
		out, err := h.c.DiscoverInstances(ctx, &sd.DiscoverInstancesInput{
			NamespaceName: aws.String("apps"), ServiceName: aws.String("movie"),
			HealthStatus: filter, QueryParameters: query, OptionalParameters: optional,
		})
		if err != nil {
			t.Fatalf("DiscoverInstances: %v", err)
		}
		var ids []string
		for _, i := range out.Instances {
			ids = append(ids, aws.ToString(i.InstanceId)+"="+string(i.HealthStatus))
		}
		return ids, aws.ToInt64(out.InstancesRevision)
	}
	tests := []struct {
		name     string
		filter   types.HealthStatusFilter
		query    map[string]string
		optional map[string]string
		want     []string
	}{
		{"healthy", types.HealthStatusFilterHealthy, nil, nil, []string{"task-a=HEALTHY", "task-c=HEALTHY"}},
		{"default is healthy", "", nil, nil, []string{"task-a=HEALTHY", "task-c=HEALTHY"}},
		{"unhealthy", types.HealthStatusFilterUnhealthy, nil, nil, []string{"task-b=UNHEALTHY"}},
		{"all", types.HealthStatusFilterAll, nil, nil, []string{"task-a=HEALTHY", "task-b=UNHEALTHY", "task-c=HEALTHY"}},
		{"query", types.HealthStatusFilterAll, map[string]string{"version": "v2"}, nil, []string{"task-b=UNHEALTHY", "task-c=HEALTHY"}},
		{"optional matches", types.HealthStatusFilterAll, map[string]string{"version": "v2"}, map[string]string{AttrIPv4: "127.0.0.4"}, []string{"task-c=HEALTHY"}},
		{"optional ignored", types.HealthStatusFilterAll, map[string]string{"version": "v2"}, map[string]string{"zone": "x"}, []string{"task-b=UNHEALTHY", "task-c=HEALTHY"}},
		{"healthy or else all (some healthy)", types.HealthStatusFilterHealthyOrElseAll, map[string]string{"version": "v2"}, nil, []string{"task-c=HEALTHY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := discover(tt.filter, tt.query, tt.optional)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("DiscoverInstances = %v, want %v", got, tt.want)
			}
		})
	}

	// Flipping health changes discovery and the revision.
	_, rev0 := discover(types.HealthStatusFilterAll, nil, nil)
	if _, err := h.c.UpdateInstanceCustomHealthStatus(ctx, &sd.UpdateInstanceCustomHealthStatusInput{
		ServiceId: aws.String(svcID), InstanceId: aws.String("task-c"), Status: types.CustomHealthStatusUnhealthy,
	}); err != nil {
		t.Fatal(err)
	}
	got, rev1 := discover(types.HealthStatusFilterHealthyOrElseAll, map[string]string{"version": "v2"}, nil)
	if !reflect.DeepEqual(got, []string{"task-b=UNHEALTHY", "task-c=UNHEALTHY"}) || rev1 <= rev0 {
		t.Fatalf("after UNHEALTHY: %v rev %d (was %d), want fail-open to both and a higher revision", got, rev1, rev0)
	}
	revOut, err := h.c.DiscoverInstancesRevision(ctx, &sd.DiscoverInstancesRevisionInput{NamespaceName: aws.String("apps"), ServiceName: aws.String("movie")})
	if err != nil || aws.ToInt64(revOut.InstancesRevision) != rev1 {
		t.Fatalf("DiscoverInstancesRevision = %v, %v; want %d", revOut, err, rev1)
	}

	if _, err := h.c.DeregisterInstance(ctx, &sd.DeregisterInstanceInput{ServiceId: aws.String(svcID), InstanceId: aws.String("task-a")}); err != nil {
		t.Fatal(err)
	}
	got, rev2 := discover(types.HealthStatusFilterAll, nil, nil)
	if !reflect.DeepEqual(got, []string{"task-b=UNHEALTHY", "task-c=UNHEALTHY"}) || rev2 <= rev1 {
		t.Fatalf("after deregister: %v rev %d (was %d), want a higher revision", got, rev2, rev1)
	}

	errTests := []struct {
		name string
		call func() error
		code string
	}{
		{"get missing instance", func() error {
			_, err := h.c.GetInstance(ctx, &sd.GetInstanceInput{ServiceId: aws.String(svcID), InstanceId: aws.String("task-a")})
			return err
		}, "InstanceNotFound"},
		{"deregister missing instance", func() error {
			_, err := h.c.DeregisterInstance(ctx, &sd.DeregisterInstanceInput{ServiceId: aws.String(svcID), InstanceId: aws.String("nope")})
			return err
		}, "InstanceNotFound"},
		{"register in missing service", func() error {
			_, err := h.c.RegisterInstance(ctx, &sd.RegisterInstanceInput{ServiceId: aws.String("srv-missing"), InstanceId: aws.String("x"), Attributes: map[string]string{}})
			return err
		}, "ServiceNotFound"},
		{"bad ipv4", func() error {
			_, err := h.c.RegisterInstance(ctx, &sd.RegisterInstanceInput{ServiceId: aws.String(svcID), InstanceId: aws.String("x"), Attributes: map[string]string{AttrIPv4: "300.1.1.1"}})
			return err
		}, "InvalidInput"},
		{"bad port", func() error {
			_, err := h.c.RegisterInstance(ctx, &sd.RegisterInstanceInput{ServiceId: aws.String(svcID), InstanceId: aws.String("x"), Attributes: map[string]string{AttrPort: "http"}})
			return err
		}, "InvalidInput"},
		{"bad init health", func() error {
			_, err := h.c.RegisterInstance(ctx, &sd.RegisterInstanceInput{ServiceId: aws.String(svcID), InstanceId: aws.String("x"), Attributes: map[string]string{AttrInitHealthStatus: "MAYBE"}})
			return err
		}, "InvalidInput"},
		{"discover missing namespace", func() error {
			_, err := h.c.DiscoverInstances(ctx, &sd.DiscoverInstancesInput{NamespaceName: aws.String("nope"), ServiceName: aws.String("movie")})
			return err
		}, "NamespaceNotFound"},
		{"discover missing service", func() error {
			_, err := h.c.DiscoverInstances(ctx, &sd.DiscoverInstancesInput{NamespaceName: aws.String("apps"), ServiceName: aws.String("nope")})
			return err
		}, "ServiceNotFound"},
		{"list instances of missing service", func() error {
			_, err := h.c.ListInstances(ctx, &sd.ListInstancesInput{ServiceId: aws.String("srv-missing")})
			return err
		}, "ServiceNotFound"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.call(), tt.code) })
	}
}

func TestHealthIgnoredWithoutHealthCheck(t *testing.T) {
	h := newHarness(t, Options{})
	nsID := h.httpNamespace(t, "apps")
	svc := h.service(t, nsID, "plain", false)
	h.register(t, aws.ToString(svc.Id), "t1", map[string]string{AttrIPv4: "127.0.0.2", AttrInitHealthStatus: Unhealthy})
	out, err := h.c.DiscoverInstances(context.Background(), &sd.DiscoverInstancesInput{
		NamespaceName: aws.String("apps"), ServiceName: aws.String("plain"), HealthStatus: types.HealthStatusFilterHealthy,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Instances) != 1 || out.Instances[0].HealthStatus != types.HealthStatusUnknown {
		t.Fatalf("DiscoverInstances = %+v, want t1 with UNKNOWN health (filter ignored without a health check)", out.Instances)
	}
	_, err = h.c.UpdateInstanceCustomHealthStatus(context.Background(), &sd.UpdateInstanceCustomHealthStatusInput{
		ServiceId: svc.Id, InstanceId: aws.String("t1"), Status: types.CustomHealthStatusHealthy,
	})
	var chnf *types.CustomHealthNotFound
	if !errors.As(err, &chnf) {
		t.Fatalf("UpdateInstanceCustomHealthStatus err = %v, want CustomHealthNotFound", err)
	}
}

func TestRegisterInstanceIdempotency(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	svc := h.service(t, h.httpNamespace(t, "apps"), "movie", false)
	in := &sd.RegisterInstanceInput{ServiceId: svc.Id, InstanceId: aws.String("t1"), CreatorRequestId: aws.String("tok"),
		Attributes: map[string]string{AttrIPv4: "127.0.0.2"}}
	first, err := h.c.RegisterInstance(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	second, err := h.c.RegisterInstance(ctx, in)
	if err != nil || aws.ToString(second.OperationId) != aws.ToString(first.OperationId) {
		t.Fatalf("retry = %v, %v; want operation %s", second, err, aws.ToString(first.OperationId))
	}
	in.InstanceId = aws.String("t2")
	_, err = h.c.RegisterInstance(ctx, in)
	var dup *types.DuplicateRequest
	if !errors.As(err, &dup) || aws.ToString(dup.DuplicateOperationId) != aws.ToString(first.OperationId) {
		t.Fatalf("reused token err = %v, want DuplicateRequest naming %s", err, aws.ToString(first.OperationId))
	}
}

func TestGoAPI(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	svc := h.service(t, h.httpNamespace(t, "apps"), "movie", true)

	watchCtx, cancel := context.WithCancel(ctx)
	watch := h.fake.Watch(watchCtx)

	// The Go API takes the service ARN; the API sees the registration.
	if err := h.fake.RegisterInstance(ctx, aws.ToString(svc.Arn), "task-2", map[string]string{AttrIPv4: "127.0.0.3", AttrPort: "9090"}); err != nil {
		t.Fatal(err)
	}
	select { // the fake notifies before it answers
	case <-watch:
	default:
		t.Fatal("Watch did not fire after RegisterInstance")
	}
	h.register(t, aws.ToString(svc.Id), "task-1", map[string]string{AttrIPv4: "127.0.0.2", AttrPort: "8080", "version": "v1"})
	h.register(t, aws.ToString(svc.Id), "task-3", map[string]string{AttrIPv4: "127.0.0.4", AttrPort: "8080", AttrInitHealthStatus: Unhealthy})

	got, err := h.fake.Instances("apps", "movie")
	if err != nil {
		t.Fatal(err)
	}
	want := []Instance{
		{ID: "task-1", IPv4: "127.0.0.2", Port: 8080, HealthStatus: Healthy, Attributes: map[string]string{AttrIPv4: "127.0.0.2", AttrPort: "8080", "version": "v1"}},
		{ID: "task-2", IPv4: "127.0.0.3", Port: 9090, HealthStatus: Healthy, Attributes: map[string]string{AttrIPv4: "127.0.0.3", AttrPort: "9090"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Instances = %+v\nwant %+v", got, want)
	}

	if err := h.fake.UpdateInstanceCustomHealthStatus(ctx, aws.ToString(svc.Id), "task-3", Healthy); err != nil {
		t.Fatal(err)
	}
	if err := h.fake.DeregisterInstance(ctx, aws.ToString(svc.Id), "task-1"); err != nil {
		t.Fatal(err)
	}
	out, err := h.c.DiscoverInstances(ctx, &sd.DiscoverInstancesInput{NamespaceName: aws.String("apps"), ServiceName: aws.String("movie")})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, i := range out.Instances {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	if !reflect.DeepEqual(ids, []string{"task-2", "task-3"}) {
		t.Fatalf("DiscoverInstances after Go API changes = %v", ids)
	}

	errTests := []struct {
		name string
		err  error
		code string
	}{
		{"register in missing service", h.fake.RegisterInstance(ctx, "srv-missing", "x", map[string]string{}), "ServiceNotFound"},
		{"register bad attribute", h.fake.RegisterInstance(ctx, aws.ToString(svc.Id), "x", map[string]string{AttrPort: "-1"}), "InvalidInput"},
		{"deregister missing instance", h.fake.DeregisterInstance(ctx, aws.ToString(svc.Id), "nope"), "InstanceNotFound"},
		{"missing namespace", func() error { _, err := h.fake.Instances("nope", "movie"); return err }(), "NamespaceNotFound"},
		{"missing service", func() error { _, err := h.fake.Instances("apps", "nope"); return err }(), "ServiceNotFound"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			var e *awsproto.Error
			if !errors.As(tt.err, &e) || e.Code != tt.code {
				t.Fatalf("err = %v, want %s", tt.err, tt.code)
			}
		})
	}

	cancel()
	polltest.Eventually(t, "the Watch channel to close after its context ended", func() bool {
		select {
		case _, open := <-watch:
			return !open
		default:
			return false
		}
	})
}

func TestEvents(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	svc := h.service(t, h.httpNamespace(t, "apps"), "movie", false)
	h.register(t, aws.ToString(svc.Id), "t1", map[string]string{AttrIPv4: "127.0.0.2", AttrPort: "8080"})
	if err := h.fake.DeregisterInstance(ctx, aws.ToString(svc.Id), "t1"); err != nil {
		t.Fatal(err)
	}
	subCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var got []events.Event
	for e := range h.bus.Subscribe(subCtx, 0) {
		got = append(got, e)
		if len(got) == 4 {
			break
		}
	}
	if len(got) != 4 {
		t.Fatalf("got %d events, want 4: %+v", len(got), got)
	}
	wantTypes := []contract.EventType{contract.EventNamespaceCreated, contract.EventServiceCreated, contract.EventInstanceRegistered, contract.EventInstanceDeregistered}
	for i, e := range got {
		if e.Source != contract.SourceCloudMap || e.Type != wantTypes[i] {
			t.Fatalf("event %d = %s/%s, want cloudmap/%s", i, e.Source, e.Type, wantTypes[i])
		}
	}
	for _, e := range got[2:] {
		want := map[string]string{"instanceId": "t1", "ipv4": "127.0.0.2", "port": "8080"}
		if e.Resource != aws.ToString(svc.Arn) || !reflect.DeepEqual(e.Detail, want) {
			t.Fatalf("%s event = %+v, want resource %s detail %v", e.Type, e, aws.ToString(svc.Arn), want)
		}
	}
}

// inProcess is an HTTP transport that serves each request with a handler in
// the calling goroutine: no network, so that a test can run in a
// testing/synctest bubble, whose clock only moves when every goroutine in it
// waits.
type inProcess struct{ h http.Handler }

func (p inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// newBubbleHarness is newHarness for a synctest bubble: the SDK client
// reaches the fakes' endpoint in process.
func newBubbleHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	bus := events.NewBus(0)
	opts.Bus = bus
	f := New(opts)
	ep := endpoint.New(bus)
	ep.HandleTarget(TargetPrefix, f)
	t.Cleanup(func() { f.Close() })
	c := sd.NewFromConfig(awsclient.Config("http://fakes", "us-east-1"), func(o *sd.Options) {
		o.HTTPClient = &http.Client{Transport: inProcess{ep}}
	})
	return &harness{fake: f, bus: bus, c: c}
}

// Operations stay SUBMITTED for the propagation delay and succeed when it
// has passed, on synctest's clock: no sleep decides the outcome.
func TestOperationDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const delay = 5 * time.Second
		h := newBubbleHarness(t, Options{OperationDelay: delay})
		ctx := context.Background()
		status := func(id *string) types.OperationStatus {
			t.Helper()
			op, err := h.c.GetOperation(ctx, &sd.GetOperationInput{OperationId: id})
			if err != nil {
				t.Fatal(err)
			}
			return op.Operation.Status
		}
		out, err := h.c.CreateHttpNamespace(ctx, &sd.CreateHttpNamespaceInput{Name: aws.String("apps")})
		if err != nil {
			t.Fatal(err)
		}
		op, err := h.c.GetOperation(ctx, &sd.GetOperationInput{OperationId: out.OperationId})
		if err != nil || op.Operation.Status != types.OperationStatusSubmitted {
			t.Fatalf("GetOperation = %+v, %v; want SUBMITTED", op, err)
		}
		nsID := op.Operation.Targets["NAMESPACE"]
		// While the operation is pending the namespace does not exist, and
		// a second create of the name is a duplicate of the pending
		// operation.
		_, err = h.c.GetNamespace(ctx, &sd.GetNamespaceInput{Id: aws.String(nsID)})
		wantCode(t, err, "NamespaceNotFound")
		_, err = h.c.CreateHttpNamespace(ctx, &sd.CreateHttpNamespaceInput{Name: aws.String("apps")})
		var dup *types.DuplicateRequest
		if !errors.As(err, &dup) || aws.ToString(dup.DuplicateOperationId) != aws.ToString(out.OperationId) {
			t.Fatalf("second create err = %v, want DuplicateRequest naming %s", err, aws.ToString(out.OperationId))
		}

		time.Sleep(delay - time.Millisecond)
		synctest.Wait()
		if got := status(out.OperationId); got != types.OperationStatusSubmitted {
			t.Fatalf("just before the delay: %s, want SUBMITTED", got)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := status(out.OperationId); got != types.OperationStatusSuccess {
			t.Fatalf("after the delay: %s, want SUCCESS", got)
		}
		if _, err := h.c.GetNamespace(ctx, &sd.GetNamespaceInput{Id: aws.String(nsID)}); err != nil {
			t.Fatalf("GetNamespace after SUCCESS: %v", err)
		}

		svc := h.service(t, nsID, "movie", false)
		opID := h.register(t, aws.ToString(svc.Id), "t1", map[string]string{AttrIPv4: "127.0.0.2"})
		if got, err := h.fake.Instances("apps", "movie"); err != nil || len(got) != 0 {
			t.Fatalf("Instances while the registration is pending = %+v, %v", got, err)
		}
		time.Sleep(delay)
		synctest.Wait()
		if got := status(&opID); got != types.OperationStatusSuccess {
			t.Fatalf("registration after the delay: %s, want SUCCESS", got)
		}
		got, err := h.fake.Instances("apps", "movie")
		if err != nil || len(got) != 1 || got[0].ID != "t1" {
			t.Fatalf("Instances after delayed registration = %+v, %v", got, err)
		}
	})
}

func TestPendingOperationStaysSubmittedAfterClose(t *testing.T) {
	h := newHarness(t, Options{OperationDelay: time.Hour})
	ctx := context.Background()
	out, err := h.c.CreateHttpNamespace(ctx, &sd.CreateHttpNamespaceInput{Name: aws.String("apps")})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.fake.Close(); err != nil {
		t.Fatal(err)
	}
	op, err := h.c.GetOperation(ctx, &sd.GetOperationInput{OperationId: out.OperationId})
	if err != nil || op.Operation.Status != types.OperationStatusSubmitted {
		t.Fatalf("GetOperation = %+v, %v; want SUBMITTED", op, err)
	}
	if _, err := h.fake.Instances("apps", "x"); err == nil {
		t.Fatal("namespace of a pending operation is visible")
	}
}

func TestRegionFromSignature(t *testing.T) {
	h := newHarness(t, Options{})
	c := awsclient.New(h.url, "eu-west-1").CloudMap
	ctx := context.Background()
	out, err := c.CreateHttpNamespace(ctx, &sd.CreateHttpNamespaceInput{Name: aws.String("apps")})
	if err != nil {
		t.Fatal(err)
	}
	op, err := c.GetOperation(ctx, &sd.GetOperationInput{OperationId: out.OperationId})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := c.GetNamespace(ctx, &sd.GetNamespaceInput{Id: aws.String(op.Operation.Targets["NAMESPACE"])})
	if err != nil {
		t.Fatal(err)
	}
	if arn := aws.ToString(ns.Namespace.Arn); !strings.HasPrefix(arn, "arn:aws:servicediscovery:eu-west-1:000000000000:namespace/ns-") {
		t.Fatalf("ARN = %s, want region eu-west-1", arn)
	}
	svc, err := c.CreateService(ctx, &sd.CreateServiceInput{Name: aws.String("movie"), NamespaceId: ns.Namespace.Id})
	if err != nil {
		t.Fatal(err)
	}
	if arn := aws.ToString(svc.Service.Arn); !strings.HasPrefix(arn, "arn:aws:servicediscovery:eu-west-1:000000000000:service/srv-") {
		t.Fatalf("service ARN = %s, want region eu-west-1", arn)
	}
}

// Finished operations are forgotten beyond the history's limit, and so are
// the CreatorRequestIds of the registrations they made: the fake's memory
// does not grow with the number of calls.
func TestOperationHistoryBounded(t *testing.T) {
	h := newHarness(t, Options{})
	h.fake.opLimit = 3
	ctx := context.Background()
	web := &sd.CreateHttpNamespaceInput{Name: aws.String("web"), CreatorRequestId: aws.String("ns-tok")}
	webOp, err := h.c.CreateHttpNamespace(ctx, web)
	if err != nil {
		t.Fatal(err)
	}
	svc := h.service(t, h.httpNamespace(t, "apps"), "movie", false)
	var ops []string
	for i := range 5 {
		out, err := h.c.RegisterInstance(ctx, &sd.RegisterInstanceInput{ServiceId: svc.Id,
			InstanceId: aws.String(fmt.Sprintf("t%d", i)), CreatorRequestId: aws.String(fmt.Sprintf("tok-%d", i)),
			Attributes: map[string]string{AttrIPv4: "127.0.0.2"}})
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, aws.ToString(out.OperationId))
	}
	// The namespace's operation and the first two registrations are gone.
	for i, id := range ops {
		_, err := h.c.GetOperation(ctx, &sd.GetOperationInput{OperationId: aws.String(id)})
		if i < 2 {
			wantCode(t, err, "OperationNotFound")
		} else if err != nil {
			t.Errorf("operation %d: %v", i, err)
		}
	}
	h.fake.mu.Lock()
	nOps, nTokens := len(h.fake.operations), len(h.fake.registerTokens)
	h.fake.mu.Unlock()
	if nOps != 3 || nTokens != 3 {
		t.Errorf("%d operations and %d tokens kept, want 3 and 3", nOps, nTokens)
	}
	// A forgotten token starts a new operation; a remembered one repeats.
	for i, wantSame := range map[int]bool{0: false, 4: true} {
		out, err := h.c.RegisterInstance(ctx, &sd.RegisterInstanceInput{ServiceId: svc.Id,
			InstanceId: aws.String(fmt.Sprintf("t%d", i)), CreatorRequestId: aws.String(fmt.Sprintf("tok-%d", i)),
			Attributes: map[string]string{AttrIPv4: "127.0.0.2"}})
		if err != nil {
			t.Fatal(err)
		}
		if same := aws.ToString(out.OperationId) == ops[i]; same != wantSame {
			t.Errorf("retry of registration %d: same operation %v, want %v", i, same, wantSame)
		}
	}
	// A namespace's CreatorRequestId still guards the namespace after its
	// operation is forgotten.
	again, err := h.c.CreateHttpNamespace(ctx, web)
	if err != nil || aws.ToString(again.OperationId) != aws.ToString(webOp.OperationId) {
		t.Errorf("retried CreateHttpNamespace = %v, %v; want operation %s", again, err, aws.ToString(webOp.OperationId))
	}
	web.Name = aws.String("other")
	_, err = h.c.CreateHttpNamespace(ctx, web)
	wantCode(t, err, "DuplicateRequest")
}

func TestTagLimits(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	nsID := h.httpNamespace(t, "apps")
	tags := func(n int, key, value string) []types.Tag {
		out := make([]types.Tag, n)
		for i := range out {
			out[i] = types.Tag{Key: aws.String(fmt.Sprintf("%s%d", key, i)), Value: aws.String(value)}
		}
		return out
	}
	tests := []struct {
		name string
		tags []types.Tag
		code string // "" for success
	}{
		{"200 tags", tags(200, "k", "v"), ""},
		{"201 tags", tags(201, "k", "v"), "TooManyTagsException"},
		{"empty key", []types.Tag{{Key: aws.String(""), Value: aws.String("v")}}, "InvalidInput"},
		{"long key", tags(1, strings.Repeat("k", 128), "v"), "InvalidInput"},
		{"long value", tags(1, "k", strings.Repeat("v", 257)), "InvalidInput"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.c.CreateService(ctx, &sd.CreateServiceInput{Name: aws.String(fmt.Sprintf("svc%d", i)),
				NamespaceId: aws.String(nsID), Tags: tt.tags})
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, tt.code)
			_, err = h.c.CreateHttpNamespace(ctx, &sd.CreateHttpNamespaceInput{Name: aws.String(fmt.Sprintf("ns%d", i)), Tags: tt.tags})
			wantCode(t, err, tt.code)
		})
	}
}
