package endpoint

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/events"
)

func TestRouting(t *testing.T) {
	bus := events.NewBus(0)
	ep := New(bus)
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })
	}
	ep.HandleTarget("AmazonEC2ContainerServiceV20141113", named("ecs"))
	ep.HandlePath("/v20190125/", named("appmesh"))
	srv := httptest.NewServer(ep)
	defer srv.Close()

	tests := []struct {
		method, path, target, host string
		status                     int
		body, errType              string
	}{
		{"POST", "/", "AmazonEC2ContainerServiceV20141113.ListClusters", "", 200, "ecs", ""},
		// The SDK's "data-" host prefix (or any Host) reaches the same place.
		{"POST", "/", "AmazonEC2ContainerServiceV20141113.ListClusters", "data-localhost", 200, "ecs", ""},
		{"PUT", "/v20190125/meshes", "", "", 200, "appmesh", ""},
		{"POST", "/", "Nope_2020.Op", "", 400, "", "UnknownOperationException"},
		{"GET", "/elsewhere", "", "", 404, "", "UnknownOperationException"},
		{"GET", "/_meshsim/health", "", "", 200, `{"status":"running"}`, ""},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		if tc.target != "" {
			req.Header.Set("X-Amz-Target", tc.target)
		}
		if tc.host != "" {
			req.Host = tc.host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.body != "" && string(b) != tc.body) || resp.Header.Get("X-Amzn-Errortype") != tc.errType {
			t.Errorf("%s %s %s: %d %q %s", tc.method, tc.path, tc.target, resp.StatusCode, b, resp.Header.Get("X-Amzn-Errortype"))
		}
	}
}

// The event stream replays what happened after ?since= and then follows.
func TestEventStream(t *testing.T) {
	bus := events.NewBus(0)
	for _, typ := range []contract.EventType{"a", "b", "c"} {
		bus.Emit(events.Event{Source: "test", Type: typ})
	}
	srv := httptest.NewServer(New(bus))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/_meshsim/events?since=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	var got []contract.EventType
	for len(got) < 3 && sc.Scan() {
		var e events.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Type)
		if len(got) == 2 {
			bus.Emit(events.Event{Source: "test", Type: "d"}) // a live one
		}
	}
	if !slices.Equal(got, []contract.EventType{"b", "c", "d"}) {
		t.Errorf("events %v, want b c (replayed) then d (live)", got)
	}

	bad, err := http.Get(srv.URL + "/_meshsim/events?since=x")
	if err != nil {
		t.Fatal(err)
	}
	bad.Body.Close()
	if bad.StatusCode != http.StatusBadRequest {
		t.Errorf("since=x: HTTP %d", bad.StatusCode)
	}
}

// Query protocol requests carry no X-Amz-Target: they reach the service
// their SigV4 credential scope names.
func TestQueryRouting(t *testing.T) {
	ep := New(events.NewBus(0))
	ep.HandleService("elasticloadbalancing", "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			io.WriteString(w, "elb "+string(b))
		}))
	srv := httptest.NewServer(ep)
	defer srv.Close()
	tests := []struct {
		service string
		status  int
		body    string
	}{
		{"elasticloadbalancing", 200, "elb Action=DescribeLoadBalancers&Version=2015-12-01"},
		{"monitoring", 404, ""}, // no such service here
	}
	for _, tc := range tests {
		req, _ := http.NewRequest("POST", srv.URL+"/", strings.NewReader("Action=DescribeLoadBalancers&Version=2015-12-01"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/"+tc.service+"/aws4_request, SignedHeaders=host, Signature=x")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.body != "" && string(b) != tc.body) {
			t.Errorf("%s: %d %q", tc.service, resp.StatusCode, b)
		}
	}
}
