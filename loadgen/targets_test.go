package loadgen

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

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

// The user's traffic: requests from a vegeta targets file (parsed by
// vegeta's targeter), sent with their methods, headers and bodies to the
// target's host, in proportion to their weights.
func TestRunHTTPUserTraffic(t *testing.T) {
	body := filepath.Join(t.TempDir(), "order.json")
	if err := os.WriteFile(body, []byte(`{"item":42}`), 0o644); err != nil {
		t.Fatal(err)
	}
	file := "GET http://api.example.com/movies?page=2\nAccept: application/json\n\n" +
		"POST http://api.example.com/orders\nContent-Type: application/json\n@" + body + "\n"
	reqs, err := RequestsFromTargets(vegeta.NewHTTPTargeter(strings.NewReader(file), nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 2 || reqs[0].Path != "/movies?page=2" || reqs[1].Method != "POST" || string(reqs[1].Body) != `{"item":42}` {
		t.Fatalf("requests %+v", reqs)
	}
	reqs[0].Weight = 3 // three GETs to one POST

	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		key := r.Method + " " + r.URL.RequestURI() + " " + r.Header.Get("Accept") + r.Header.Get("Content-Type") + " " + string(b)
		mu.Lock()
		seen[key]++
		mu.Unlock()
	}))
	defer srv.Close()
	var sink collect
	if _, err := RunHTTP(context.Background(), HTTPConfig{Target: srv.URL + "/", Rate: 400, Duration: time.Second, Requests: reqs}, nil, &sink); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	get, post := seen["GET /movies?page=2 application/json "], seen[`POST /orders application/json {"item":42}`]
	n := get + post
	if n != len(sink.obs) || n < 100 {
		t.Fatalf("server saw %v; %d observations", seen, len(sink.obs))
	}
	sigma := math.Sqrt(float64(n) * 0.75 * 0.25)
	if d := math.Abs(float64(get) - 0.75*float64(n)); d > 3*sigma {
		t.Errorf("%d GETs of %d, want 75%% ± %.0f", get, n, 3*sigma)
	}
}
