package loadgen

import (
	"context"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/meshsim/meshsim/sim/awsclient"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/endpoint"
	"github.com/meshsim/meshsim/sim/events"
	"github.com/meshsim/meshsim/sim/route53"
	"github.com/meshsim/meshsim/sim/sampleapp"
)

// dnsWorld is two versions of a sample service on two loopback addresses
// with the same port, named by a weighted Route 53 record served by the
// fake's name server.
type dnsWorld struct {
	port     string
	dns      string
	r53      *r53.Client
	zone     string
	ips      map[string]string // version → address
	versions map[string]string // address → version
}

func newDNSWorld(t *testing.T, ttl int64) *dnsWorld {
	t.Helper()
	w := &dnsWorld{ips: map[string]string{"blue": "127.0.0.2", "green": "127.0.0.3"}, versions: map[string]string{}}
	// The two versions listen on one port, as tasks of one service do.
	for attempt := 0; ; attempt++ {
		port, ok := w.startApps(t)
		if ok {
			w.port = port
			break
		}
		if attempt == 10 {
			t.Fatal("no port free on both 127.0.0.2 and 127.0.0.3")
		}
	}
	bus := events.NewBus(0)
	f := route53.New(route53.Options{Bus: bus, Propagation: -1})
	ep := endpoint.New(bus)
	ep.HandlePath(route53.PathPrefix, f)
	srv := httptest.NewServer(ep)
	dnsSrv, err := f.ServeDNS("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dnsSrv.Close()
		srv.Close()
		f.Close()
	})
	w.dns, w.r53 = dnsSrv.Addr, awsclient.New(srv.URL, "us-east-1").Route53
	out, err := w.r53.CreateHostedZone(context.Background(), &r53.CreateHostedZoneInput{Name: aws.String("example.test"), CallerReference: aws.String("t")})
	if err != nil {
		t.Fatal(err)
	}
	w.zone = aws.ToString(out.HostedZone.Id)
	w.setWeights(t, ttl, map[string]int64{"blue": 100, "green": 0})
	return w
}

// startApps starts blue and green on one port; ok is false when the port
// was taken on the second address.
func (w *dnsWorld) startApps(t *testing.T) (string, bool) {
	first, err := sampleapp.Start(context.Background(), sampleapp.Config{Service: "app", Version: "blue", Addr: "127.0.0.2:0"})
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(first.Addr())
	second, err := sampleapp.Start(context.Background(), sampleapp.Config{Service: "app", Version: "green", Addr: "127.0.0.3:" + port})
	if err != nil {
		first.Close()
		return "", false
	}
	t.Cleanup(func() {
		first.Close()
		second.Close()
	})
	for v, ip := range w.ips {
		w.versions[ip] = v
	}
	return port, true
}

func (w *dnsWorld) setWeights(t *testing.T, ttl int64, weights map[string]int64) {
	t.Helper()
	var changes []types.Change
	for _, v := range []string{"blue", "green"} {
		changes = append(changes, types.Change{Action: types.ChangeActionUpsert, ResourceRecordSet: &types.ResourceRecordSet{
			Name: aws.String("app.example.test"), Type: types.RRTypeA, SetIdentifier: aws.String(v), Weight: aws.Int64(weights[v]),
			TTL: aws.Int64(ttl), ResourceRecords: []types.ResourceRecord{{Value: aws.String(w.ips[v])}},
		}})
	}
	if _, err := w.r53.ChangeResourceRecordSets(context.Background(), &r53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(w.zone), ChangeBatch: &types.ChangeBatch{Changes: changes},
	}); err != nil {
		t.Fatal(err)
	}
}

func (w *dnsWorld) url() string { return "http://app.example.test:" + w.port + "/" }

// fakeNow is a settable clock for a population.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeNow) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeNow) advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// TestClientsCacheAndKeepAlive follows one client through a weighted DNS
// swap from blue to green on a fake clock: the cached answer holds for
// the TTL (scaled), a kept-alive connection keeps going to blue after
// that until its lifetime ends, and its first request after that
// resolves again and connects to green. Cache-forever never moves; no cache moves at once.
func TestClientsCacheAndKeepAlive(t *testing.T) {
	w := newDNSWorld(t, 60)
	tests := []struct {
		name string
		cfg  Clients
		// after the swap: the version served at +0, at +TTL with the
		// connection kept, and after the connection's lifetime.
		want [3]string
	}{
		{"ttl, keep-alive 10s", Clients{Cache: CacheTTL, ConnLifetime: 10 * time.Second}, [3]string{"blue", "blue", "green"}},
		{"ttl, no keep-alive", Clients{Cache: CacheTTL, NoKeepAlive: true}, [3]string{"blue", "green", "green"}},
		{"forever", Clients{Cache: CacheForever, NoKeepAlive: true}, [3]string{"blue", "blue", "blue"}},
		{"no cache", Clients{Cache: CacheNone, NoKeepAlive: true}, [3]string{"green", "green", "green"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.setWeights(t, 60, map[string]int64{"blue": 100, "green": 0})
			clk := &fakeNow{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			cfg := tt.cfg
			cfg.Count, cfg.DNSServer, cfg.TimeScale = 1, w.dns, 10 // TTL 60 s lasts 6 s
			cfg, err := cfg.normalize()
			if err != nil {
				t.Fatal(err)
			}
			pop := newPopulation(cfg, &http.Transport{Proxy: nil})
			pop.now = clk.now
			defer pop.closeIdle()
			get := func() string {
				t.Helper()
				req, _ := http.NewRequest(http.MethodGet, w.url(), nil)
				req.Header.Set(ClientHeader, "0")
				resp, err := pop.RoundTrip(req)
				if err != nil {
					t.Fatalf("GET: %v", err)
				}
				_, _ = io.Copy(io.Discard, resp.Body) // read to the end, so the connection can be kept
				resp.Body.Close()
				return resp.Header.Get(contract.HeaderVersion)
			}
			if v := get(); v != "blue" {
				t.Fatalf("before the swap: %s, want blue", v)
			}
			w.setWeights(t, 60, map[string]int64{"blue": 0, "green": 100})
			var got [3]string
			got[0] = get()
			clk.advance(6*time.Second + time.Millisecond) // the scaled TTL has passed
			got[1] = get()
			clk.advance(10 * time.Second) // the connection's lifetime has passed
			got[2] = get()
			if got != tt.want {
				t.Errorf("served %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRunHTTPClients sends load from a population through vegeta: every
// client sends its share, the answers follow the weights, and nothing
// fails.
func TestRunHTTPClients(t *testing.T) {
	w := newDNSWorld(t, 60)
	w.setWeights(t, 60, map[string]int64{"blue": 50, "green": 50})
	sink := &memSink{}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	sum, err := RunHTTP(ctx, HTTPConfig{
		Target: w.url(), Method: http.MethodGet, Rate: 100, Timeout: 2 * time.Second,
		Clients: &Clients{Count: 40, DNSServer: w.dns, Cache: CacheNone, NoKeepAlive: true},
	}, nil, sink)
	if err != nil {
		t.Fatal(err)
	}
	obs := sink.sorted()
	versions := map[string]int{}
	for _, o := range obs {
		if !o.OK() && o.ErrorKind != "canceled" {
			t.Fatalf("request %d failed: %s %s", o.Seq, o.ErrorKind, o.Error)
		}
		versions[o.Version]++
	}
	n := float64(versions["blue"] + versions["green"])
	// 50/50 per query: within 4σ.
	if sigma := 100 * math.Sqrt(0.25/n); n < 50 || math.Abs(float64(versions["blue"])/n*100-50) > 4*sigma {
		t.Errorf("versions %v over %d requests (summary %+v)", versions, len(obs), sum)
	}
}

func TestClientsNormalize(t *testing.T) {
	tests := []struct {
		cfg  Clients
		want string
	}{
		{Clients{DNSServer: "127.0.0.1:53"}, ""},
		{Clients{}, "no DNS server"},
		{Clients{DNSServer: "nohost"}, "DNS server"},
		{Clients{DNSServer: "127.0.0.1:53", Cache: "sometimes"}, "cache mode"},
		{Clients{DNSServer: "127.0.0.1:53", Count: -1}, "clients -1"},
	}
	for i, tt := range tests {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			got, err := tt.cfg.normalize()
			if tt.want == "" {
				if err != nil || got.Count != 100 || got.Cache != CacheTTL {
					t.Errorf("normalize = %+v, %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("normalize error %v, want %q", err, tt.want)
			}
		})
	}
}
