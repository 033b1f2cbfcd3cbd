package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/sim/contract"
)

type collect struct {
	mu  sync.Mutex
	obs []rundir.Observation
}

func (c *collect) Observe(o rundir.Observation) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.obs = append(c.obs, o)
	return nil
}

// With Targets, each request goes where Pick says, with that target's
// Host header.
func TestRunHTTPTargets(t *testing.T) {
	serve := func(version string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Meshsim-Version", version+"@"+r.Host)
		}))
	}
	a, b := serve("a"), serve("b")
	defer a.Close()
	defer b.Close()
	var n int
	var mu sync.Mutex
	pick := func() int { // every third request to b
		mu.Lock()
		defer mu.Unlock()
		n++
		if n%3 == 0 {
			return 1
		}
		return 0
	}
	var sink collect
	_, err := RunHTTP(context.Background(), HTTPConfig{
		Targets: []HTTPTarget{{URL: a.URL, Host: "a.example"}, {URL: b.URL}},
		Pick:    pick, Method: http.MethodGet, Rate: 300, Duration: 500 * time.Millisecond,
	}, nil, &sink)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, o := range sink.obs {
		got[o.Version]++
	}
	bHost := b.Listener.Addr().String()
	if len(sink.obs) < 100 || got["a@a.example"]+got["b@"+bHost] != len(sink.obs) || got["b@"+bHost]*3 < len(sink.obs)-3 || got["b@"+bHost]*3 > len(sink.obs)+3 {
		t.Errorf("%d requests split %v; want two thirds to a (Host a.example), one third to b", len(sink.obs), got)
	}
	if _, err := RunHTTP(context.Background(), HTTPConfig{Targets: []HTTPTarget{{URL: a.URL}}, Rate: 1}, nil, &sink); err == nil {
		t.Error("targets without Pick: no error")
	}
}

// With Attribute, a response that names no version (a user's application)
// is put down to the version behind the endpoint the proxy reported; one
// that names its version keeps it.
func TestRunHTTPAttribute(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 3 {
		case 0:
			w.Header().Set(contract.HeaderUpstreamEndpoint, "127.0.1.1:8080")
		case 1:
			w.Header().Set(contract.HeaderUpstreamEndpoint, "127.0.1.2:8080")
			w.Header().Set(contract.HeaderUpstreamCluster, "cds_egress_m_api-v2")
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.Header().Set(contract.HeaderUpstreamEndpoint, "127.0.1.1:8080")
			w.Header().Set(contract.HeaderVersion, "self")
		}
	}))
	defer srv.Close()
	versions := map[string][2]string{"127.0.1.1:8080": {"v1", "t1"}, "127.0.1.2:8080": {"v2", "t2"}}
	var sink collect
	_, err := RunHTTP(context.Background(), HTTPConfig{
		Target: srv.URL, Method: "GET", Rate: 200, Duration: 300 * time.Millisecond,
		Attribute: func(ep string) (string, string) { v := versions[ep]; return v[0], v[1] },
	}, nil, &sink)
	if err != nil {
		t.Fatal(err)
	}
	if len(sink.obs) < 30 {
		t.Fatalf("%d observations", len(sink.obs))
	}
	for _, o := range sink.obs {
		want := versions[o.Endpoint]
		if o.Version == "self" {
			want[0] = "self"
		}
		if o.Version != want[0] || o.Task != want[1] || (o.Status == 503) != (o.Cluster == "cds_egress_m_api-v2") {
			t.Errorf("observation from %s (cluster %q, status %d): version %q task %q, want %q %q", o.Endpoint, o.Cluster, o.Status, o.Version, o.Task, want[0], want[1])
		}
	}
}
