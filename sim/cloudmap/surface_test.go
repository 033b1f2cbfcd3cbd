package cloudmap

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sd "github.com/aws/aws-sdk-go-v2/service/servicediscovery"
	"github.com/aws/aws-sdk-go-v2/service/servicediscovery/types"
)

// opTarget waits for nothing (no OperationDelay): it returns the target of
// kind of the operation id, checking that it succeeded with type typ.
func (h *harness) opTarget(t *testing.T, id *string, typ types.OperationType, kind types.OperationTargetType) string {
	t.Helper()
	op, err := h.c.GetOperation(context.Background(), &sd.GetOperationInput{OperationId: id})
	if err != nil {
		t.Fatalf("GetOperation(%s): %v", aws.ToString(id), err)
	}
	if op.Operation.Status != types.OperationStatusSuccess || op.Operation.Type != typ {
		t.Fatalf("operation %s: %s %s (%s), want SUCCESS %s", aws.ToString(id), op.Operation.Type, op.Operation.Status,
			aws.ToString(op.Operation.ErrorMessage), typ)
	}
	return op.Operation.Targets[string(kind)]
}

func (h *harness) publicNamespace(t *testing.T, name string) string {
	t.Helper()
	out, err := h.c.CreatePublicDnsNamespace(context.Background(), &sd.CreatePublicDnsNamespaceInput{Name: aws.String(name)})
	if err != nil {
		t.Fatalf("CreatePublicDnsNamespace(%s): %v", name, err)
	}
	return h.opTarget(t, out.OperationId, types.OperationTypeCreateNamespace, types.OperationTargetTypeNamespace)
}

func (h *harness) privateNamespace(t *testing.T, name string) string {
	t.Helper()
	out, err := h.c.CreatePrivateDnsNamespace(context.Background(), &sd.CreatePrivateDnsNamespaceInput{Name: aws.String(name), Vpc: aws.String("vpc-1")})
	if err != nil {
		t.Fatalf("CreatePrivateDnsNamespace(%s): %v", name, err)
	}
	return h.opTarget(t, out.OperationId, types.OperationTypeCreateNamespace, types.OperationTargetTypeNamespace)
}

// Every field CreatePublicDnsNamespace sets comes back in GetNamespace and
// ListTagsForResource; a Vpc is refused.
func TestPublicDNSNamespace(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	out, err := h.c.CreatePublicDnsNamespace(ctx, &sd.CreatePublicDnsNamespaceInput{
		Name:             aws.String("example.com"),
		CreatorRequestId: aws.String("req-1"),
		Description:      aws.String("the public face"),
		Properties:       &types.PublicDnsNamespaceProperties{DnsProperties: &types.PublicDnsPropertiesMutable{SOA: &types.SOA{TTL: aws.Int64(300)}}},
		Tags:             []types.Tag{{Key: aws.String("team"), Value: aws.String("web")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := h.opTarget(t, out.OperationId, types.OperationTypeCreateNamespace, types.OperationTargetTypeNamespace)
	got, err := h.c.GetNamespace(ctx, &sd.GetNamespaceInput{Id: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	ns := got.Namespace
	if ns.Type != types.NamespaceTypeDnsPublic || aws.ToString(ns.Name) != "example.com" || aws.ToString(ns.Description) != "the public face" ||
		aws.ToString(ns.CreatorRequestId) != "req-1" || aws.ToInt64(ns.Properties.DnsProperties.SOA.TTL) != 300 ||
		aws.ToString(ns.Properties.DnsProperties.HostedZoneId) == "" || aws.ToString(ns.Properties.HttpProperties.HttpName) != "example.com" {
		t.Errorf("GetNamespace = %+v", ns)
	}
	tags, err := h.c.ListTagsForResource(ctx, &sd.ListTagsForResourceInput{ResourceARN: ns.Arn})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "team" || aws.ToString(tags.Tags[0].Value) != "web" {
		t.Errorf("ListTagsForResource = %+v, %v", tags, err)
	}
	_, err = h.c.CreatePublicDnsNamespace(ctx, &sd.CreatePublicDnsNamespaceInput{Name: aws.String("b.example.com")})
	if err != nil {
		t.Fatal(err)
	}
	list, err := h.c.ListNamespaces(ctx, &sd.ListNamespacesInput{Filters: []types.NamespaceFilter{{
		Name: types.NamespaceFilterNameType, Values: []string{"DNS_PUBLIC"}, Condition: types.FilterConditionEq}}})
	if err != nil || len(list.Namespaces) != 2 {
		t.Errorf("ListNamespaces TYPE=DNS_PUBLIC = %+v, %v; want 2", list, err)
	}
	_, err = h.c.CreatePublicDnsNamespace(ctx, &sd.CreatePublicDnsNamespaceInput{Name: aws.String("x.example.com"),
		Properties: &types.PublicDnsNamespaceProperties{DnsProperties: &types.PublicDnsPropertiesMutable{SOA: &types.SOA{TTL: aws.Int64(-1)}}}})
	wantCode(t, err, "InvalidInput")
}

// Each Update*Namespace call applies to a namespace of its own type, sets
// the description (and the SOA TTL of DNS namespaces) through an
// UPDATE_NAMESPACE operation, and answers a retried UpdaterRequestId with
// the first operation.
func TestUpdateNamespaces(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	httpID, privID, pubID := h.httpNamespace(t, "apps"), h.privateNamespace(t, "apps.local"), h.publicNamespace(t, "apps.example.com")
	update := map[string]func(id, desc string, ttl *int64, token string) (*string, error){
		"http": func(id, desc string, _ *int64, token string) (*string, error) {
			out, err := h.c.UpdateHttpNamespace(ctx, &sd.UpdateHttpNamespaceInput{Id: aws.String(id), UpdaterRequestId: aws.String(token),
				Namespace: &types.HttpNamespaceChange{Description: aws.String(desc)}})
			if err != nil {
				return nil, err
			}
			return out.OperationId, nil
		},
		"private": func(id, desc string, ttl *int64, token string) (*string, error) {
			ch := &types.PrivateDnsNamespaceChange{Description: aws.String(desc)}
			if ttl != nil {
				ch.Properties = &types.PrivateDnsNamespacePropertiesChange{DnsProperties: &types.PrivateDnsPropertiesMutableChange{SOA: &types.SOAChange{TTL: ttl}}}
			}
			out, err := h.c.UpdatePrivateDnsNamespace(ctx, &sd.UpdatePrivateDnsNamespaceInput{Id: aws.String(id), UpdaterRequestId: aws.String(token), Namespace: ch})
			if err != nil {
				return nil, err
			}
			return out.OperationId, nil
		},
		"public": func(id, desc string, ttl *int64, token string) (*string, error) {
			ch := &types.PublicDnsNamespaceChange{Description: aws.String(desc)}
			if ttl != nil {
				ch.Properties = &types.PublicDnsNamespacePropertiesChange{DnsProperties: &types.PublicDnsPropertiesMutableChange{SOA: &types.SOAChange{TTL: ttl}}}
			}
			out, err := h.c.UpdatePublicDnsNamespace(ctx, &sd.UpdatePublicDnsNamespaceInput{Id: aws.String(id), UpdaterRequestId: aws.String(token), Namespace: ch})
			if err != nil {
				return nil, err
			}
			return out.OperationId, nil
		},
	}
	for _, tc := range []struct {
		kind, id string
		ttl      *int64
	}{{"http", httpID, nil}, {"private", privID, aws.Int64(120)}, {"public", pubID, aws.Int64(600)}} {
		t.Run(tc.kind, func(t *testing.T) {
			desc := "updated " + tc.kind
			opID, err := update[tc.kind](tc.id, desc, tc.ttl, "tok-"+tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			if got := h.opTarget(t, opID, types.OperationTypeUpdateNamespace, types.OperationTargetTypeNamespace); got != tc.id {
				t.Errorf("operation target = %s, want %s", got, tc.id)
			}
			again, err := update[tc.kind](tc.id, desc, tc.ttl, "tok-"+tc.kind)
			if err != nil || aws.ToString(again) != aws.ToString(opID) {
				t.Errorf("retry with the same UpdaterRequestId = %s, %v; want %s", aws.ToString(again), err, aws.ToString(opID))
			}
			ns, err := h.c.GetNamespace(ctx, &sd.GetNamespaceInput{Id: aws.String(tc.id)})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(ns.Namespace.Description) != desc {
				t.Errorf("Description = %q, want %q", aws.ToString(ns.Namespace.Description), desc)
			}
			if tc.ttl != nil && aws.ToInt64(ns.Namespace.Properties.DnsProperties.SOA.TTL) != *tc.ttl {
				t.Errorf("SOA TTL = %d, want %d", aws.ToInt64(ns.Namespace.Properties.DnsProperties.SOA.TTL), *tc.ttl)
			}
			// Another type's update call, and an unknown namespace.
			other := map[string]string{"http": "private", "private": "public", "public": "http"}[tc.kind]
			_, err = update[other](tc.id, "x", nil, "")
			wantCode(t, err, "InvalidInput")
			_, err = update[tc.kind]("ns-doesnotexist0000", "x", nil, "")
			wantCode(t, err, "NamespaceNotFound")
		})
	}
	_, err := update["http"](httpID, "y", nil, "tok-private") // a token used for another namespace
	wantCode(t, err, "DuplicateRequest")
}

// UpdateService changes the TTL of a service's records, its description
// and its Route 53 health check (public namespaces), through an
// UPDATE_SERVICE operation; what it cannot change is refused.
func TestUpdateService(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	pubID := h.publicNamespace(t, "shop.example.com")
	created, err := h.c.CreateService(ctx, &sd.CreateServiceInput{
		Name: aws.String("web"), NamespaceId: aws.String(pubID), Description: aws.String("v1"),
		DnsConfig:         &types.DnsConfig{DnsRecords: []types.DnsRecord{{Type: types.RecordTypeA, TTL: aws.Int64(60)}, {Type: types.RecordTypeSrv, TTL: aws.Int64(60)}}},
		HealthCheckConfig: &types.HealthCheckConfig{Type: types.HealthCheckTypeHttps, ResourcePath: aws.String("/health"), FailureThreshold: aws.Int32(3)},
		Tags:              []types.Tag{{Key: aws.String("tier"), Value: aws.String("front")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	svc := created.Service
	if svc.HealthCheckConfig == nil || svc.HealthCheckConfig.Type != types.HealthCheckTypeHttps || aws.ToString(svc.HealthCheckConfig.ResourcePath) != "/health" ||
		aws.ToInt32(svc.HealthCheckConfig.FailureThreshold) != 3 || svc.Type != types.ServiceTypeDnsHttp || aws.ToString(svc.Description) != "v1" {
		t.Errorf("CreateService = %+v", svc)
	}
	out, err := h.c.UpdateService(ctx, &sd.UpdateServiceInput{Id: svc.Id, Service: &types.ServiceChange{
		Description:       aws.String("v2"),
		DnsConfig:         &types.DnsConfigChange{DnsRecords: []types.DnsRecord{{Type: types.RecordTypeA, TTL: aws.Int64(10)}, {Type: types.RecordTypeSrv, TTL: aws.Int64(20)}}},
		HealthCheckConfig: &types.HealthCheckConfig{Type: types.HealthCheckTypeTcp, FailureThreshold: aws.Int32(5)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.opTarget(t, out.OperationId, types.OperationTypeUpdateService, types.OperationTargetTypeService); got != aws.ToString(svc.Id) {
		t.Errorf("operation target = %s, want %s", got, aws.ToString(svc.Id))
	}
	got, err := h.c.GetService(ctx, &sd.GetServiceInput{Id: svc.Arn})
	if err != nil {
		t.Fatal(err)
	}
	s := got.Service
	if aws.ToString(s.Description) != "v2" || aws.ToInt64(s.DnsConfig.DnsRecords[0].TTL) != 10 || aws.ToInt64(s.DnsConfig.DnsRecords[1].TTL) != 20 ||
		s.HealthCheckConfig.Type != types.HealthCheckTypeTcp || aws.ToInt32(s.HealthCheckConfig.FailureThreshold) != 5 || s.HealthCheckConfig.ResourcePath != nil {
		t.Errorf("GetService after UpdateService = %+v (records %+v, health check %+v)", s, s.DnsConfig, s.HealthCheckConfig)
	}
	// Omitting the HealthCheckConfig deletes it, as AWS documents.
	out, err = h.c.UpdateService(ctx, &sd.UpdateServiceInput{Id: svc.Id, Service: &types.ServiceChange{
		DnsConfig: &types.DnsConfigChange{DnsRecords: []types.DnsRecord{{Type: types.RecordTypeA, TTL: aws.Int64(10)}, {Type: types.RecordTypeSrv, TTL: aws.Int64(20)}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	h.opTarget(t, out.OperationId, types.OperationTypeUpdateService, types.OperationTargetTypeService)
	if got, _ := h.c.GetService(ctx, &sd.GetServiceInput{Id: svc.Id}); got.Service.HealthCheckConfig != nil || aws.ToString(got.Service.Description) != "v2" {
		t.Errorf("after an update without HealthCheckConfig: %+v", got.Service)
	}

	httpSvc := h.service(t, h.httpNamespace(t, "apps"), "api", true)
	privSvc, err := h.c.CreateService(ctx, &sd.CreateServiceInput{Name: aws.String("db"), NamespaceId: aws.String(h.privateNamespace(t, "apps.local")),
		DnsConfig: &types.DnsConfig{DnsRecords: []types.DnsRecord{{Type: types.RecordTypeA, TTL: aws.Int64(60)}}}})
	if err != nil {
		t.Fatal(err)
	}
	records := func(typ types.RecordType) *types.DnsConfigChange {
		return &types.DnsConfigChange{DnsRecords: []types.DnsRecord{{Type: typ, TTL: aws.Int64(5)}}}
	}
	for _, tc := range []struct {
		name, code string
		in         *sd.UpdateServiceInput
	}{
		{"http namespace", "InvalidInput", &sd.UpdateServiceInput{Id: httpSvc.Id, Service: &types.ServiceChange{Description: aws.String("x")}}},
		{"record type change", "InvalidInput", &sd.UpdateServiceInput{Id: privSvc.Service.Id, Service: &types.ServiceChange{DnsConfig: records(types.RecordTypeAaaa)}}},
		{"records omitted", "InvalidInput", &sd.UpdateServiceInput{Id: privSvc.Service.Id, Service: &types.ServiceChange{}}},
		{"route 53 check in a private namespace", "InvalidInput", &sd.UpdateServiceInput{Id: privSvc.Service.Id, Service: &types.ServiceChange{
			DnsConfig: records(types.RecordTypeA), HealthCheckConfig: &types.HealthCheckConfig{Type: types.HealthCheckTypeHttp}}}},
		{"bad health check", "InvalidInput", &sd.UpdateServiceInput{Id: svc.Id, Service: &types.ServiceChange{
			HealthCheckConfig: &types.HealthCheckConfig{Type: types.HealthCheckTypeTcp, ResourcePath: aws.String("/x")}}}},
		{"unknown service", "ServiceNotFound", &sd.UpdateServiceInput{Id: aws.String("srv-doesnotexist0000"), Service: &types.ServiceChange{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.c.UpdateService(ctx, tc.in)
			wantCode(t, err, tc.code)
		})
	}
	if _, err := h.c.UpdateService(ctx, &sd.UpdateServiceInput{Id: privSvc.Service.Id, Service: &types.ServiceChange{DnsConfig: records(types.RecordTypeA)}}); err != nil {
		t.Errorf("UpdateService of a private namespace's service TTL: %v", err)
	}
	_, err = h.c.CreateService(ctx, &sd.CreateServiceInput{Name: aws.String("x"), NamespaceId: aws.String(pubID),
		HealthCheckConfig: &types.HealthCheckConfig{Type: types.HealthCheckTypeHttp}, HealthCheckCustomConfig: &types.HealthCheckCustomConfig{}})
	wantCode(t, err, "InvalidInput")
}

func TestServiceAttributes(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	svc := h.service(t, h.httpNamespace(t, "apps"), "movie", false)
	get := func() map[string]string {
		t.Helper()
		out, err := h.c.GetServiceAttributes(ctx, &sd.GetServiceAttributesInput{ServiceId: svc.Id})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.ServiceAttributes.ServiceArn) != aws.ToString(svc.Arn) || aws.ToString(out.ServiceAttributes.ResourceOwner) != "000000000000" {
			t.Errorf("ServiceAttributes = %+v", out.ServiceAttributes)
		}
		return out.ServiceAttributes.Attributes
	}
	if got := get(); len(got) != 0 {
		t.Errorf("attributes of a new service = %v", got)
	}
	if _, err := h.c.UpdateServiceAttributes(ctx, &sd.UpdateServiceAttributesInput{ServiceId: svc.Arn, Attributes: map[string]string{"a": "1", "b": "2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.UpdateServiceAttributes(ctx, &sd.UpdateServiceAttributesInput{ServiceId: svc.Id, Attributes: map[string]string{"b": "3", "c": "4"}}); err != nil {
		t.Fatal(err)
	}
	if got, want := get(), map[string]string{"a": "1", "b": "3", "c": "4"}; !maps.Equal(got, want) {
		t.Errorf("attributes = %v, want %v", got, want)
	}
	if _, err := h.c.DeleteServiceAttributes(ctx, &sd.DeleteServiceAttributesInput{ServiceId: svc.Id, Attributes: []string{"a", "absent"}}); err != nil {
		t.Fatal(err)
	}
	if got, want := get(), map[string]string{"b": "3", "c": "4"}; !maps.Equal(got, want) {
		t.Errorf("attributes after delete = %v, want %v", got, want)
	}
	many := map[string]string{}
	for i := range 29 {
		many["k"+strconv.Itoa(i)] = "v"
	}
	_, err := h.c.UpdateServiceAttributes(ctx, &sd.UpdateServiceAttributesInput{ServiceId: svc.Id, Attributes: many})
	var limit *types.ServiceAttributesLimitExceededException
	if !errors.As(err, &limit) {
		t.Errorf("31 attributes: err = %v, want ServiceAttributesLimitExceededException", err)
	}
	_, err = h.c.GetServiceAttributes(ctx, &sd.GetServiceAttributesInput{ServiceId: aws.String("srv-doesnotexist0000")})
	wantCode(t, err, "ServiceNotFound")
	_, err = h.c.UpdateServiceAttributes(ctx, &sd.UpdateServiceAttributesInput{ServiceId: svc.Id, Attributes: map[string]string{}})
	wantCode(t, err, "InvalidInput")
	_, err = h.c.DeleteServiceAttributes(ctx, &sd.DeleteServiceAttributesInput{ServiceId: svc.Id, Attributes: []string{}})
	wantCode(t, err, "InvalidInput")
}

// GetInstancesHealthStatus reports the custom health an instance starts
// with (AWS_INIT_HEALTH_STATUS) and what UpdateInstanceCustomHealthStatus
// sets, pages with the SDK's paginator, and UNKNOWN without a health check.
func TestGetInstancesHealthStatus(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	nsID := h.httpNamespace(t, "apps")
	svc := h.service(t, nsID, "movie", true)
	for i := range 5 {
		attrs := map[string]string{AttrIPv4: fmt.Sprintf("127.0.0.%d", i+2)}
		if i == 1 {
			attrs[AttrInitHealthStatus] = Unhealthy
		}
		h.register(t, aws.ToString(svc.Id), fmt.Sprintf("t%d", i), attrs)
	}
	if _, err := h.c.UpdateInstanceCustomHealthStatus(ctx, &sd.UpdateInstanceCustomHealthStatusInput{
		ServiceId: svc.Id, InstanceId: aws.String("t3"), Status: types.CustomHealthStatusUnhealthy}); err != nil {
		t.Fatal(err)
	}
	got := map[string]types.HealthStatus{}
	pages := 0
	for p := sd.NewGetInstancesHealthStatusPaginator(h.c, &sd.GetInstancesHealthStatusInput{ServiceId: svc.Id, MaxResults: aws.Int32(2)}); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		maps.Copy(got, out.Status)
	}
	want := map[string]types.HealthStatus{"t0": "HEALTHY", "t1": "UNHEALTHY", "t2": "HEALTHY", "t3": "UNHEALTHY", "t4": "HEALTHY"}
	if !maps.Equal(got, want) || pages != 3 {
		t.Errorf("health over %d pages = %v, want %v over 3", pages, got, want)
	}
	out, err := h.c.GetInstancesHealthStatus(ctx, &sd.GetInstancesHealthStatusInput{ServiceId: svc.Arn, Instances: []string{"t3", "t4"}})
	if err != nil || !maps.Equal(out.Status, map[string]types.HealthStatus{"t3": "UNHEALTHY", "t4": "HEALTHY"}) {
		t.Errorf("health of t3, t4 = %v, %v", out, err)
	}
	_, err = h.c.GetInstancesHealthStatus(ctx, &sd.GetInstancesHealthStatusInput{ServiceId: svc.Id, Instances: []string{"t9"}})
	wantCode(t, err, "InstanceNotFound")
	_, err = h.c.GetInstancesHealthStatus(ctx, &sd.GetInstancesHealthStatusInput{ServiceId: aws.String("srv-doesnotexist0000")})
	wantCode(t, err, "ServiceNotFound")
	_, err = h.c.GetInstancesHealthStatus(ctx, &sd.GetInstancesHealthStatusInput{ServiceId: svc.Id, MaxResults: aws.Int32(101)})
	wantCode(t, err, "InvalidInput")

	plain := h.service(t, nsID, "plain", false)
	h.register(t, aws.ToString(plain.Id), "p1", map[string]string{AttrIPv4: "127.0.0.9"})
	out, err = h.c.GetInstancesHealthStatus(ctx, &sd.GetInstancesHealthStatusInput{ServiceId: plain.Id})
	if err != nil || !maps.Equal(out.Status, map[string]types.HealthStatus{"p1": "UNKNOWN"}) {
		t.Errorf("health without a health check = %v, %v; want UNKNOWN", out, err)
	}
}

// ListOperations filters by namespace, service, status, type and update
// date, with the conditions AWS allows for each.
func TestListOperations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const delay = time.Second
		h := newBubbleHarness(t, Options{OperationDelay: delay})
		ctx := context.Background()
		ns1, err := h.c.CreateHttpNamespace(ctx, &sd.CreateHttpNamespaceInput{Name: aws.String("one")})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		synctest.Wait()
		start := time.Now()
		nsID := h.opTarget(t, ns1.OperationId, types.OperationTypeCreateNamespace, types.OperationTargetTypeNamespace)
		svc := h.service(t, nsID, "movie", false)
		reg1 := h.register(t, aws.ToString(svc.Id), "t1", map[string]string{AttrIPv4: "127.0.0.2"})
		time.Sleep(delay)
		synctest.Wait()
		reg2 := h.register(t, aws.ToString(svc.Id), "t2", map[string]string{AttrIPv4: "127.0.0.3"}) // still SUBMITTED
		ns2, err := h.c.CreateHttpNamespace(ctx, &sd.CreateHttpNamespaceInput{Name: aws.String("two")})
		if err != nil {
			t.Fatal(err)
		}
		all := []string{aws.ToString(ns1.OperationId), reg1, reg2, aws.ToString(ns2.OperationId)}
		unix := func(t time.Time) string { return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64) }
		for _, tc := range []struct {
			name    string
			filters []types.OperationFilter
			want    []string
		}{
			{"none", nil, all},
			{"namespace", []types.OperationFilter{{Name: "NAMESPACE_ID", Values: []string{nsID}}}, all[:3]},
			{"service", []types.OperationFilter{{Name: "SERVICE_ID", Values: []string{aws.ToString(svc.Id)}, Condition: "EQ"}}, all[1:3]},
			{"status in", []types.OperationFilter{{Name: "STATUS", Values: []string{"SUBMITTED", "PENDING"}, Condition: "IN"}}, all[2:]},
			{"type eq", []types.OperationFilter{{Name: "TYPE", Values: []string{"CREATE_NAMESPACE"}}}, []string{all[0], all[3]}},
			{"type and status", []types.OperationFilter{{Name: "TYPE", Values: []string{"REGISTER_INSTANCE", "DELETE_NAMESPACE"}, Condition: "IN"},
				{Name: "STATUS", Values: []string{"SUCCESS"}}}, all[1:2]},
			{"update date", []types.OperationFilter{{Name: "UPDATE_DATE", Values: []string{unix(start.Add(time.Millisecond)), unix(start.Add(delay))}, Condition: "BETWEEN"}}, all[1:]},
		} {
			var got []string
			for p := sd.NewListOperationsPaginator(h.c, &sd.ListOperationsInput{Filters: tc.filters, MaxResults: aws.Int32(1)}); p.HasMorePages(); {
				out, err := p.NextPage(ctx)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				for _, op := range out.Operations {
					got = append(got, aws.ToString(op.Id))
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%s: operations = %v, want %v", tc.name, got, tc.want)
			}
		}
		for _, tc := range []struct {
			name string
			flt  types.OperationFilter
		}{
			{"unknown name", types.OperationFilter{Name: "INSTANCE_ID", Values: []string{"x"}}},
			{"EQ with two values", types.OperationFilter{Name: "TYPE", Values: []string{"CREATE_NAMESPACE", "DELETE_NAMESPACE"}, Condition: "EQ"}},
			{"IN on namespace", types.OperationFilter{Name: "NAMESPACE_ID", Values: []string{"a"}, Condition: "IN"}},
			{"BETWEEN with one date", types.OperationFilter{Name: "UPDATE_DATE", Values: []string{"1"}, Condition: "BETWEEN"}},
			{"date not a number", types.OperationFilter{Name: "UPDATE_DATE", Values: []string{"yesterday", "2"}, Condition: "BETWEEN"}},
			{"dates reversed", types.OperationFilter{Name: "UPDATE_DATE", Values: []string{"5", "2"}, Condition: "BETWEEN"}},
			{"unknown status", types.OperationFilter{Name: "STATUS", Values: []string{"DONE"}}},
		} {
			_, err := h.c.ListOperations(ctx, &sd.ListOperationsInput{Filters: []types.OperationFilter{tc.flt}})
			var bad *types.InvalidInput
			if !errors.As(err, &bad) {
				t.Errorf("%s: err = %v, want InvalidInput", tc.name, err)
			}
		}
	})
}

func TestTags(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	nsID := h.httpNamespace(t, "apps")
	ns, err := h.c.GetNamespace(ctx, &sd.GetNamespaceInput{Id: aws.String(nsID)})
	if err != nil {
		t.Fatal(err)
	}
	svc := h.service(t, nsID, "movie", false)
	for _, arn := range []*string{ns.Namespace.Arn, svc.Arn} {
		t.Run(aws.ToString(arn), func(t *testing.T) {
			list := func() string {
				t.Helper()
				out, err := h.c.ListTagsForResource(ctx, &sd.ListTagsForResourceInput{ResourceARN: arn})
				if err != nil {
					t.Fatal(err)
				}
				s := ""
				for _, tg := range out.Tags {
					s += aws.ToString(tg.Key) + "=" + aws.ToString(tg.Value) + ";"
				}
				return s
			}
			if got := list(); got != "" {
				t.Errorf("tags of an untagged resource = %q", got)
			}
			tags := []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}, {Key: aws.String("env"), Value: aws.String("dev")}}
			if _, err := h.c.TagResource(ctx, &sd.TagResourceInput{ResourceARN: arn, Tags: tags}); err != nil {
				t.Fatal(err)
			}
			if _, err := h.c.TagResource(ctx, &sd.TagResourceInput{ResourceARN: arn, Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("b")}}}); err != nil {
				t.Fatal(err)
			}
			if got := list(); got != "env=dev;team=b;" {
				t.Errorf("tags = %q, want env=dev;team=b;", got)
			}
			if _, err := h.c.UntagResource(ctx, &sd.UntagResourceInput{ResourceARN: arn, TagKeys: []string{"env", "absent"}}); err != nil {
				t.Fatal(err)
			}
			if got := list(); got != "team=b;" {
				t.Errorf("tags after untag = %q, want team=b;", got)
			}
			var many []types.Tag
			for i := range 200 {
				many = append(many, types.Tag{Key: aws.String(fmt.Sprint("k", i)), Value: aws.String("v")})
			}
			_, err := h.c.TagResource(ctx, &sd.TagResourceInput{ResourceARN: arn, Tags: many})
			var tooMany *types.TooManyTagsException
			if !errors.As(err, &tooMany) || aws.ToString(tooMany.ResourceName) != aws.ToString(arn) {
				t.Errorf("201 tags: err = %v, want TooManyTagsException naming the resource", err)
			}
		})
	}
	gone := "arn:aws:servicediscovery:us-east-1:000000000000:service/srv-doesnotexist0000"
	for name, call := range map[string]func() error{
		"list": func() error {
			_, err := h.c.ListTagsForResource(ctx, &sd.ListTagsForResourceInput{ResourceARN: &gone})
			return err
		},
		"tag": func() error {
			_, err := h.c.TagResource(ctx, &sd.TagResourceInput{ResourceARN: &gone, Tags: []types.Tag{}})
			return err
		},
		"untag": func() error {
			_, err := h.c.UntagResource(ctx, &sd.UntagResourceInput{ResourceARN: &gone, TagKeys: []string{}})
			return err
		},
	} {
		var nf *types.ResourceNotFoundException
		if err := call(); !errors.As(err, &nf) {
			t.Errorf("%s on an unknown ARN: %v, want ResourceNotFoundException", name, err)
		}
	}
	_, err = h.c.TagResource(ctx, &sd.TagResourceInput{ResourceARN: svc.Arn, Tags: []types.Tag{{Key: aws.String(""), Value: aws.String("v")}}})
	wantCode(t, err, "InvalidInput")
}
