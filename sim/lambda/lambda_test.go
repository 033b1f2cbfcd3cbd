package lambda

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/ecs"
	"github.com/meshsim/meshsim/sim/events"
)

// answer posts body as the answer to the invocation announced on the bus.
func answer(t *testing.T, bus *events.Bus, url, body string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for e := range bus.Subscribe(ctx, 0) {
		if e.Type != contract.EventHookInvoked {
			continue
		}
		resp, err := http.Post(url+contract.HookPathPrefix+e.Detail[contract.DetailInvocationID], "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	t.Fatal("no invocation was published")
	return nil
}

func TestRunHook(t *testing.T) {
	inv := ecs.HookInvocation{Service: "movie", Stage: "PRODUCTION_TRAFFIC_SHIFT", TargetARN: "arn:aws:lambda:us-east-1:000000000000:function:gate",
		ProductionTrafficWeights: map[string]float64{"rev-1": 90, "rev-2": 10}}
	tests := []struct {
		name   string
		body   string
		status int
		want   ecs.HookResult
	}{
		{"succeeded", `{"hookStatus":"SUCCEEDED","reason":"fine"}`, http.StatusOK, ecs.HookResult{Status: ecs.HookSucceeded, Reason: "fine"}},
		{"failed", `{"hookStatus":"FAILED","reason":"5xx 3%"}`, http.StatusOK, ecs.HookResult{Status: ecs.HookFailed, Reason: "5xx 3%"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bus := events.NewBus(0)
			fns := New(bus, 5*time.Second)
			srv := httptest.NewServer(fns)
			defer srv.Close()
			got := make(chan ecs.HookResult, 1)
			go func() {
				r, err := fns.RunHook(context.Background(), inv)
				if err != nil {
					t.Error(err)
				}
				got <- r
			}()
			if resp := answer(t, bus, srv.URL, tc.body); resp.StatusCode != tc.status {
				t.Errorf("answer: HTTP %d", resp.StatusCode)
			}
			if r := <-got; r != tc.want {
				t.Errorf("result %+v, want %+v", r, tc.want)
			}
		})
	}
}

func TestRunHookUnanswered(t *testing.T) {
	fns := New(events.NewBus(0), 50*time.Millisecond)
	r, err := fns.RunHook(context.Background(), ecs.HookInvocation{TargetARN: "fn"})
	if err != nil || r.Status != ecs.HookFailed || !strings.Contains(r.Reason, "did not answer") {
		t.Errorf("unanswered: %+v, %v", r, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fns = New(events.NewBus(0), time.Minute)
	if _, err := fns.RunHook(ctx, ecs.HookInvocation{}); err == nil {
		t.Error("cancelled: no error")
	}
}

func TestAnswerErrors(t *testing.T) {
	srv := httptest.NewServer(New(events.NewBus(0), time.Second))
	defer srv.Close()
	tests := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{http.MethodPost, contract.HookPathPrefix + "nope", `{"hookStatus":"SUCCEEDED"}`, http.StatusNotFound, "ResourceNotFoundException"},
		{http.MethodPost, contract.HookPathPrefix + "x", `{"hookStatus":"MAYBE"}`, http.StatusBadRequest, "BadRequestException"},
		{http.MethodPost, contract.HookPathPrefix + "x", `{`, http.StatusBadRequest, "BadRequestException"},
		{http.MethodGet, contract.HookPathPrefix + "x", ``, http.StatusMethodNotAllowed, "BadRequestException"},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("X-Amzn-Errortype") != tc.code {
			t.Errorf("%s %s %s: HTTP %d %s, want %d %s", tc.method, tc.path, tc.body, resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), tc.status, tc.code)
		}
	}
}
