package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
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
