package route53

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"

	"github.com/meshsim/meshsim/sim/awsclient"
	"github.com/meshsim/meshsim/sim/endpoint"
	"github.com/meshsim/meshsim/sim/events"
)

// clock is a settable time for the fake's Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type harness struct {
	fake *Fake
	bus  *events.Bus
	url  string
	c    *r53.Client
}

// newHarness serves a fake behind the real endpoint, with a real
// aws-sdk-go-v2 Route 53 client.
func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	bus := events.NewBus(0)
	opts.Bus = bus
	f := New(opts)
	ep := endpoint.New(bus)
	ep.HandlePath(PathPrefix, f)
	srv := httptest.NewServer(ep)
	t.Cleanup(func() {
		srv.Close()
		f.Close()
	})
	return &harness{fake: f, bus: bus, url: srv.URL, c: awsclient.New(srv.URL, "us-east-1").Route53}
}

// zone creates a hosted zone and returns its id (without /hostedzone/).
func (h *harness) zone(t *testing.T, name string) string {
	t.Helper()
	out, err := h.c.CreateHostedZone(context.Background(), &r53.CreateHostedZoneInput{Name: aws.String(name), CallerReference: aws.String("ref-" + name)})
	if err != nil {
		t.Fatalf("CreateHostedZone(%s): %v", name, err)
	}
	return strings.TrimPrefix(aws.ToString(out.HostedZone.Id), "/hostedzone/")
}

// change sends one change batch.
func (h *harness) change(zoneID string, changes ...types.Change) (*r53.ChangeResourceRecordSetsOutput, error) {
	return h.c.ChangeResourceRecordSets(context.Background(), &r53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID),
		ChangeBatch:  &types.ChangeBatch{Changes: changes},
	})
}

func a(name string, ttl int64, ips ...string) *types.ResourceRecordSet {
	s := &types.ResourceRecordSet{Name: aws.String(name), Type: types.RRTypeA, TTL: aws.Int64(ttl)}
	for _, ip := range ips {
		s.ResourceRecords = append(s.ResourceRecords, types.ResourceRecord{Value: aws.String(ip)})
	}
	return s
}

func weighted(name, id string, weight int64, ips ...string) *types.ResourceRecordSet {
	s := a(name, 60, ips...)
	s.SetIdentifier, s.Weight = aws.String(id), aws.Int64(weight)
	return s
}

func create(s *types.ResourceRecordSet) types.Change {
	return types.Change{Action: types.ChangeActionCreate, ResourceRecordSet: s}
}

func TestHostedZones(t *testing.T) {
	h := newHarness(t, Options{Propagation: -1})
	ctx := context.Background()
	out, err := h.c.CreateHostedZone(ctx, &r53.CreateHostedZoneInput{Name: aws.String("Example.test"), CallerReference: aws.String("r1"),
		HostedZoneConfig: &types.HostedZoneConfig{Comment: aws.String("rehearsal")}})
	if err != nil {
		t.Fatalf("CreateHostedZone: %v", err)
	}
	id := aws.ToString(out.HostedZone.Id)
	switch {
	case !strings.HasPrefix(id, "/hostedzone/Z"):
		t.Errorf("Id = %q, want /hostedzone/Z...", id)
	case aws.ToString(out.HostedZone.Name) != "example.test.":
		t.Errorf("Name = %q, want example.test.", aws.ToString(out.HostedZone.Name))
	case !strings.HasSuffix(aws.ToString(out.Location), id):
		t.Errorf("Location = %q", aws.ToString(out.Location))
	case out.DelegationSet == nil || len(out.DelegationSet.NameServers) != 4:
		t.Errorf("DelegationSet = %+v, want 4 name servers", out.DelegationSet)
	case out.ChangeInfo == nil || out.ChangeInfo.Status != types.ChangeStatusInsync:
		t.Errorf("ChangeInfo = %+v", out.ChangeInfo)
	case aws.ToInt64(out.HostedZone.ResourceRecordSetCount) != 2:
		t.Errorf("ResourceRecordSetCount = %d, want 2 (SOA, NS)", aws.ToInt64(out.HostedZone.ResourceRecordSetCount))
	}
	_, err = h.c.CreateHostedZone(ctx, &r53.CreateHostedZoneInput{Name: aws.String("other.test"), CallerReference: aws.String("r1")})
	var exists *types.HostedZoneAlreadyExists
	if !errors.As(err, &exists) {
		t.Errorf("CreateHostedZone with a used caller reference: %v, want HostedZoneAlreadyExists", err)
	}
	h.zone(t, "b.example.test")
	h.zone(t, "a.test")

	got, err := h.c.GetHostedZone(ctx, &r53.GetHostedZoneInput{Id: aws.String(id)}) // with the /hostedzone/ prefix, as CLIs pass it
	if err != nil || aws.ToString(got.HostedZone.Config.Comment) != "rehearsal" {
		t.Fatalf("GetHostedZone = %+v, %v", got, err)
	}
	byName, err := h.c.ListHostedZonesByName(ctx, &r53.ListHostedZonesByNameInput{})
	if err != nil {
		t.Fatalf("ListHostedZonesByName: %v", err)
	}
	var names []string
	for _, z := range byName.HostedZones {
		names = append(names, aws.ToString(z.Name))
	}
	if want := []string{"a.test.", "example.test.", "b.example.test."}; !slices.Equal(names, want) {
		t.Errorf("ListHostedZonesByName = %v, want %v", names, want)
	}
	page, err := h.c.ListHostedZones(ctx, &r53.ListHostedZonesInput{MaxItems: aws.Int32(2)})
	if err != nil || len(page.HostedZones) != 2 || !page.IsTruncated {
		t.Fatalf("ListHostedZones(max 2) = %+v, %v", page, err)
	}
	rest, err := h.c.ListHostedZones(ctx, &r53.ListHostedZonesInput{Marker: page.NextMarker})
	if err != nil || len(rest.HostedZones) != 1 || rest.IsTruncated {
		t.Fatalf("ListHostedZones(marker) = %+v, %v", rest, err)
	}

	if _, err := h.change(id, create(a("www.example.test", 60, "127.0.0.1"))); err != nil {
		t.Fatalf("ChangeResourceRecordSets: %v", err)
	}
	_, err = h.c.DeleteHostedZone(ctx, &r53.DeleteHostedZoneInput{Id: aws.String(id)})
	if apiCode(err) != "HostedZoneNotEmpty" {
		t.Errorf("DeleteHostedZone with a record: %v, want HostedZoneNotEmpty", err)
	}
	if _, err := h.change(id, types.Change{Action: types.ChangeActionDelete, ResourceRecordSet: a("www.example.test.", 60, "127.0.0.1")}); err != nil {
		t.Fatalf("DELETE: %v", err)
	}
	if _, err := h.c.DeleteHostedZone(ctx, &r53.DeleteHostedZoneInput{Id: aws.String(id)}); err != nil {
		t.Fatalf("DeleteHostedZone: %v", err)
	}
	_, err = h.c.GetHostedZone(ctx, &r53.GetHostedZoneInput{Id: aws.String(id)})
	var missing *types.NoSuchHostedZone
	if !errors.As(err, &missing) {
		t.Errorf("GetHostedZone after delete: %v, want NoSuchHostedZone", err)
	}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestChangeResourceRecordSetsValidation(t *testing.T) {
	h := newHarness(t, Options{Propagation: -1})
	zone := h.zone(t, "example.test")
	other := h.zone(t, "other.test")
	if _, err := h.change(zone,
		create(a("www.example.test", 60, "127.0.0.1")),
		create(weighted("app.example.test", "blue", 90, "127.0.0.2")),
		create(a("cname.example.test", 60, "127.0.0.9")),
	); err != nil {
		t.Fatalf("setup: %v", err)
	}
	cname := &types.ResourceRecordSet{Name: aws.String("cname.example.test"), Type: types.RRTypeCname, TTL: aws.Int64(60),
		ResourceRecords: []types.ResourceRecord{{Value: aws.String("www.example.test")}}}
	noTTL := &types.ResourceRecordSet{Name: aws.String("x.example.test"), Type: types.RRTypeA, ResourceRecords: []types.ResourceRecord{{Value: aws.String("127.0.0.1")}}}
	noID := a("y.example.test", 60, "127.0.0.1")
	noID.Weight = aws.Int64(1)
	tooHeavy := weighted("z.example.test", "z", 256, "127.0.0.1")
	alias := &types.ResourceRecordSet{Name: aws.String("alias.example.test"), Type: types.RRTypeA,
		AliasTarget: &types.AliasTarget{HostedZoneId: aws.String(zone), DNSName: aws.String("nothing.example.test"), EvaluateTargetHealth: true}}
	withCheck := weighted("app.example.test", "green", 10, "127.0.0.3")
	withCheck.HealthCheckId = aws.String("00000000-0000-0000-0000-000000000000")
	tests := []struct {
		name     string
		zone     string
		changes  []types.Change
		code     string
		messages []string // substrings of InvalidChangeBatch's messages, in order
	}{
		{"create existing", zone, []types.Change{create(a("www.example.test", 60, "127.0.0.1"))}, "InvalidChangeBatch",
			[]string{"Tried to create resource record set [name='www.example.test.', type='A'] but it already exists"}},
		{"delete missing", zone, []types.Change{{Action: types.ChangeActionDelete, ResourceRecordSet: a("nope.example.test", 60, "127.0.0.1")}}, "InvalidChangeBatch",
			[]string{"Tried to delete resource record set [name='nope.example.test.', type='A'] but it was not found"}},
		{"delete other values", zone, []types.Change{{Action: types.ChangeActionDelete, ResourceRecordSet: a("www.example.test", 300, "127.0.0.1")}}, "InvalidChangeBatch",
			[]string{"but the values provided do not match the current values"}},
		{"outside the zone", zone, []types.Change{create(a("www.other.test", 60, "127.0.0.1"))}, "InvalidChangeBatch",
			[]string{"RRSet with DNS name www.other.test. is not permitted in zone example.test."}},
		{"bad IPv4 and CNAME conflict together", zone, []types.Change{create(a("v.example.test", 60, "300.1.1.1")), {Action: types.ChangeActionUpsert, ResourceRecordSet: cname}}, "InvalidChangeBatch",
			[]string{"ARRDATAIllegalIPv4Address", "RRSet of type CNAME with DNS name cname.example.test. is not permitted as it conflicts"}},
		{"simple beside weighted", zone, []types.Change{create(a("app.example.test", 60, "127.0.0.1"))}, "InvalidChangeBatch",
			[]string{"cannot be created as weighted sets exist"}},
		{"alias to nothing", zone, []types.Change{create(alias)}, "InvalidChangeBatch", []string{"but that target was not found"}},
		{"unknown health check", zone, []types.Change{create(withCheck)}, "InvalidChangeBatch", []string{"The health check with ID 00000000-0000-0000-0000-000000000000 does not exist"}},
		{"delete the SOA", other, []types.Change{{Action: types.ChangeActionDelete, ResourceRecordSet: soaSet(t, h, other)}}, "InvalidChangeBatch", []string{"exactly one SOA"}},
		{"no TTL", zone, []types.Change{create(noTTL)}, "InvalidInput", nil},
		{"weight without set identifier", zone, []types.Change{create(noID)}, "InvalidInput", nil},
		{"weight above 255", zone, []types.Change{create(tooHeavy)}, "InvalidInput", nil},
		{"no such zone", "ZNOTHERE", []types.Change{create(a("www.example.test", 60, "127.0.0.1"))}, "NoSuchHostedZone", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.change(tt.zone, tt.changes...)
			if code := apiCode(err); code != tt.code {
				t.Fatalf("error %v (code %q), want %s", err, code, tt.code)
			}
			if tt.messages == nil {
				return
			}
			var batch *types.InvalidChangeBatch
			if !errors.As(err, &batch) {
				t.Fatalf("error %T, want *types.InvalidChangeBatch", err)
			}
			if len(batch.Messages) != len(tt.messages) {
				t.Fatalf("Messages = %q, want %d", batch.Messages, len(tt.messages))
			}
			for i, m := range tt.messages {
				if !strings.Contains(batch.Messages[i], m) {
					t.Errorf("Messages[%d] = %q, want it to contain %q", i, batch.Messages[i], m)
				}
			}
		})
	}
	// A rejected batch changed nothing: the CNAME was not upserted.
	list, err := h.c.ListResourceRecordSets(context.Background(), &r53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zone), StartRecordName: aws.String("cname.example.test"), StartRecordType: types.RRTypeA, MaxItems: aws.Int32(1)})
	if err != nil || len(list.ResourceRecordSets) != 1 || list.ResourceRecordSets[0].Type != types.RRTypeA {
		t.Fatalf("ListResourceRecordSets(cname) = %+v, %v; want the A record untouched", list, err)
	}
}

// soaSet returns the zone's SOA record set as ListResourceRecordSets shows it.
func soaSet(t *testing.T, h *harness, zone string) *types.ResourceRecordSet {
	t.Helper()
	out, err := h.c.ListResourceRecordSets(context.Background(), &r53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zone)})
	if err != nil {
		t.Fatalf("ListResourceRecordSets: %v", err)
	}
	for _, s := range out.ResourceRecordSets {
		if s.Type == types.RRTypeSoa {
			return &s
		}
	}
	t.Fatal("no SOA record set")
	return nil
}

func TestListResourceRecordSetsPages(t *testing.T) {
	h := newHarness(t, Options{Propagation: -1})
	zone := h.zone(t, "example.test")
	if _, err := h.change(zone,
		create(weighted("app.example.test", "green", 10, "127.0.0.3")),
		create(weighted("app.example.test", "blue", 90, "127.0.0.2")),
		create(a("b.example.test", 30, "127.0.0.4")),
	); err != nil {
		t.Fatalf("ChangeResourceRecordSets: %v", err)
	}
	var got []string
	p := r53.NewListResourceRecordSetsPaginator(h.c, &r53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zone), MaxItems: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("NextPage: %v", err)
		}
		for _, s := range out.ResourceRecordSets {
			got = append(got, aws.ToString(s.Name)+" "+string(s.Type)+" "+aws.ToString(s.SetIdentifier))
		}
	}
	want := []string{"example.test. NS ", "example.test. SOA ", "app.example.test. A blue", "app.example.test. A green", "b.example.test. A "}
	if !slices.Equal(got, want) {
		t.Errorf("record sets = %q, want %q", got, want)
	}
}

func TestGetChangePropagates(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	h := newHarness(t, Options{Propagation: 60 * time.Second, Second: 100 * time.Millisecond, Now: clk.now})
	zone := h.zone(t, "example.test")
	ctx := context.Background()
	out, err := h.change(zone, create(weighted("app.example.test", "blue", 100, "127.0.0.2")))
	if err != nil {
		t.Fatalf("ChangeResourceRecordSets: %v", err)
	}
	if out.ChangeInfo.Status != types.ChangeStatusPending || !strings.HasPrefix(aws.ToString(out.ChangeInfo.Id), "/change/C") {
		t.Fatalf("ChangeInfo = %+v, want PENDING /change/C...", out.ChangeInfo)
	}
	if got := h.fake.Resolve("app.example.test", 1); len(got.Records) != 0 {
		t.Errorf("while PENDING the name servers answer %v, want nothing yet", got.Records)
	}
	clk.advance(5900 * time.Millisecond) // 59 AWS seconds at 100 ms each
	get, err := h.c.GetChange(ctx, &r53.GetChangeInput{Id: out.ChangeInfo.Id})
	if err != nil || get.ChangeInfo.Status != types.ChangeStatusPending {
		t.Fatalf("GetChange at 59 s = %+v, %v; want PENDING", get, err)
	}
	clk.advance(100 * time.Millisecond)
	get, err = h.c.GetChange(ctx, &r53.GetChangeInput{Id: out.ChangeInfo.Id})
	if err != nil || get.ChangeInfo.Status != types.ChangeStatusInsync {
		t.Fatalf("GetChange at 60 s = %+v, %v; want INSYNC", get, err)
	}
	if got := h.fake.Resolve("app.example.test", 1); len(got.Records) != 1 {
		t.Errorf("once INSYNC the name servers answer %v, want the record", got.Records)
	}
	_, err = h.c.GetChange(ctx, &r53.GetChangeInput{Id: aws.String("/change/CNOTHERE")})
	var missing *types.NoSuchChange
	if !errors.As(err, &missing) {
		t.Errorf("GetChange(unknown) = %v, want NoSuchChange", err)
	}
}

func TestTestDNSAnswerAndComment(t *testing.T) {
	h := newHarness(t, Options{Propagation: -1})
	zone := h.zone(t, "example.test")
	ctx := context.Background()
	if _, err := h.change(zone, create(weighted("app.example.test", "blue", 1, "127.0.0.2")), create(weighted("app.example.test", "green", 0, "127.0.0.3"))); err != nil {
		t.Fatal(err)
	}
	out, err := h.c.TestDNSAnswer(ctx, &r53.TestDNSAnswerInput{HostedZoneId: aws.String(zone), RecordName: aws.String("app.example.test"), RecordType: types.RRTypeA})
	if err != nil || aws.ToString(out.ResponseCode) != "NOERROR" || !slices.Equal(out.RecordData, []string{"127.0.0.2"}) || aws.ToString(out.Protocol) != "UDP" {
		t.Errorf("TestDNSAnswer = %+v, %v; want NOERROR [127.0.0.2]", out, err)
	}
	out, err = h.c.TestDNSAnswer(ctx, &r53.TestDNSAnswerInput{HostedZoneId: aws.String(zone), RecordName: aws.String("nothing.example.test"), RecordType: types.RRTypeA})
	if err != nil || aws.ToString(out.ResponseCode) != "NXDOMAIN" || len(out.RecordData) != 0 {
		t.Errorf("TestDNSAnswer(nothing) = %+v, %v; want NXDOMAIN", out, err)
	}
	up, err := h.c.UpdateHostedZoneComment(ctx, &r53.UpdateHostedZoneCommentInput{Id: aws.String(zone), Comment: aws.String("blue/green")})
	if err != nil || aws.ToString(up.HostedZone.Config.Comment) != "blue/green" {
		t.Errorf("UpdateHostedZoneComment = %+v, %v", up, err)
	}
}
