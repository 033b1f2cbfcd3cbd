package route53

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// fuzzOps are the requests the fuzz target sends, by index: a method and
// a path, where Z stands for the hosted zone every input starts with.
var fuzzOps = []struct{ method, path string }{
	{http.MethodPost, "/2013-04-01/hostedzone/Z/rrset"},
	{http.MethodGet, "/2013-04-01/hostedzone/Z/rrset?name=www.example.test&type=A&maxitems=1"},
	{http.MethodPost, "/2013-04-01/hostedzone"},
	{http.MethodPost, "/2013-04-01/healthcheck"},
	{http.MethodPost, "/2013-04-01/hostedzone/Z"},
	{http.MethodGet, "/2013-04-01/testdnsanswer?hostedzoneid=Z&recordname=www.example.test&recordtype=A"},
}

// fuzzSeeds are valid and malformed bodies of each request.
var fuzzSeeds = []struct {
	op   int
	body string
}{
	{0, `<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Changes><Change><Action>CREATE</Action><ResourceRecordSet><Name>www.example.test</Name><Type>A</Type><SetIdentifier>blue</SetIdentifier><Weight>90</Weight><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>127.0.0.2</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`},
	{0, `<ChangeResourceRecordSetsRequest><ChangeBatch><Changes><Change><Action>UPSERT</Action><ResourceRecordSet><Name>a.example.test</Name><Type>A</Type><AliasTarget><HostedZoneId>Z</HostedZoneId><DNSName>www.example.test</DNSName><EvaluateTargetHealth>true</EvaluateTargetHealth></AliasTarget></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`},
	{0, `<ChangeResourceRecordSetsRequest><ChangeBatch><Changes><Change><Action>CREATE</Action><ResourceRecordSet><Name>c.example.test</Name><Type>CNAME</Type><TTL>5</TTL><ResourceRecords><ResourceRecord><Value>www.example.test</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`},
	{0, `<ChangeResourceRecordSetsRequest><ChangeBatch><Changes><Change><Action>DELETE</Action><ResourceRecordSet><Name>example.test</Name><Type>SOA</Type><TTL>900</TTL></ResourceRecordSet></Change></Changes>`},
	{1, ``},
	{2, `<CreateHostedZoneRequest><Name>sub.example.test</Name><CallerReference>x</CallerReference></CreateHostedZoneRequest>`},
	{3, `<CreateHealthCheckRequest><CallerReference>h</CallerReference><HealthCheckConfig><Type>TCP</Type><IPAddress>127.0.0.1</IPAddress><Port>1</Port></HealthCheckConfig></CreateHealthCheckRequest>`},
	{4, `<UpdateHostedZoneCommentRequest><Comment>c</Comment></UpdateHostedZoneCommentRequest>`},
	{5, ``},
}

// FuzzAPI sends one request of arbitrary body after a hosted zone with a
// weighted record: the fake never answers 5xx or a body that is not XML,
// and still lists the zone's records and answers DNS questions after.
func FuzzAPI(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(uint8(s.op), []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		fake := New(Options{Propagation: -1})
		defer fake.Close()
		send := func(method, path string, body []byte) (int, []byte) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(method, "http://fakes"+path, bytes.NewReader(body))
			fake.ServeHTTP(rec, req)
			out, _ := io.ReadAll(rec.Body)
			if rec.Code >= 500 {
				t.Fatalf("%s %s: HTTP %d %s", method, path, rec.Code, out)
			}
			if err := xml.Unmarshal(out, new(struct{})); err != nil {
				t.Fatalf("%s %s: the answer is not XML (%v): %s", method, path, err, out)
			}
			return rec.Code, out
		}
		status, out := send(http.MethodPost, "/2013-04-01/hostedzone", []byte(`<CreateHostedZoneRequest><Name>example.test</Name><CallerReference>r</CallerReference></CreateHostedZoneRequest>`))
		if status != http.StatusCreated {
			t.Fatalf("CreateHostedZone: HTTP %d %s", status, out)
		}
		var created createHostedZoneResponse
		_ = xml.Unmarshal(out, &created)
		zone := strings.TrimPrefix(created.HostedZone.Id, "/hostedzone/")
		path := func(p string) string { return strings.ReplaceAll(p, "/Z", "/"+zone) }
		send(http.MethodPost, path("/2013-04-01/hostedzone/Z/rrset"), []byte(fuzzSeeds[0].body))

		o := fuzzOps[int(op)%len(fuzzOps)]
		send(o.method, strings.ReplaceAll(path(o.path), "=Z&", "="+zone+"&"), body)

		if status, out := send(http.MethodGet, path("/2013-04-01/hostedzone/Z/rrset"), nil); status != http.StatusOK {
			t.Fatalf("ListResourceRecordSets afterwards: HTTP %d %s", status, out)
		}
		for _, name := range []string{"www.example.test", "a.example.test", "c.example.test", "example.test", "x.sub.example.test"} {
			for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeCNAME, dns.TypeSOA, dns.TypeNS, dns.TypeTXT} {
				fake.Resolve(name, qtype)
			}
		}
	})
}
