package route53

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/miekg/dns"

	"github.com/meshsim/meshsim/sim/poll/polltest"
)

// query asks the server one question with a real DNS client.
func query(t *testing.T, addr, name string, qtype uint16, tcp bool) *dns.Msg {
	t.Helper()
	c := &dns.Client{Timeout: 5 * time.Second}
	if tcp {
		c.Net = "tcp"
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	resp, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("query %s %s: %v", name, dns.TypeToString[qtype], err)
	}
	return resp
}

func serveDNS(t *testing.T, f *Fake) string {
	t.Helper()
	s, err := f.ServeDNS("127.0.0.1:0")
	if err != nil {
		t.Fatalf("ServeDNS: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Addr
}

func TestDNSAnswers(t *testing.T) {
	h := newHarness(t, Options{Propagation: -1})
	zone := h.zone(t, "example.test")
	aliasTo := &types.ResourceRecordSet{Name: aws.String("alias.example.test"), Type: types.RRTypeA,
		AliasTarget: &types.AliasTarget{HostedZoneId: aws.String(zone), DNSName: aws.String("www.example.test"), EvaluateTargetHealth: false}}
	cname := &types.ResourceRecordSet{Name: aws.String("c.example.test"), Type: types.RRTypeCname, TTL: aws.Int64(30),
		ResourceRecords: []types.ResourceRecord{{Value: aws.String("www.example.test")}}}
	if _, err := h.change(zone,
		create(a("www.example.test", 120, "127.0.0.1", "127.0.0.2")),
		create(a("deep.under.example.test", 60, "127.0.0.3")),
		create(cname),
	); err != nil {
		t.Fatalf("ChangeResourceRecordSets: %v", err)
	}
	if _, err := h.change(zone, create(aliasTo)); err != nil {
		t.Fatalf("alias: %v", err)
	}
	addr := serveDNS(t, h.fake)
	tests := []struct {
		name    string
		qname   string
		qtype   uint16
		rcode   int
		answers []string // "NAME TTL TYPE VALUE", in any order
		soa     bool
	}{
		{"A with its TTL", "www.example.test", dns.TypeA, dns.RcodeSuccess, []string{"www.example.test. 120 A 127.0.0.1", "www.example.test. 120 A 127.0.0.2"}, false},
		{"case-insensitive", "WWW.Example.TEST", dns.TypeA, dns.RcodeSuccess, []string{"www.example.test. 120 A 127.0.0.1", "www.example.test. 120 A 127.0.0.2"}, false},
		{"alias takes the target's records and TTL", "alias.example.test", dns.TypeA, dns.RcodeSuccess, []string{"alias.example.test. 120 A 127.0.0.1", "alias.example.test. 120 A 127.0.0.2"}, false},
		{"CNAME chased in the zone", "c.example.test", dns.TypeA, dns.RcodeSuccess, []string{"c.example.test. 30 CNAME www.example.test.", "www.example.test. 120 A 127.0.0.1", "www.example.test. 120 A 127.0.0.2"}, false},
		{"NODATA: the name has no AAAA", "www.example.test", dns.TypeAAAA, dns.RcodeSuccess, nil, true},
		{"NODATA: an empty non-terminal", "under.example.test", dns.TypeA, dns.RcodeSuccess, nil, true},
		{"NXDOMAIN", "nothing.example.test", dns.TypeA, dns.RcodeNameError, nil, true},
		{"no zone of ours: REFUSED", "www.elsewhere.test", dns.TypeA, dns.RcodeRefused, nil, false},
	}
	for _, tt := range tests {
		for _, tcp := range []bool{false, true} {
			name := tt.name + map[bool]string{false: " (udp)", true: " (tcp)"}[tcp]
			t.Run(name, func(t *testing.T) {
				resp := query(t, addr, tt.qname, tt.qtype, tcp)
				if resp.Rcode != tt.rcode {
					t.Fatalf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tt.rcode])
				}
				if resp.Authoritative != (tt.rcode != dns.RcodeRefused) {
					t.Errorf("AA = %v", resp.Authoritative)
				}
				got := map[string]bool{}
				for _, rr := range resp.Answer {
					got[rrString(rr)] = true
				}
				if len(got) != len(tt.answers) {
					t.Errorf("answers %v, want %q", got, tt.answers)
				}
				for _, w := range tt.answers {
					if !got[w] {
						t.Errorf("answers %v, want %q among them", got, w)
					}
				}
				if hasSOA := len(resp.Ns) == 1 && resp.Ns[0].Header().Rrtype == dns.TypeSOA; hasSOA != tt.soa {
					t.Errorf("authority %v, want SOA: %v", resp.Ns, tt.soa)
				} else if tt.soa && resp.Ns[0].Header().Ttl != 900 {
					t.Errorf("SOA TTL %d, want 900 (the negative-caching TTL)", resp.Ns[0].Header().Ttl)
				}
			})
		}
	}
}

// rrString is "NAME TTL TYPE VALUE".
func rrString(rr dns.RR) string {
	f := strings.Fields(rr.String())
	return strings.Join(append([]string{f[0], f[1]}, f[3:]...), " ")
}

func TestDNSWeighted(t *testing.T) {
	h := newHarness(t, Options{Propagation: -1})
	zone := h.zone(t, "example.test")
	if _, err := h.change(zone,
		create(weighted("app.example.test", "blue", 90, "127.0.0.2")),
		create(weighted("app.example.test", "green", 10, "127.0.0.3")),
		create(weighted("zero.example.test", "a", 0, "127.0.0.4")),
		create(weighted("zero.example.test", "b", 0, "127.0.0.5")),
		create(weighted("mixed.example.test", "a", 0, "127.0.0.6")),
		create(weighted("mixed.example.test", "b", 1, "127.0.0.7")),
	); err != nil {
		t.Fatalf("ChangeResourceRecordSets: %v", err)
	}
	addr := serveDNS(t, h.fake)
	const n = 2000
	count := func(name string) map[string]int {
		got := map[string]int{}
		for range n {
			resp := query(t, addr, name, dns.TypeA, false)
			if len(resp.Answer) != 1 || resp.Answer[0].Header().Ttl != 60 {
				t.Fatalf("answer %v, want one A record with TTL 60 (one weighted set per query)", resp.Answer)
			}
			got[resp.Answer[0].(*dns.A).A.String()]++
		}
		return got
	}
	// 90/10 over 2000 queries: σ = √(2000·0.9·0.1) ≈ 13.4; allow 4σ.
	if got := count("app.example.test"); got["127.0.0.3"] < 200-54 || got["127.0.0.3"] > 200+54 || got["127.0.0.2"]+got["127.0.0.3"] != n {
		t.Errorf("90/10 split: %v", got)
	}
	// All weights 0: an equal chance each (σ ≈ 22).
	if got := count("zero.example.test"); got["127.0.0.4"] < 1000-90 || got["127.0.0.4"] > 1000+90 {
		t.Errorf("0/0 split: %v", got)
	}
	// Weight 0 beside weight 1: never the 0.
	if got := count("mixed.example.test"); got["127.0.0.6"] != 0 {
		t.Errorf("0/1 split: %v, want none to the weight-0 set", got)
	}
	// Changing the weights changes the next answers (no propagation here).
	if _, err := h.change(zone,
		types.Change{Action: types.ChangeActionUpsert, ResourceRecordSet: weighted("app.example.test", "blue", 0, "127.0.0.2")},
		types.Change{Action: types.ChangeActionUpsert, ResourceRecordSet: weighted("app.example.test", "green", 100, "127.0.0.3")},
	); err != nil {
		t.Fatalf("UPSERT: %v", err)
	}
	if got := count("app.example.test"); got["127.0.0.3"] != n {
		t.Errorf("0/100 split: %v", got)
	}
}

// TestHealthChecksAndFailover probes a real HTTP server that turns
// unhealthy and healthy again: the health check's status follows after
// FailureThreshold probes, GetHealthCheckStatus reports the probes, and
// the failover record answers the secondary while the primary's check
// fails.
func TestHealthChecksAndFailover(t *testing.T) {
	var failing atomic.Bool
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" || failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer app.Close()
	host, port, _ := net.SplitHostPort(app.Listener.Addr().String())
	portN := int32(0)
	for _, c := range port {
		portN = portN*10 + int32(c-'0')
	}

	// 10 s intervals at 5 ms per AWS second: a probe every 50 ms.
	h := newHarness(t, Options{Propagation: -1, Second: 5 * time.Millisecond})
	ctx := context.Background()
	hc, err := h.c.CreateHealthCheck(ctx, &r53.CreateHealthCheckInput{CallerReference: aws.String("primary"), HealthCheckConfig: &types.HealthCheckConfig{
		Type: types.HealthCheckTypeHttp, IPAddress: aws.String(host), Port: aws.Int32(portN), ResourcePath: aws.String("/health"),
		RequestInterval: aws.Int32(10), FailureThreshold: aws.Int32(2),
	}})
	if err != nil {
		t.Fatalf("CreateHealthCheck: %v", err)
	}
	id := hc.HealthCheck.Id
	if cfg := hc.HealthCheck.HealthCheckConfig; aws.ToInt32(cfg.FailureThreshold) != 2 || aws.ToBool(cfg.Inverted) {
		t.Errorf("HealthCheckConfig = %+v", cfg)
	}
	zone := h.zone(t, "example.test")
	primary := a("app.example.test", 60, "127.0.0.2")
	primary.SetIdentifier, primary.Failover, primary.HealthCheckId = aws.String("primary"), types.ResourceRecordSetFailoverPrimary, id
	secondary := a("app.example.test", 60, "127.0.0.3")
	secondary.SetIdentifier, secondary.Failover = aws.String("secondary"), types.ResourceRecordSetFailoverSecondary
	if _, err := h.change(zone, create(primary), create(secondary)); err != nil {
		t.Fatalf("failover records: %v", err)
	}
	addr := serveDNS(t, h.fake)
	answer := func() string {
		resp := query(t, addr, "app.example.test", dns.TypeA, false)
		if len(resp.Answer) != 1 {
			t.Fatalf("answer %v, want one record", resp.Answer)
		}
		return resp.Answer[0].(*dns.A).A.String()
	}
	status := func() string {
		out, err := h.c.GetHealthCheckStatus(ctx, &r53.GetHealthCheckStatusInput{HealthCheckId: id})
		if err != nil {
			t.Fatalf("GetHealthCheckStatus: %v", err)
		}
		if len(out.HealthCheckObservations) == 0 {
			return ""
		}
		return aws.ToString(out.HealthCheckObservations[0].StatusReport.Status)
	}
	polltest.Eventually(t, "a successful probe", func() bool { return strings.HasPrefix(status(), "Success: HTTP Status Code 200") })
	if got := answer(); got != "127.0.0.2" {
		t.Errorf("healthy primary: answer %s, want the primary 127.0.0.2", got)
	}
	failing.Store(true)
	polltest.Eventually(t, "failover to the secondary", func() bool { return answer() == "127.0.0.3" })
	if s := status(); !strings.HasPrefix(s, "Failure: HTTP Status Code 503") {
		t.Errorf("status %q, want a 503 failure", s)
	}
	failing.Store(false)
	polltest.Eventually(t, "back to the primary", func() bool { return answer() == "127.0.0.2" })

	_, err = h.c.DeleteHealthCheck(ctx, &r53.DeleteHealthCheckInput{HealthCheckId: id})
	if apiCode(err) != "HealthCheckInUse" {
		t.Errorf("DeleteHealthCheck while referenced: %v, want HealthCheckInUse", err)
	}
	if _, err := h.change(zone, types.Change{Action: types.ChangeActionDelete, ResourceRecordSet: primary}); err != nil {
		t.Fatalf("DELETE primary: %v", err)
	}
	if _, err := h.c.DeleteHealthCheck(ctx, &r53.DeleteHealthCheckInput{HealthCheckId: id}); err != nil {
		t.Fatalf("DeleteHealthCheck: %v", err)
	}
	list, err := h.c.ListHealthChecks(ctx, &r53.ListHealthChecksInput{})
	if err != nil || len(list.HealthChecks) != 0 {
		t.Errorf("ListHealthChecks after delete = %+v, %v", list, err)
	}
	_, err = h.c.GetHealthCheck(ctx, &r53.GetHealthCheckInput{HealthCheckId: id})
	var missing *types.NoSuchHealthCheck
	if !errors.As(err, &missing) {
		t.Errorf("GetHealthCheck after delete: %v, want NoSuchHealthCheck", err)
	}
}

func TestCreateHealthCheckValidation(t *testing.T) {
	h := newHarness(t, Options{Propagation: -1})
	ctx := context.Background()
	tests := []struct {
		name string
		ref  string
		cfg  *types.HealthCheckConfig
		code string
	}{
		{"no target", "a", &types.HealthCheckConfig{Type: types.HealthCheckTypeHttp}, "InvalidInput"},
		{"bad interval", "b", &types.HealthCheckConfig{Type: types.HealthCheckTypeHttp, IPAddress: aws.String("127.0.0.1"), RequestInterval: aws.Int32(15)}, "InvalidInput"},
		{"threshold 11", "c", &types.HealthCheckConfig{Type: types.HealthCheckTypeTcp, IPAddress: aws.String("127.0.0.1"), Port: aws.Int32(80), FailureThreshold: aws.Int32(11)}, "InvalidInput"},
		{"string match without a string", "d", &types.HealthCheckConfig{Type: types.HealthCheckTypeHttpStrMatch, IPAddress: aws.String("127.0.0.1")}, "InvalidInput"},
		{"calculated is not simulated", "e", &types.HealthCheckConfig{Type: types.HealthCheckTypeCalculated}, "InvalidInput"},
		{"ok", "f", &types.HealthCheckConfig{Type: types.HealthCheckTypeTcp, IPAddress: aws.String("127.0.0.1"), Port: aws.Int32(9)}, ""},
		{"same reference, same config", "f", &types.HealthCheckConfig{Type: types.HealthCheckTypeTcp, IPAddress: aws.String("127.0.0.1"), Port: aws.Int32(9)}, ""},
		{"same reference, other config", "f", &types.HealthCheckConfig{Type: types.HealthCheckTypeTcp, IPAddress: aws.String("127.0.0.1"), Port: aws.Int32(10)}, "HealthCheckAlreadyExists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.c.CreateHealthCheck(ctx, &r53.CreateHealthCheckInput{CallerReference: aws.String(tt.ref), HealthCheckConfig: tt.cfg})
			if code := apiCode(err); code != tt.code {
				t.Errorf("CreateHealthCheck: %v (code %q), want %q", err, code, tt.code)
			}
		})
	}
}
